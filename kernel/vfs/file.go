package vfs

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// File is the implementation behind an open file description. Read and Write move data
// between the file and the kernel's views of app memory; off is the description's offset
// for seekable files and is ignored by streams.
type File interface {
	Read(fd *FileDescription, dst [][]byte, off int64) (int64, error)
	Write(fd *FileDescription, src [][]byte, off int64) (int64, error)
	Release()
}

// Optional File capabilities.
type (
	// Stream marks files without offsets (pipes, terminals, sockets): lseek gives ESPIPE.
	Stream interface{ IsStream() bool }
	// Pollable files report readiness and wake waiters.
	Pollable interface {
		Readiness(mask uint32) uint32
		EventRegister(e *waiter.Entry)
		EventUnregister(e *waiter.Entry)
	}
	// HostFile files are backed by a host FD donated by a broker; the kernel polls it on the
	// host. It is never a path the kernel opened.
	HostFile interface{ HostFD() int }
	// HostBacked files are a host object the kernel holds an FD for (a host-backed memfd or
	// /dev/shm file, a file received from a host peer, a brokered socket, a host file the
	// gofer opened read-only): SCM_RIGHTS on a brokered host socket hands that FD itself to
	// the peer. ok is false when the file must not leave the sandbox as it is (a socket
	// whose peer is inside, a file whose writes the kernel accounts). The FD stays the
	// file's; the caller neither closes nor keeps it.
	HostBacked interface{ HostBackingFD() (fd int, ok bool) }
	// Mappable files can back mmap.
	Mappable interface{ MapSource() mm.Source }
	// Ioctler files handle ioctls beyond the generic ones.
	Ioctler interface {
		Ioctl(fd *FileDescription, mem Memory, cmd uint32, arg uint64) (uint64, error)
	}
	// Syncer files have something to flush.
	Syncer interface{ Sync() error }
	// SharedOffset files keep their position in a host open file description that others
	// share (the user's stdio): I/O at the file position passes off < 0 to Read and Write,
	// and lseek and the position are the host's.
	SharedOffset interface{ SharedOffset() bool }
	// Truncater files change their size themselves (ftruncate on a donated host FD works
	// whatever became of the file's name).
	Truncater interface{ Truncate(size int64) error }
	// Allocator files support fallocate.
	Allocator interface {
		Allocate(mode uint32, off, length int64) error
	}
)

// HostBacking is a HostFile whose host FD changes over its life (a socket that connects on
// the private loopback trades the broker's socket for a socketpair end; one that binds
// there becomes a kernel object): gen changes whenever fd does, and the old FD is closed
// then, so a watcher registered on it re-registers. fd is -1 while the file is not
// host-backed.
type HostBacking interface {
	HostBacking() (fd int, gen uint64)
}

// HostEventer is a HostFile whose host FD's poll events need adjusting to be the file's
// (a private-loopback TCP socket is a host socketpair end).
type HostEventer interface {
	HostEvents(revents uint32) uint32
}

// HostEvents returns the poll events revents of f's host FD as f reports them.
func HostEvents(f File, revents uint32) uint32 {
	if h, ok := f.(HostEventer); ok {
		return h.HostEvents(revents)
	}
	return revents
}

// HostPollState returns the host FD to poll for f, if it is host-backed right now, with the
// generation of that backing (0 for files whose FD never changes).
func HostPollState(f File) (fd int, gen uint64, ok bool) {
	if h, ok := f.(HostBacking); ok {
		fd, gen := h.HostBacking()
		return fd, gen, fd >= 0
	}
	fd, ok = HostPollFD(f)
	return fd, 0, ok
}

// HostPollFD returns the host FD to poll for f, if f is host-backed right now (a socket
// becomes host-backed when it connects; a listening socket is a kernel object).
func HostPollFD(f File) (int, bool) {
	if h, ok := f.(HostFile); ok {
		if fd := h.HostFD(); fd >= 0 {
			return fd, true
		}
	}
	return -1, false
}

// Memory is app memory as an ioctl handler sees it.
type Memory interface {
	CopyIn(addr uint64, dst []byte) (int, error)
	CopyOut(addr uint64, src []byte) (int, error)
}

// FileDescription is an open file description: what open(2) creates and dup(2) shares.
type FileDescription struct {
	refs atomic.Int64
	impl File
	vd   VirtualDentry
	// name is the /proc/PID/fd link text of anonymous files ("pipe:[12]").
	name string
	// anonInode is the inode of an anonymous file that has one (memfd).
	anonInode Inode
	// ident is the inode number and owner of a numbered anonymous file (pipe, socket).
	ident *AnonIdent

	statusFlags atomic.Uint32 // O_APPEND, O_NONBLOCK, ... and the access mode

	// async is the O_ASYNC state (fcntl F_SETOWN, F_SETSIG, fasync.go).
	async asyncState

	mu sync.Mutex
	// off is the file offset. protected by mu
	off int64
	// dirents is a snapshot taken by the first getdents after open or rewind. protected by mu
	dirents []Dirent
	// direntsMtime, direntsCtime, direntsRemovals are the directory's times and its
	// dentry's removals when dirents was taken: a later getdents that finds them moved
	// merges a fresh listing in. protected by mu
	direntsMtime, direntsCtime unix.Timespec
	direntsRemovals            uint64
}

// NewFileDescription wraps impl, opened at vd with flags, holding one reference.
func NewFileDescription(impl File, vd VirtualDentry, flags int) *FileDescription {
	fd := &FileDescription{impl: impl, vd: vd}
	fd.refs.Store(1)
	fd.statusFlags.Store(uint32(flags &^ (unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC | unix.O_CLOEXEC)))
	if vd.Dentry != nil {
		vd.IncRef()
	}
	return fd
}

// NewAnonFileDescription wraps a file with no path (pipes, eventfds, ...).
func NewAnonFileDescription(impl File, name string, flags int) *FileDescription {
	fd := NewFileDescription(impl, VirtualDentry{}, flags)
	fd.name = name
	return fd
}

// AnonIdent is what fstat shows of a numbered anonymous file's inode (pipefs, sockfs).
type AnonIdent struct {
	Ino      uint64
	UID, GID uint32
}

// AnonInodes hands out the inode numbers of one kernel's pipes and sockets (its pipefs
// and sockfs).
type AnonInodes struct{ last atomic.Uint64 }

// New returns a fresh inode number owned by c's filesystem IDs.
func (a *AnonInodes) New(c *Creds) AnonIdent {
	return AnonIdent{Ino: 10000 + a.last.Add(1), UID: c.FSUID, GID: c.FSGID}
}

// NewNumberedFileDescription wraps an anonymous file named kind:[ino] (pipe:[N],
// socket:[N]), whose fstat shows id.
func NewNumberedFileDescription(impl File, kind string, id AnonIdent, flags int) *FileDescription {
	fd := NewAnonFileDescription(impl, kind+":["+strconv.FormatUint(id.Ino, 10)+"]", flags)
	fd.ident = &id
	return fd
}

// AnonOpener inodes stand for an open anonymous file (procfs's /proc/PID/fd/N of a pipe or
// memfd): opening one reopens that file (FileDescription.Reopen) after the usual checks.
type AnonOpener interface {
	OpenAnon(flags int) (*FileDescription, error)
}

// Reopener files can be opened again (through /proc/PID/fd/N): Reopen returns a new File of
// the same object with the access mode of flags, as opening a FIFO gives a new end.
type Reopener interface {
	Reopen(flags int) (File, error)
}

// Reopen opens an anonymous file again through its /proc/PID/fd link: a new open file
// description of the same object (named and numbered like it), with its own offset and
// flags. Pipes give a new end, memfds a new opening of their inode, donated host files a
// duplicate read at its own offset; sockets and anon_inode files cannot be opened (ENXIO).
func (fd *FileDescription) Reopen(flags int) (*FileDescription, error) {
	a, err := fd.StatAnon()
	if err != nil {
		return nil, err
	}
	if a.Type() == unix.S_IFSOCK {
		return nil, unix.ENXIO
	}
	var f File
	switch {
	case fd.anonInode != nil:
		if flags&unix.O_TRUNC != 0 {
			zero := int64(0)
			if err := fd.anonInode.SetAttr(SetAttr{Size: &zero}); err != nil {
				return nil, err
			}
		}
		f, err = fd.anonInode.Open(flags)
	default:
		r, ok := fd.impl.(Reopener)
		if !ok {
			return nil, unix.ENXIO
		}
		f, err = r.Reopen(flags)
		if err == nil && flags&unix.O_TRUNC != 0 && a.Type() == unix.S_IFREG {
			if tr, ok := f.(Truncater); ok {
				if err = tr.Truncate(0); err != nil {
					f.Release()
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	nfd := NewAnonFileDescription(f, fd.name, flags&^(unix.O_TRUNC|unix.O_CREAT|unix.O_EXCL|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_DIRECTORY))
	nfd.anonInode, nfd.ident = fd.anonInode, fd.ident
	return nfd, nil
}

// StatAnon is what fstat shows of an anonymous file (one with no location).
func (fd *FileDescription) StatAnon() (Attr, error) {
	var a Attr
	if in := fd.Inode(); in != nil {
		return in.Stat()
	} else if s, ok := fd.impl.(interface{ Attr() Attr }); ok {
		a = s.Attr()
	} else if h, ok := fd.impl.(HostFile); ok && h.HostFD() >= 0 {
		var st unix.Stat_t
		if err := unix.Fstat(h.HostFD(), &st); err != nil {
			return Attr{}, err
		}
		return Attr{Mode: st.Mode, Ino: st.Ino, Dev: st.Dev, Rdev: st.Rdev, Nlink: st.Nlink, UID: st.Uid, GID: st.Gid,
			Size: st.Size, Blocks: st.Blocks, Blksize: st.Blksize, Atime: st.Atim, Mtime: st.Mtim, Ctime: st.Ctim}, nil
	} else {
		a = Attr{Mode: unix.S_IFIFO | 0o600, Nlink: 1, Blksize: 4096, Dev: 0xc}
	}
	if fd.ident != nil {
		a.Ino, a.UID, a.GID = fd.ident.Ino, fd.ident.UID, fd.ident.GID
	}
	return a, nil
}

// SetInode gives an anonymous file an inode (memfd).
func (fd *FileDescription) SetInode(in Inode) { fd.anonInode = in }

// IncRef takes a reference.
func (fd *FileDescription) IncRef() { fd.refs.Add(1) }

// DecRef drops a reference, releasing the file on the last one.
func (fd *FileDescription) DecRef() {
	if fd.refs.Add(-1) == 0 {
		fd.SetAsyncNotify(nil, 0)
		fd.SetUrgentNotify(nil)
		if fd.vd.Dentry != nil && fd.vd.Mount != nil && !fd.IsPath() {
			if h := fd.vd.Mount.t.closeHook.Load(); h != nil {
				(*h)(fd)
			}
		}
		fd.impl.Release()
		if fd.vd.Dentry != nil {
			fd.vd.DecRef()
		}
	}
}

// Released reports whether the last reference is gone (epoll forgets such files).
func (fd *FileDescription) Released() bool { return fd.refs.Load() <= 0 }

// Impl returns the file implementation.
func (fd *FileDescription) Impl() File { return fd.impl }

// VirtualDentry returns where the file was opened (zero for anonymous files).
func (fd *FileDescription) VirtualDentry() VirtualDentry { return fd.vd }

// Inode returns the file's inode, or nil for anonymous files.
func (fd *FileDescription) Inode() Inode {
	if fd.vd.Dentry == nil {
		return fd.anonInode
	}
	return fd.vd.Dentry.Inode()
}

// Name returns the path shown by /proc/PID/fd.
func (fd *FileDescription) Name() string {
	if fd.vd.Dentry == nil {
		return fd.name
	}
	return fd.vd.Path()
}

// StatusFlags returns the file status flags and access mode.
func (fd *FileDescription) StatusFlags() uint32 { return fd.statusFlags.Load() }

// SetStatusFlags changes the flags F_SETFL may change.
func (fd *FileDescription) SetStatusFlags(flags uint32) {
	const changeable = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME
	for {
		old := fd.statusFlags.Load()
		n := old&^changeable | flags&changeable
		if fd.statusFlags.CompareAndSwap(old, n) {
			return
		}
	}
}

// Readable reports whether the description was opened for reading.
func (fd *FileDescription) Readable() bool {
	acc := fd.statusFlags.Load() & unix.O_ACCMODE
	return acc == unix.O_RDONLY || acc == unix.O_RDWR
}

// Writable reports whether the description was opened for writing.
func (fd *FileDescription) Writable() bool {
	acc := fd.statusFlags.Load() & unix.O_ACCMODE
	return acc == unix.O_WRONLY || acc == unix.O_RDWR
}

// IsPath reports an O_PATH description.
func (fd *FileDescription) IsPath() bool { return fd.statusFlags.Load()&unix.O_PATH != 0 }

// IsStream reports whether the file has no offset.
func (fd *FileDescription) IsStream() bool {
	s, ok := fd.impl.(Stream)
	return ok && s.IsStream()
}

// Read reads at the file offset, advancing it.
func (fd *FileDescription) Read(dst [][]byte) (int64, error) {
	if fd.IsStream() {
		return fd.impl.Read(fd, dst, 0)
	}
	if fd.sharedOffset() {
		return fd.impl.Read(fd, dst, -1)
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if err := verifyArea(dst, fd.off); err != nil {
		return 0, err
	}
	n, err := fd.impl.Read(fd, dst, fd.off)
	fd.off += n
	return n, err
}

// Write writes at the file offset (the end with O_APPEND), advancing it.
func (fd *FileDescription) Write(src [][]byte) (int64, error) {
	if fd.IsStream() {
		return fd.impl.Write(fd, src, 0)
	}
	if fd.sharedOffset() {
		return fd.impl.Write(fd, src, -1)
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.statusFlags.Load()&unix.O_APPEND != 0 {
		if in := fd.Inode(); in != nil {
			if a, err := in.Stat(); err == nil {
				fd.off = a.Size
			}
		}
	}
	if err := verifyArea(src, fd.off); err != nil && fd.statusFlags.Load()&unix.O_APPEND == 0 {
		return 0, err
	}
	n, err := fd.impl.Write(fd, src, fd.off)
	fd.off += n
	return n, err
}

// AppendMode is how one write (pwritev2's RWF_APPEND and RWF_NOAPPEND) treats the end of
// the file, whatever the description's O_APPEND says.
type AppendMode int

const (
	AppendAsOpened AppendMode = iota // as O_APPEND says
	AppendAlways                     // RWF_APPEND: at the end of the file
	AppendNever                      // RWF_NOAPPEND: at the given position even with O_APPEND
)

// withAppend returns a view of fd for one write whose O_APPEND is as mode says: the file's
// Write sees the flag through the description it is given. The view holds no reference
// and is never released; fd itself is unchanged.
func (fd *FileDescription) withAppend(mode AppendMode) *FileDescription {
	flags := fd.statusFlags.Load()
	switch mode {
	case AppendAlways:
		flags |= unix.O_APPEND
	case AppendNever:
		flags &^= unix.O_APPEND
	default:
		return fd
	}
	if flags == fd.statusFlags.Load() {
		return fd
	}
	v := &FileDescription{impl: fd.impl, vd: fd.vd, name: fd.name, anonInode: fd.anonInode, ident: fd.ident}
	v.refs.Store(1)
	v.statusFlags.Store(flags)
	return v
}

// WriteMode is Write (off -1) or PWrite (off >= 0) with mode overriding O_APPEND for this
// write, as pwritev2(2) flags do. An appending write at the file offset leaves the offset
// after what it wrote, as O_APPEND does.
func (fd *FileDescription) WriteMode(src [][]byte, off int64, mode AppendMode) (int64, error) {
	v := fd.withAppend(mode)
	if v == fd {
		if off < 0 {
			return fd.Write(src)
		}
		return fd.PWrite(src, off)
	}
	if fd.IsStream() {
		if off >= 0 {
			return 0, unix.ESPIPE
		}
		return fd.impl.Write(v, src, 0)
	}
	if off >= 0 {
		if err := verifyArea(src, off); err != nil {
			return 0, err
		}
		return fd.impl.Write(v, src, off)
	}
	if fd.sharedOffset() {
		return fd.impl.Write(v, src, -1)
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	appending := v.statusFlags.Load()&unix.O_APPEND != 0
	if appending {
		if in := fd.Inode(); in != nil {
			if a, err := in.Stat(); err == nil {
				fd.off = a.Size
			}
		}
	}
	if err := verifyArea(src, fd.off); err != nil && !appending {
		return 0, err
	}
	n, err := fd.impl.Write(v, src, fd.off)
	fd.off += n
	return n, err
}

// PRead reads at off without moving the offset.
func (fd *FileDescription) PRead(dst [][]byte, off int64) (int64, error) {
	if fd.IsStream() {
		return 0, unix.ESPIPE
	}
	if err := verifyArea(dst, off); err != nil {
		return 0, err
	}
	return fd.impl.Read(fd, dst, off)
}

// PWrite writes at off without moving the offset.
func (fd *FileDescription) PWrite(src [][]byte, off int64) (int64, error) {
	if fd.IsStream() {
		return 0, unix.ESPIPE
	}
	if err := verifyArea(src, off); err != nil {
		return 0, err
	}
	return fd.impl.Write(fd, src, off)
}

// verifyArea is Linux's rw_verify_area: a position and a length that do not reach past
// the largest file offset.
func verifyArea(bufs [][]byte, off int64) error {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	if off < 0 || off+n < 0 {
		return unix.EINVAL
	}
	return nil
}

// NoopSeeker streams accept lseek and stay at offset 0 (Linux's noop_llseek: eventfd,
// timerfd, signalfd, epoll, inotify), where other streams say ESPIPE. pread and pwrite
// are still ESPIPE.
type NoopSeeker interface {
	NoopSeek()
}

// Seeker files implement lseek themselves.
type Seeker interface {
	Seek(fd *FileDescription, cur, off int64, whence int) (int64, error)
}

// Seek implements lseek(2).
func (fd *FileDescription) Seek(off int64, whence int) (int64, error) {
	if fd.IsStream() {
		if _, ok := fd.impl.(NoopSeeker); ok {
			return 0, nil
		}
		return 0, unix.ESPIPE
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if s, ok := fd.impl.(Seeker); ok {
		n, err := s.Seek(fd, fd.off, off, whence)
		if err == nil {
			fd.off = n
		}
		return n, err
	}
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		base = fd.off
	case unix.SEEK_END, unix.SEEK_DATA, unix.SEEK_HOLE:
		if _, isDir := fd.impl.(*DirFile); isDir {
			// A directory's offset counts entries (Linux's dcache_dir_lseek): only
			// SEEK_SET and SEEK_CUR mean anything.
			return 0, unix.EINVAL
		}
		in := fd.Inode()
		if in == nil {
			return 0, unix.ESPIPE
		}
		a, err := in.Stat()
		if err != nil {
			return 0, err
		}
		switch whence {
		case unix.SEEK_END:
			base = a.Size
		case unix.SEEK_DATA:
			if off < 0 || off >= a.Size {
				return 0, unix.ENXIO
			}
			fd.off = off
			return off, nil
		case unix.SEEK_HOLE:
			if off < 0 || off >= a.Size {
				return 0, unix.ENXIO
			}
			fd.off = a.Size
			return a.Size, nil
		}
	default:
		return 0, unix.EINVAL
	}
	n := base + off
	if (off > 0 && n < base) || n < 0 {
		return 0, unix.EINVAL
	}
	if _, isDir := fd.impl.(*DirFile); isDir && n == 0 {
		fd.dirents = nil
	}
	fd.off = n
	return n, nil
}

func (fd *FileDescription) sharedOffset() bool {
	s, ok := fd.impl.(SharedOffset)
	return ok && s.SharedOffset()
}

// Offset returns the current offset.
func (fd *FileDescription) Offset() int64 {
	if fd.sharedOffset() {
		if off, err := fd.Seek(0, unix.SEEK_CUR); err == nil {
			return off
		}
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.off
}

// DirFile is the File of an open directory: reads fail with EISDIR; getdents goes through
// FileDescription.Getdents.
type DirFile struct{}

// NewDirFile returns a directory File.
func NewDirFile() File { return &DirFile{} }

func (*DirFile) Read(*FileDescription, [][]byte, int64) (int64, error)  { return 0, unix.EISDIR }
func (*DirFile) Write(*FileDescription, [][]byte, int64) (int64, error) { return 0, unix.EISDIR }
func (*DirFile) Release()                                               {}

// Getdents returns directory entries from the current position, calling emit for each until
// it returns false (buffer full); the offset advances past the emitted entries. "." and ".."
// come first. A removed directory lists nothing (ENOENT, as Linux's iterate_dir). A listing
// continued after the directory changed drops the names removed since and adds the names
// created since at its end, as Linux's tmpfs cursor does (an entry is never returned twice).
func (fd *FileDescription) Getdents(emit func(d Dirent, nextOff int64) bool) error {
	in := fd.Inode()
	if in == nil {
		return unix.ENOTDIR
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	a, err := in.Stat()
	if err != nil {
		return err
	}
	if a.IsDir() && a.Nlink == 0 {
		return unix.ENOENT
	}
	// Taken before the listing: a removal after it makes the next call merge.
	var removals uint64
	if fd.vd.Dentry != nil {
		removals = fd.vd.Dentry.removals.Load()
	}
	if fd.dirents == nil || fd.off == 0 {
		ents, err := fd.readdirLocked(in)
		if err != nil {
			return err
		}
		pa := a
		if p := fd.vd.Parent(); p.Dentry != nil {
			pa, _ = p.Dentry.Inode().Stat()
		}
		all := make([]Dirent, 0, len(ents)+2)
		all = append(all, Dirent{Name: ".", Ino: a.Ino, Type: unix.DT_DIR}, Dirent{Name: "..", Ino: pa.Ino, Type: unix.DT_DIR})
		fd.dirents = append(all, ents...)
		fd.direntsMtime, fd.direntsCtime, fd.direntsRemovals = a.Mtime, a.Ctime, removals
	} else if a.Mtime != fd.direntsMtime || a.Ctime != fd.direntsCtime || removals != fd.direntsRemovals {
		ents, err := fd.readdirLocked(in)
		if err != nil {
			return err
		}
		fd.mergeDirentsLocked(ents)
		fd.direntsMtime, fd.direntsCtime, fd.direntsRemovals = a.Mtime, a.Ctime, removals
	}
	for fd.off < int64(len(fd.dirents)) {
		if !emit(fd.dirents[fd.off], fd.off+1) {
			return nil
		}
		fd.off++
	}
	return nil
}

// readdirLocked lists in, priming the dentry cache where the filesystem gives attributes
// with the names. Preconditions: fd.mu held.
func (fd *FileDescription) readdirLocked(in Inode) ([]Dirent, error) {
	if pr, ok := in.(PlusReader); ok {
		ents, kids, err := pr.ReaddirPlus()
		if err == nil {
			fd.vd.Dentry.prime(kids)
		}
		return ents, err
	}
	return in.Readdir()
}

// mergeDirentsLocked updates the part of the snapshot not yet returned from the fresh
// listing ents: names gone are dropped, names new (not in the snapshot at all) are added
// after the rest. Preconditions: fd.mu held.
func (fd *FileDescription) mergeDirentsLocked(ents []Dirent) {
	fresh := make(map[string]Dirent, len(ents))
	for _, e := range ents {
		fresh[e.Name] = e
	}
	known := make(map[string]bool, len(fd.dirents))
	for _, e := range fd.dirents {
		known[e.Name] = true
	}
	off := min(fd.off, int64(len(fd.dirents)))
	merged := append([]Dirent(nil), fd.dirents[:off]...)
	for _, e := range fd.dirents[off:] {
		if f, ok := fresh[e.Name]; ok || e.Name == "." || e.Name == ".." {
			if ok {
				e = f
			}
			merged = append(merged, e)
		}
	}
	for _, e := range ents {
		if !known[e.Name] {
			merged = append(merged, e)
		}
	}
	fd.dirents = merged
}

// FdinfoShower is a file whose /proc/PID/fdinfo entry has lines of its own after the
// common ones (Linux's show_fdinfo).
type FdinfoShower interface {
	Fdinfo() string
}

// PartnerWaiter is a file whose blocking open must wait for something: a FIFO end
// waiting for the other side.
type PartnerWaiter interface {
	WaitingForPartner() bool
}
