package tmpfs

import (
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Host-backed files (kernel/mm/README.md, "Memory shared with host processes").
//
// A memfd's contents live in a host memfd of its own from birth instead of the memory file,
// so that the file can be handed to a host process (a Wayland compositor, a sound server)
// through SCM_RIGHTS on a brokered socket, and both sides see one set of pages: reads,
// writes, ftruncate and fallocate go to the host memfd (pread, pwrite, ...), shared mappings
// map it through the platform (mm.HostSource), private ones copy from it. Seals are kept
// here, where the checks are, and mirrored to the host memfd, so a peer sees them and the
// host enforces them too (a peer cannot shrink a file sealed against shrinking).
type hostBacking struct {
	fd int
	// ident is a range of virtual memory-file offsets, never touched, that names the file's
	// pages in shared mappings (futexes there are keyed by it).
	ident int64
	// views are the kernel's mappings of the memfd, the last the largest (Bytes).
	views [][]byte
}

// maxHostView bounds the kernel's own view of a host-backed file (its address space is
// shared with the memory file's mapping): its accesses beyond are EFAULT.
const maxHostView = 1 << 34

// NewHostFile returns an unnamed regular file backed by a new host memfd named name, or an
// error when the host refuses one (the caller falls back to NewFile).
func (fs *FS) NewHostFile(name string, mode, uid, gid uint32) (*Inode, error) {
	in := fs.NewFile(mode, uid, gid)
	if err := in.backByHost(name); err != nil {
		return nil, err
	}
	return in, nil
}

// backByHost gives new, empty regular file in a host memfd named name.
func (in *Inode) backByHost(name string) error {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err
	}
	ident, err := in.fs.mf.Allocate(maxFileSize)
	if err != nil {
		unix.Close(fd)
		return err
	}
	in.host = &hostBacking{fd: fd, ident: ident}
	in.fs.mf.AddHostFile(fd)
	return nil
}

// HostFD returns the host memfd of a host-backed file.
func (in *Inode) HostFD() (int, bool) {
	if in.host == nil {
		return -1, false
	}
	return in.host.fd, true
}

// hostSizeLocked refreshes the size from the host memfd (a peer may have resized it).
// Preconditions: in.mu held, in.host set.
func (in *Inode) hostSizeLocked() {
	var st unix.Stat_t
	if unix.Fstat(in.host.fd, &st) == nil {
		in.attr.Size = st.Size
	}
}

// hostRead reads from the host memfd into p at off, short at its end.
func (in *Inode) hostRead(p []byte, off int64) (int, error) {
	return vfs.PreadFull(in.host.fd, p, off)
}

// hostWrite writes p to the host memfd at off.
func (in *Inode) hostWrite(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Pwrite(in.host.fd, p[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// retireViewsLocked drops the kernel's mappings of the memfd (retireView). Preconditions:
// the file's mu held.
func (h *hostBacking) retireViewsLocked() {
	for _, v := range h.views {
		retireView(v)
	}
	h.views = nil
}

// hostSeals mirrors seals to the host memfd. A seal the host kernel does not know
// (F_SEAL_EXEC before Linux 6.3) stays the kernel's alone, and so does
// F_SEAL_FUTURE_WRITE: it lets writable mappings made before it live on, which a stub
// started later (a new thread) must still be able to make on the host.
func (in *Inode) hostSeals(s uint32) error {
	if s &^= SealFutureWrite; s == 0 {
		return nil
	}
	if s&SealWrite != 0 {
		// The kernel's own writable view would count as a writable mapping (EBUSY).
		// (F_SEAL_FUTURE_WRITE lets existing writable mappings, the view too, live on.)
		in.host.retireViewsLocked()
	}
	_, err := unix.FcntlInt(uintptr(in.host.fd), unix.F_ADD_SEALS, int(s))
	if err == unix.EINVAL && s&SealExec != 0 {
		_, err = unix.FcntlInt(uintptr(in.host.fd), unix.F_ADD_SEALS, int(s&^SealExec))
	}
	return err
}

// releaseHostLocked closes the host memfd. Preconditions: in.mu held.
func (in *Inode) releaseHostLocked() {
	in.host.retireViewsLocked()
	in.fs.mf.RemoveHostFile(in.host.fd)
	unix.Close(in.host.fd)
	in.fs.mf.Free(in.host.ident, maxFileSize)
	in.host = nil
}

// HostBacked implements mm.HostSource.
func (in *Inode) HostBacked() bool { return in.host != nil }

// MapHost implements mm.HostSource: a shared mapping maps the host memfd itself.
func (in *Inode) MapHost(off, length int64) (int, int64, func(), error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.host == nil {
		return -1, 0, nil, unix.ENODEV
	}
	if off < 0 || length < 0 || length > maxFileSize || off > maxFileSize-length {
		return -1, 0, nil, unix.EINVAL
	}
	in.mapRefs++
	return in.host.fd, in.host.ident + off, func() {
		in.mu.Lock()
		in.mapRefs--
		in.maybeFreeLocked()
		in.mu.Unlock()
	}, nil
}

// Bytes implements mm.HostSource: the kernel's view of [off, off+n) of the file through
// its own mapping of the host memfd (EFAULT past the end of the file, where the app would
// get SIGBUS). Views are made as the file grows and kept until the file goes: a slice
// handed out stays valid.
func (in *Inode) Bytes(off, n int64) ([]byte, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.host == nil {
		return nil, unix.EFAULT
	}
	in.hostSizeLocked()
	if off < 0 || n <= 0 || off+n > in.attr.Size {
		return nil, unix.EFAULT
	}
	h := in.host
	if k := len(h.views) - 1; k < 0 || int64(len(h.views[k])) < off+n {
		size := int64(1 << 20)
		for size < off+n {
			size *= 2
		}
		prot := unix.PROT_READ | unix.PROT_WRITE
		if in.seals&SealWrite != 0 {
			prot = unix.PROT_READ // no mapping of the app's can be writable either
		}
		v, err := unix.Mmap(h.fd, 0, int(min(size, maxHostView)), prot, unix.MAP_SHARED|unix.MAP_NORESERVE)
		if err != nil {
			return nil, unix.EFAULT
		}
		h.views = append(h.views, v)
	}
	v := h.views[len(h.views)-1]
	return v[off : off+n : off+n], nil
}
