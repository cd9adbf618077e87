package host

import (
	"strconv"
	"sync"

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
// file): an mm.HostSource, so a MAP_SHARED mapping maps the host file itself through the
// platform (AddressSpace.MapHostFile) and the app and the peer see one set of pages (a
// sound server's memfd pool, a compositor's keymap). Private mappings are copies. The open
// mode and the seals limit shared mappings as Linux does (mmap.go); the host FD stays open
// while a shared mapping of it lives, after the app closed the file.
type MappableFile struct {
	*File
	mf *mm.MemoryFile
	// writable: the host open file description allows writing (the kernel's view of the
	// file is then writable too).
	writable bool

	mu sync.Mutex
	// released: the app's last reference to the file is gone. protected by mu
	released bool
	// mapRefs counts the shared mappings of the file. protected by mu
	mapRefs int
	// ident is a range of virtual memory-file offsets naming the file's pages in shared
	// mappings (futexes there are keyed by it), the same for every received file that is
	// this host file (MemoryFile.HostFileIdent), taken at the first shared mapping; -1
	// before. protected by mu
	ident        int64
	releaseIdent func()
	// counted: the file is memory (a memfd, a tmpfs file), counted in the sandbox's memory
	// (MemoryFile.AddHostFile) while the kernel holds it.
	counted bool
	// views are the kernel's writable mappings of the file, roViews its read-only ones, the
	// last of each the largest (BytesFor); roOnly says the host refused a writable one (a
	// seal). protected by mu
	views, roViews [][]byte
	roOnly         bool
}

// maxHostMap bounds the file offsets a shared mapping of a received file may reach (the
// size of its identity range, virtual).
const maxHostMap = 1 << 40

var _ mm.HostViewSource = (*MappableFile)(nil)

// MapSource implements vfs.Mappable.
func (m *MappableFile) MapSource() mm.Source { return m }

// HostBacked implements mm.HostSource: the file's pages are the host file's.
func (m *MappableFile) HostBacked() bool { return true }

// MapHost implements mm.HostSource.
func (m *MappableFile) MapHost(off, length int64) (int, int64, func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.released && m.mapRefs == 0 || m.mf == nil {
		return -1, 0, nil, unix.ENODEV // (a fork or mremap of a mapping holds a reference)
	}
	if off < 0 || length < 0 || length > maxHostMap || off > maxHostMap-length {
		return -1, 0, nil, unix.EINVAL
	}
	if m.ident < 0 {
		ident, release, err := m.mf.HostFileIdent(m.fd, maxHostMap)
		if err != nil {
			return -1, 0, nil, err
		}
		m.ident, m.releaseIdent = ident, release
	}
	m.mapRefs++
	return m.fd, m.ident + off, func() {
		m.mu.Lock()
		if m.mapRefs--; m.mapRefs == 0 {
			// No app mapping left to copy through: the kernel's writable views go, so
			// that the peer may seal the file against writing (F_SEAL_WRITE is EBUSY while
			// any writable shared mapping exists).
			m.retireViewsLocked()
		}
		m.maybeCloseLocked()
		m.mu.Unlock()
	}, nil
}

// Bytes implements mm.HostSource: the kernel's view of [off, off+n) of the file through its
// own shared mapping of it, writable when it can be (BytesFor).
func (m *MappableFile) Bytes(off, n int64) ([]byte, error) {
	b, err := m.BytesFor(off, n, m.writable)
	if err != nil && m.writable {
		b, err = m.BytesFor(off, n, false)
	}
	return b, err
}

// BytesFor implements mm.HostViewSource: the kernel's view of [off, off+n) of the file
// through its own shared mapping of it (EFAULT past the end of the file, where the app would
// get SIGBUS), writable when write is set. A read of a file open for writing gets a copy
// (pread), so that the kernel holds a mapping of the file, which keeps a peer from sealing
// it with F_SEAL_WRITE, only after it stored into it for the app, and only until the app's
// last shared mapping of it goes. Writable views need the file open for writing and the
// host's consent; a file a peer sealed with F_SEAL_FUTURE_WRITE (or F_SEAL_WRITE) gets
// none, and a store through a mapping made writable before the seal is EFAULT. A file open
// read-only gets read-only views, kept until the file goes; writable views are kept until
// the last shared mapping goes (retireView: a slice handed out stays mapped, to anonymous
// memory once retired).
func (m *MappableFile) BytesFor(off, n int64, write bool) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.released && m.mapRefs == 0 || write && !m.writable {
		return nil, unix.EFAULT
	}
	var st unix.Stat_t
	if unix.Fstat(m.fd, &st) != nil || off < 0 || n <= 0 || off+n > st.Size || off+n > maxHostMap {
		return nil, unix.EFAULT
	}
	if write && !m.roOnly {
		v, err := viewLocked(&m.views, m.fd, off+n, unix.PROT_READ|unix.PROT_WRITE)
		if err == nil {
			return v[off : off+n : off+n], nil
		}
		if err != unix.EPERM && err != unix.EACCES {
			return nil, unix.EFAULT
		}
		m.roOnly = true // sealed by the peer since: never writable again
	}
	if write {
		return nil, unix.EFAULT
	}
	if m.writable {
		// A read from a file open for writing is a copy: a mapping of it, read-only or
		// not, counts on the host as a writable one (the open mode lets it become one)
		// and would keep the peer from sealing the file with F_SEAL_WRITE.
		b := make([]byte, n)
		if k, err := unix.Pread(m.fd, b, off); err != nil || int64(k) != n {
			return nil, unix.EFAULT
		}
		return b, nil
	}
	v, err := viewLocked(&m.roViews, m.fd, off+n, unix.PROT_READ)
	if err != nil {
		return nil, unix.EFAULT
	}
	return v[off : off+n : off+n], nil
}

// viewLocked returns the last of views, after mapping fd anew with prot if it is shorter
// than end. Preconditions: the file's mu held.
func viewLocked(views *[][]byte, fd int, end int64, prot int) ([]byte, error) {
	if k := len(*views) - 1; k >= 0 && int64(len((*views)[k])) >= end {
		return (*views)[k], nil
	}
	size := int64(1 << 20)
	for size < end {
		size *= 2
	}
	v, err := unix.Mmap(fd, 0, int(min(size, maxHostMap)), prot, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	*views = append(*views, v)
	return v, nil
}

// Reopen implements vfs.Reopener (an open of /proc/PID/fd/N): a duplicate of the host FD
// that maps as this file does. The host open file description's access mode is the
// duplicate's too, so asking to write to a file the peer passed read-only is EACCES (the
// kernel has no host path to open it anew with).
func (m *MappableFile) Reopen(flags int) (vfs.File, error) {
	write := flags&unix.O_ACCMODE != unix.O_RDONLY
	if write && !m.writable {
		return nil, unix.EACCES
	}
	f, err := m.File.Reopen(flags)
	if err != nil {
		return nil, err
	}
	return newMappable(f.(*File), m.mf, write), nil
}

// newMappable wraps a host regular file; one in memory (a memfd, a tmpfs or hugetlbfs file:
// a peer's pool the app may grow) counts toward the sandbox's memory while the kernel
// holds it. A file on disk does not: its blocks are not memory. The host answers
// F_GET_SEALS for exactly the files in memory (shmem and hugetlbfs; EINVAL for others).
func newMappable(f *File, mf *mm.MemoryFile, writable bool) *MappableFile {
	m := &MappableFile{File: f, mf: mf, writable: writable, ident: -1}
	if _, err := unix.FcntlInt(uintptr(f.fd), unix.F_GET_SEALS, 0); mf != nil && err == nil {
		mf.AddHostFile(f.fd)
		m.counted = true
	}
	return m
}

// Release implements vfs.File: the host FD is closed once no shared mapping uses it.
func (m *MappableFile) Release() {
	m.mu.Lock()
	m.released = true
	m.maybeCloseLocked()
	m.mu.Unlock()
}

// maybeCloseLocked closes the host FD, the kernel's views and the identity range once
// neither the app's file nor a shared mapping uses them. Preconditions: m.mu held.
func (m *MappableFile) maybeCloseLocked() {
	if !m.released || m.mapRefs > 0 {
		return
	}
	m.retireViewsLocked()
	if m.ident >= 0 {
		m.releaseIdent()
		m.ident, m.releaseIdent = -1, nil
	}
	if m.fd >= 0 {
		if m.counted {
			m.mf.RemoveHostFile(m.fd)
			m.counted = false
		}
		m.File.Release()
		m.fd = -1
	}
}

// retireViewsLocked drops the kernel's views of the file (retireView). Preconditions: m.mu
// held.
func (m *MappableFile) retireViewsLocked() {
	for _, v := range m.views {
		retireView(v)
	}
	m.views = nil
	if m.released {
		for _, v := range m.roViews {
			retireView(v)
		}
		m.roViews = nil
	}
}

// Received wraps a host FD a host peer passed to the app (the FD is the new file's) as a
// description: its access mode is the host open file description's; /proc/PID/fd shows
// pipes, sockets and the anonymous files a peer passes (eventfd, timerfd, signalfd,
// epoll, inotify: anonName) as Linux does and anything else as host:[inode] (its host
// name is the peer's business).
func Received(fd int, mf *mm.MemoryFile) *vfs.FileDescription {
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
		mp := newMappable(f, mf, flags&unix.O_ACCMODE != unix.O_RDONLY)
		return vfs.NewAnonFileDescription(mp, "host:["+ino+"]", flags)
	case unix.S_IFIFO:
		return vfs.NewAnonFileDescription(f, "pipe:["+ino+"]", flags)
	case unix.S_IFSOCK:
		return vfs.NewAnonFileDescription(f, "socket:["+ino+"]", flags)
	}
	if name := anonName(fd, &st); name != "" {
		return vfs.NewAnonFileDescription(f, name, flags)
	}
	return vfs.NewAnonFileDescription(f, "host:["+ino+"]", flags)
}

// anonName names a received file on the host's shared anonymous inode as Linux's
// /proc/PID/fd does ("anon_inode:[eventfd]"), or returns "" for any other file. The
// kernel reads no host /proc, so it asks the file itself, with calls that change nothing
// and that only one kind answers: FIONREAD (TIOCINQ: inotify), timerfd_gettime (timerfd), a write
// from a NULL buffer (EFAULT only from eventfd, which reads the buffer; the others have
// no write), EPOLL_CTL_DEL of a file never added (ENOENT only from an epoll). A file on
// the shared anonymous inode that answers none of them is a signalfd: the other kinds
// using that inode (perf events, BPF objects, KVM, ...) are not what host peers pass.
func anonName(fd int, st *unix.Stat_t) string {
	if st.Mode&unix.S_IFMT != 0 {
		return ""
	}
	ref, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return ""
	}
	defer unix.Close(ref)
	var rst unix.Stat_t
	if unix.Fstat(ref, &rst) != nil || rst.Dev != st.Dev || rst.Ino != st.Ino {
		return "" // not the shared anonymous inode: a pidfd, userfaultfd, io_uring, ...
	}
	if _, err := unix.IoctlGetInt(fd, unix.TIOCINQ); err == nil {
		return "anon_inode:inotify"
	}
	var its unix.ItimerSpec
	if unix.TimerfdGettime(fd, &its) == nil {
		return "anon_inode:[timerfd]"
	}
	if _, _, e := unix.Syscall(unix.SYS_WRITE, uintptr(fd), 0, 8); e == unix.EFAULT {
		return "anon_inode:[eventfd]"
	}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_DEL, ref, nil); err == unix.ENOENT {
		return "anon_inode:[eventpoll]"
	}
	return "anon_inode:[signalfd]"
}

// Seals returns the host file's seals (F_GET_SEALS: EINVAL for a file that is no memfd, as
// the peer's kernel says).
func (m *MappableFile) Seals() (uint32, error) {
	v, err := unix.FcntlInt(uintptr(m.fd), unix.F_GET_SEALS, 0)
	return uint32(v), err
}

// WriteSealed reports whether the host file is sealed against writing (F_SEAL_WRITE or
// F_SEAL_FUTURE_WRITE): no new writable shared mapping (mmap.go).
func (m *MappableFile) WriteSealed() bool {
	v, err := unix.FcntlInt(uintptr(m.fd), unix.F_GET_SEALS, 0)
	return err == nil && v&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0
}

// AddSeals adds seals to the host file, which its other holders then see too. The
// kernel's own writable views go first for F_SEAL_WRITE, which the host refuses while
// any writable shared mapping exists (the app's were checked by fcntl).
func (m *MappableFile) AddSeals(seals uint32) error {
	if seals&unix.F_SEAL_WRITE != 0 {
		m.mu.Lock()
		m.retireViewsLocked()
		m.mu.Unlock()
	}
	_, err := unix.FcntlInt(uintptr(m.fd), unix.F_ADD_SEALS, int(seals))
	return err
}
