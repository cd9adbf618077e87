package pipe

import (
	"os"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Passing a pipe end to a host peer (SCM_RIGHTS on a brokered socket: a Wayland
// clipboard transfer, wl_data_offer.receive, sends the write end of a pipe the app made).
// The peer cannot use the kernel's pipe, so Export makes a host pipe, returns the end the
// peer gets and keeps the other, and a goroutine pumps bytes between the host pipe and the
// kernel's, holding the exported end open until its side is done:
//
//	export the write end: peer writes ─host pipe─▶ pump ─▶ kernel pipe ─▶ app reads
//	export the read end:  app writes ─▶ kernel pipe ─▶ pump ─host pipe─▶ peer reads
//
// End of file travels both ways: the peer closing its end (every copy) ends the write
// pump and releases the exported write end, so the app's reader sees end of file; the
// app's writers all closing ends the read pump, which closes its host write end. A reader
// gone on the far side stops the pump at its next write (EPIPE), as a pipe's writer learns.

// Export returns a host FD (close-on-exec, the caller's: it sends then closes it) that
// stands for fd, one end of a kernel pipe, and starts the pump. An end open for both
// reading and writing (a FIFO opened O_RDWR) has no direction and is refused.
func Export(fd *vfs.FileDescription, e *End) (int, error) {
	if e.read == e.write {
		return -1, unix.EOPNOTSUPP
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, unix.ENFILE
	}
	give, keep := p[1], p[0] // the peer writes, the pump reads
	if e.read {
		give, keep = p[0], p[1]
	}
	// Only the kept end is non-blocking (its own open file description), so the pump
	// waits in Go's poller and the peer's end behaves as an ordinary blocking pipe.
	if err := unix.SetNonblock(keep, true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return -1, unix.ENFILE
	}
	hf := os.NewFile(uintptr(keep), "pipe")
	fd.IncRef()
	if e.write {
		go pumpIn(fd, e, hf)
	} else {
		go pumpOut(fd, e, hf)
	}
	return give, nil
}

// waitFor blocks until the kernel pipe may be ready for mask (or something changed).
func waitFor(e *End, mask uint32) {
	ch := make(chan struct{}, 1)
	w := &waiter.Entry{Mask: mask | waiter.EventHUp | waiter.EventErr, Callback: func(uint32) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}}
	e.EventRegister(w)
	defer e.EventUnregister(w)
	if e.Readiness(mask) != 0 {
		return
	}
	<-ch
}

// pumpIn copies what the host peer writes into the kernel pipe through e, a write end.
func pumpIn(fd *vfs.FileDescription, e *End, hf *os.File) {
	defer fd.DecRef()
	defer hf.Close()
	buf := make([]byte, PipeBuf)
	for {
		n, err := hf.Read(buf)
		for b := buf[:n]; len(b) > 0; {
			m, werr := e.Write(fd, [][]byte{b}, 0)
			if werr == unix.EAGAIN {
				waitFor(e, waiter.EventOut)
				continue
			}
			if werr != nil {
				return // the app's readers are gone: closing hf gives the peer EPIPE
			}
			b = b[m:]
		}
		if err != nil { // io.EOF: every copy of the peer's end is closed
			return
		}
	}
}

// pumpOut copies what the app writes into the kernel pipe, read through e, to the peer.
func pumpOut(fd *vfs.FileDescription, e *End, hf *os.File) {
	defer fd.DecRef()
	defer hf.Close()
	buf := make([]byte, PipeBuf)
	for {
		n, err := e.Read(fd, [][]byte{buf}, 0)
		if err == unix.EAGAIN {
			waitFor(e, waiter.EventIn)
			continue
		}
		if err != nil || n == 0 {
			return // end of file: closing hf tells the peer
		}
		if _, err := hf.Write(buf[:n]); err != nil {
			return // the peer's reader is gone
		}
	}
}
