package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/pipe"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// splice(2), tee(2) and vmsplice(2): the kernel moves the bytes itself (there is no page
// sharing between its pipes and files), with Linux's rules on which ends must be pipes.

const (
	spliceMove     = 1
	spliceNonblock = 2
	spliceMore     = 4
	spliceGift     = 8
	spliceAll      = spliceMove | spliceNonblock | spliceMore | spliceGift
)

func isPipe(fd *vfs.FileDescription) bool {
	_, ok := fd.Impl().(*pipe.End)
	return ok
}

// spliceOffset reads an in/out offset argument: none for a pipe (ESPIPE if given).
func spliceOffset(t *kernel.Task, fd *vfs.FileDescription, addr uint64) (int64, bool, error) {
	if addr == 0 {
		return 0, false, nil
	}
	if isPipe(fd) {
		return 0, false, unix.ESPIPE
	}
	v, err := getU64(t, addr)
	if err != nil {
		return 0, false, err
	}
	if int64(v) < 0 {
		return 0, false, unix.EINVAL
	}
	return int64(v), true, nil
}

// Splice implements splice(2).
func Splice(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	length, flags := a[4], a[5]
	if flags&^spliceAll != 0 {
		return 0, unix.EINVAL
	}
	in, out, release, err := copyEnds(t, a[0], a[2])
	if err != nil {
		return 0, err
	}
	defer release()
	if !isPipe(in) && !isPipe(out) {
		return 0, unix.EINVAL
	}
	if out.StatusFlags()&unix.O_APPEND != 0 && !isPipe(out) {
		return 0, unix.EINVAL
	}
	if err := checkFileType(in); err != nil {
		return 0, unix.EINVAL
	}
	inOff, inPos, err := spliceOffset(t, in, a[1])
	if err != nil {
		return 0, err
	}
	outOff, outPos, err := spliceOffset(t, out, a[3])
	if err != nil {
		return 0, err
	}
	if length == 0 {
		return 0, nil
	}
	nonblock := flags&spliceNonblock != 0
	buf := make([]byte, min(length, 1<<16))
	// Read once (blocking on an empty pipe unless non-blocking), then write all of it.
	var n int64
	for {
		if inPos {
			n, err = in.PRead([][]byte{buf}, inOff)
		} else {
			n, err = in.Read([][]byte{buf})
		}
		if err == unix.EAGAIN && !nonblock && in.StatusFlags()&unix.O_NONBLOCK == 0 {
			if werr := t.WaitFile(in, waiter.EventIn, time.Time{}); werr != nil {
				return 0, werr
			}
			continue
		}
		break
	}
	if err != nil || n == 0 {
		return 0, err
	}
	var w uint64
	// RLIMIT_FSIZE cuts a write to a file; what it refuses stays in the input.
	at := int64(-1)
	if outPos {
		at = outOff
	}
	room, err := fsizeRoomLoop(t, out, at, n, true)
	if err != nil {
		room = 0
	}
	if room == 0 {
		// nothing written: err says why
	} else if outPos {
		var m int64
		m, err = out.PWrite([][]byte{buf[:room]}, outOff)
		w = uint64(m)
	} else {
		w, err = doWrite(t, out, [][]byte{buf[:room]}, out.Write)
	}
	if w < uint64(n) && !inPos {
		// Bytes read from a pipe but not written cannot go back: Linux would not have
		// taken them. Keep the stream whole by putting them back in front.
		if e, ok := in.Impl().(*pipe.End); ok {
			e.Unread(buf[w:n])
		} else {
			in.Seek(int64(w)-n, unix.SEEK_CUR)
		}
	}
	if w == 0 && err != nil {
		return 0, err
	}
	if inPos {
		putU64(t, a[1], uint64(inOff)+w)
	}
	if outPos {
		putU64(t, a[3], uint64(outOff)+w)
	}
	return w, nil
}

// Tee implements tee(2): bytes are copied from one pipe to another without being consumed.
func Tee(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	length, flags := a[2], a[3]
	if flags&^spliceAll != 0 {
		return 0, unix.EINVAL
	}
	in, out, release, err := copyEnds(t, a[0], a[1])
	if err != nil {
		return 0, err
	}
	defer release()
	src, ok1 := in.Impl().(*pipe.End)
	dst, ok2 := out.Impl().(*pipe.End)
	if !ok1 || !ok2 || src.Pipe() == dst.Pipe() {
		return 0, unix.EINVAL
	}
	if length == 0 {
		return 0, nil
	}
	buf := make([]byte, min(length, 1<<16))
	for {
		n, err := src.Peek(buf)
		if err == unix.EAGAIN && flags&spliceNonblock == 0 && in.StatusFlags()&unix.O_NONBLOCK == 0 {
			if werr := t.WaitFile(in, waiter.EventIn, time.Time{}); werr != nil {
				return 0, werr
			}
			continue
		}
		if err != nil || n == 0 {
			return 0, err
		}
		m, err := out.Write([][]byte{buf[:n]})
		if m == 0 && err != nil {
			return 0, err
		}
		return uint64(m), nil
	}
}

// Vmsplice implements vmsplice(2): app memory into a pipe's write end (or, on a read end,
// out of the pipe into app memory), copying.
func Vmsplice(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[3]&^spliceAll != 0 {
		return 0, unix.EINVAL
	}
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !isPipe(fd) {
		return 0, unix.EBADF
	}
	iovs, err := readIovecs(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	write := fd.Writable()
	bufs, err := ranges(t, iovs, !write)
	if err != nil {
		return 0, err
	}
	if a[3]&spliceNonblock != 0 {
		// One attempt, no waiting.
		var n int64
		if write {
			n, err = fd.Write(bufs)
		} else {
			n, err = fd.Read(bufs)
		}
		return uint64(n), err
	}
	if write {
		return doWrite(t, fd, bufs, fd.Write)
	}
	return doRead(t, fd, bufs, func() (int64, error) { return fd.Read(bufs) })
}
