// Package host wraps host file descriptors that brokers donated to the kernel (gofer-opened
// files, the user's terminal) as vfs files. The kernel never opens host paths: every FD here
// arrived from the launcher or the gofer.
package host

import (
	"github.com/sbx-dev/sbx/kernel/tty"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// File is an open host FD.
type File struct {
	fd     int
	stream bool
	tty    bool
	owned  bool
	// ctl is the sandbox's job-control state of the user's terminal (nil: not a terminal).
	ctl *tty.Control
	// hostOffset: the FD shares its open file description with the host (the user's stdin,
	// stdout, stderr), so I/O uses and moves the host's own offset.
	hostOffset bool
}

var (
	_ vfs.HostFile = (*File)(nil)
	_ vfs.Stream   = (*File)(nil)
	_ vfs.Pollable = (*File)(nil)
)

// New wraps fd. The File owns fd (closes it on Release) when owned is set.
func New(fd int, owned bool) *File {
	f := &File{fd: fd, owned: owned}
	var st unix.Stat_t
	ok := unix.Fstat(fd, &st) == nil
	if ok {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR:
			f.stream = true
		case 0:
			// An anonymous inode (an eventfd, a timerfd a host peer passed: a sound
			// server's wake-ups) has no type and no offset: pread on it is ESPIPE.
			f.stream = true
		}
	}
	if !ok || st.Mode&unix.S_IFMT == unix.S_IFCHR {
		// A terminal is a character device: other files need no ioctl to tell.
		if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			f.tty = true
		}
	}
	return f
}

// NewRegular wraps fd, which the caller knows is a regular file (a gofer file of a
// read-only mount): no stream, no terminal, so nothing to ask the host.
func NewRegular(fd int, owned bool) *File {
	return &File{fd: fd, owned: owned}
}

// NewShared wraps a descriptor inherited from the user (stdio): reads, writes and seeks use
// the host file offset, which the user's shell shares.
func NewShared(fd int) *File {
	f := New(fd, false)
	f.hostOffset = true
	return f
}

// NewSharedOwned is NewShared for a descriptor the File owns (closes on Release): standard
// streams handed in by the launcher for a process started later (an OCI exec).
func NewSharedOwned(fd int) *File {
	f := New(fd, true)
	f.hostOffset = true
	return f
}

// Seek implements vfs.Seeker for shared-offset files.
func (f *File) Seek(fd *vfs.FileDescription, cur, off int64, whence int) (int64, error) {
	if !f.hostOffset {
		var base int64
		switch whence {
		case unix.SEEK_SET:
		case unix.SEEK_CUR:
			base = cur
		case unix.SEEK_END, unix.SEEK_DATA, unix.SEEK_HOLE:
			return unix.Seek(f.fd, off, whence)
		default:
			return 0, unix.EINVAL
		}
		if base+off < 0 {
			return 0, unix.EINVAL
		}
		return base + off, nil
	}
	return unix.Seek(f.fd, off, whence)
}

// Reopen implements vfs.Reopener: a duplicate of the host FD that reads and writes at its
// own offset (a new open file description as far as the sandbox can tell).
func (f *File) Reopen(flags int) (vfs.File, error) {
	nfd, err := unix.FcntlInt(uintptr(f.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return New(nfd, true), nil
}

// SetControl marks the file as the user's terminal, with the sandbox's job-control state.
func (f *File) SetControl(c *tty.Control) {
	if f.tty {
		f.ctl = c
	}
}

// TTY implements tty.Terminal (nil when the file is not the user's terminal).
func (f *File) TTY() *tty.Control { return f.ctl }

// SharedOffset implements vfs.SharedOffset.
func (f *File) SharedOffset() bool { return f.hostOffset && !f.stream }

// HostFD implements vfs.HostFile.
func (f *File) HostFD() int { return f.fd }

// IsStream implements vfs.Stream.
func (f *File) IsStream() bool { return f.stream }

// IsTTY reports whether the FD is a terminal.
func (f *File) IsTTY() bool { return f.tty }

func (f *File) Read(fd *vfs.FileDescription, dst [][]byte, off int64) (int64, error) {
	dst = nonEmpty(dst)
	if len(dst) == 0 {
		return 0, nil
	}
	if f.stream && !nonblocking(f.fd) && !ready(f.fd, unix.POLLIN) {
		return 0, unix.EAGAIN // the caller waits for it interruptibly, never in a host read
	}
	var n int
	var err error
	for {
		if f.stream || f.hostOffset && off < 0 {
			n, err = unix.Readv(f.fd, dst)
		} else {
			n, err = unix.Preadv(f.fd, dst, off)
		}
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return 0, err
	}
	return int64(n), nil
}

func (f *File) Write(fd *vfs.FileDescription, src [][]byte, off int64) (int64, error) {
	src = nonEmpty(src)
	if len(src) == 0 {
		return 0, nil
	}
	if f.stream && !nonblocking(f.fd) && !ready(f.fd, unix.POLLOUT) {
		return 0, unix.EAGAIN
	}
	var n int
	var err error
	for {
		if f.stream {
			n, err = unix.Writev(f.fd, src)
		} else if f.hostOffset && off < 0 {
			// At the shared position; O_APPEND set inside the sandbox appends too.
			var flags int
			if fd != nil && fd.StatusFlags()&unix.O_APPEND != 0 {
				flags = unix.RWF_APPEND
			}
			n, err = unix.Pwritev2(f.fd, src, -1, flags)
		} else if fd != nil && fd.StatusFlags()&unix.O_APPEND != 0 {
			// RWF_APPEND appends whether or not the host FD has O_APPEND (a reopened
			// stdout may not), and leaves the host position alone.
			n, err = unix.Pwritev2(f.fd, src, max(off, 0), unix.RWF_APPEND)
		} else {
			n, err = unix.Pwritev(f.fd, src, off)
		}
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return 0, err
	}
	return int64(n), nil
}

// nonblocking reports whether a host FD's open file description is in non-blocking mode:
// then the host itself answers a read or write that cannot go on at once, with EAGAIN or
// with the error it checks first (an eventfd's EINVAL for a short buffer). The mode is
// looked up each time: a host peer shares the open file description and may change it.
func nonblocking(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_NONBLOCK != 0
}

// ready reports whether a host stream FD (which may be in blocking mode: the user's stdin
// is shared with their shell) can be read or written without blocking the task's thread
// in the host, where no signal could end the wait.
func ready(fd int, ev int16) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: ev}}
	for {
		n, err := unix.Poll(p, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || n > 0 // an error: let the read or write report it
	}
}

func nonEmpty(bs [][]byte) [][]byte {
	out := bs[:0:0]
	for _, b := range bs {
		if len(b) > 0 {
			out = append(out, b)
		}
	}
	return out
}

// ReadAt implements mm.Source for private mappings of host files.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	return vfs.PreadFull(f.fd, p, off)
}

// Sync implements vfs.Syncer.
func (f *File) Sync() error { return unix.Fsync(f.fd) }

// Truncate implements vfs.Truncater.
func (f *File) Truncate(size int64) error { return unix.Ftruncate(f.fd, size) }

// Allocate implements vfs.Allocator.
func (f *File) Allocate(mode uint32, off, length int64) error {
	return unix.Fallocate(f.fd, mode, off, length)
}

// Readiness polls the host FD without blocking.
func (f *File) Readiness(mask uint32) uint32 {
	pfd := []unix.PollFd{{Fd: int32(f.fd), Events: int16(mask)}}
	if n, err := unix.Poll(pfd, 0); err != nil || n == 0 {
		return 0
	}
	return uint32(pfd[0].Revents)
}

// EventRegister is a no-op: host FDs are waited on with a host poll (see HostFD).
func (f *File) EventRegister(*waiter.Entry) {}

// EventUnregister is a no-op.
func (f *File) EventUnregister(*waiter.Entry) {}

// fionread is FIONREAD (== TIOCINQ) from include/uapi/asm-generic/ioctls.h.
const fionread = 0x541B

// Ioctl implements the terminal ioctls the kernel understands, by doing them on the host
// terminal it was given. Anything else is refused: nothing is forwarded blindly.
func (f *File) Ioctl(fd *vfs.FileDescription, mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case fionread:
		n, err := unix.IoctlGetInt(f.fd, fionread)
		if err != nil {
			return 0, err
		}
		b := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	if !f.tty {
		return 0, unix.ENOTTY
	}
	return ttyIoctl(f.fd, mem, cmd, arg)
}

// Release closes an owned FD, synchronously as close(2) is: the host file is released
// (a socket's peer sees the hang-up, a lock is dropped) when it returns.
func (f *File) Release() {
	if f.owned {
		platform.CloseHostFD(f.fd)
	}
}

// TOSTOP reports whether the user's terminal stops background writers.
func (f *File) TOSTOP() bool {
	t, err := unix.IoctlGetTermios(f.fd, unix.TCGETS)
	return err == nil && t.Lflag&unix.TOSTOP != 0
}
