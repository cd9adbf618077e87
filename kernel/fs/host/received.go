package host

import (
	"strconv"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Files a host peer passed in (SCM_RIGHTS on a brokered socket: a compositor's keymap
// memfd, a clipboard pipe, a sound server's pool) and files that may be passed out.

var _ vfs.HostBacked = (*File)(nil)

// HostBackingFD implements vfs.HostBacked: a host FD the kernel was given may go back out
// as it is.
func (f *File) HostBackingFD() (int, bool) { return f.fd, true }

// MappableFile is a received host file with contents to map (a memfd, a regular or shm
// file). mmap copies its pages in: MAP_PRIVATE as Linux does, MAP_SHARED only without
// write (a snapshot, which is what a keymap needs); a writable shared mapping, which
// would need the platform to map the host FD itself, is refused with ENODEV.
type MappableFile struct{ *File }

// MapSource implements vfs.Mappable.
func (m *MappableFile) MapSource() mm.Source { return m.File }

// Received wraps a host FD a host peer passed to the app (the FD is the new file's) as a
// description: its access mode is the host open file description's; /proc/PID/fd shows
// pipes and sockets as Linux does and anything else as host:[inode] (its host name is
// the peer's business).
func Received(fd int) *vfs.FileDescription {
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	flags := unix.O_RDWR
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
		flags = fl & (unix.O_ACCMODE | unix.O_APPEND | unix.O_NONBLOCK)
	}
	f := New(fd, true)
	ino := strconv.FormatUint(st.Ino, 10)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return vfs.NewAnonFileDescription(&MappableFile{f}, "host:["+ino+"]", flags)
	case unix.S_IFIFO:
		return vfs.NewAnonFileDescription(f, "pipe:["+ino+"]", flags)
	case unix.S_IFSOCK:
		return vfs.NewAnonFileDescription(f, "socket:["+ino+"]", flags)
	}
	return vfs.NewAnonFileDescription(f, "host:["+ino+"]", flags)
}

// Seals returns the host file's seals (F_GET_SEALS: EINVAL for a file that is no memfd, as
// the peer's kernel says).
func (m *MappableFile) Seals() (uint32, error) {
	v, err := unix.FcntlInt(uintptr(m.fd), unix.F_GET_SEALS, 0)
	return uint32(v), err
}

// AddSeals adds seals to the host file, which its other holders then see too.
func (m *MappableFile) AddSeals(seals uint32) error {
	_, err := unix.FcntlInt(uintptr(m.fd), unix.F_ADD_SEALS, int(seals))
	return err
}
