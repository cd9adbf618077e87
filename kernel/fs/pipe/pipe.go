// Package pipe implements pipes and FIFOs inside the kernel. Reads and writes never block
// here: an empty or full pipe returns EAGAIN and the kernel's syscall layer waits on the
// pipe's queue unless the description is non-blocking.
package pipe

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Capacity is the default pipe buffer size (16 pages); PIPE_BUF writes are atomic.
const (
	Capacity = 65536
	PipeBuf  = 4096
)

// Pipe is the shared buffer.
type Pipe struct {
	queue waiter.Queue

	mu sync.Mutex
	// buf holds unread bytes. protected by mu
	buf []byte
	// readers and writers count open ends; hadWriter tells a FIFO reader apart from EOF
	// before any writer came. protected by mu
	readers, writers int
	capacity         int
}

// New returns an empty pipe.
func New() *Pipe { return &Pipe{capacity: Capacity} }

// Open returns a new end of the pipe: a reader, a writer, or both (O_RDWR on a FIFO).
func (p *Pipe) Open(flags int) *End {
	e := &End{p: p}
	p.mu.Lock()
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		e.read = true
	case unix.O_WRONLY:
		e.write = true
	default:
		e.read, e.write = true, true
	}
	if e.read {
		p.readers++
	}
	if e.write {
		p.writers++
	}
	p.mu.Unlock()
	p.queue.Notify(waiter.EventIn | waiter.EventOut)
	return e
}

// Reopen implements vfs.Reopener: a new end of the same pipe.
func (e *End) Reopen(flags int) (vfs.File, error) { return e.p.Open(flags), nil }

// End is one open end.
type End struct {
	p           *Pipe
	read, write bool
}

var (
	_ vfs.Stream   = (*End)(nil)
	_ vfs.Pollable = (*End)(nil)
)

// IsStream implements vfs.Stream.
func (*End) IsStream() bool { return true }

func (e *End) Read(fd *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	if !e.read {
		return 0, unix.EBADF
	}
	p := e.p
	p.mu.Lock()
	var want int64
	for _, b := range dst {
		want += int64(len(b))
	}
	if want == 0 {
		p.mu.Unlock()
		return 0, nil
	}
	if len(p.buf) == 0 {
		w := p.writers
		p.mu.Unlock()
		if w == 0 {
			return 0, nil
		}
		return 0, unix.EAGAIN
	}
	var n int64
	for _, b := range dst {
		c := copy(b, p.buf)
		p.buf = p.buf[c:]
		n += int64(c)
		if len(p.buf) == 0 {
			break
		}
	}
	if len(p.buf) == 0 {
		p.buf = nil
	}
	p.mu.Unlock()
	p.queue.Notify(waiter.EventOut)
	return n, nil
}

func (e *End) Write(fd *vfs.FileDescription, src [][]byte, _ int64) (int64, error) {
	if !e.write {
		return 0, unix.EBADF
	}
	p := e.p
	p.mu.Lock()
	if p.readers == 0 {
		p.mu.Unlock()
		return 0, unix.EPIPE
	}
	var want int
	for _, b := range src {
		want += len(b)
	}
	room := p.capacity - len(p.buf)
	if want == 0 {
		p.mu.Unlock()
		return 0, nil
	}
	if room == 0 || (want <= PipeBuf && room < want) {
		p.mu.Unlock()
		return 0, unix.EAGAIN
	}
	var n int64
	for _, b := range src {
		c := min(len(b), room)
		p.buf = append(p.buf, b[:c]...)
		room -= c
		n += int64(c)
		if room == 0 {
			break
		}
	}
	p.mu.Unlock()
	p.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	if n < int64(want) {
		// A partial write: the syscall layer keeps writing the rest when blocking.
		return n, nil
	}
	return n, nil
}

// Readiness implements vfs.Pollable.
func (e *End) Readiness(mask uint32) uint32 {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var r uint32
	if e.read {
		if len(p.buf) > 0 {
			r |= waiter.EventIn | waiter.EventRdNorm
		}
		if p.writers == 0 {
			r |= waiter.EventHUp
		}
	}
	if e.write {
		if p.capacity-len(p.buf) >= PipeBuf || (len(p.buf) < p.capacity && p.capacity < PipeBuf) {
			r |= waiter.EventOut
		}
		if p.readers == 0 {
			r |= waiter.EventErr
		}
	}
	return r & (mask | waiter.EventHUp | waiter.EventErr)
}

// EventRegister implements vfs.Pollable.
func (e *End) EventRegister(w *waiter.Entry) { e.p.queue.EventRegister(w) }

// EventUnregister implements vfs.Pollable.
func (e *End) EventUnregister(w *waiter.Entry) { e.p.queue.EventUnregister(w) }

// Release closes the end.
func (e *End) Release() {
	p := e.p
	p.mu.Lock()
	if e.read {
		p.readers--
	}
	if e.write {
		p.writers--
	}
	p.mu.Unlock()
	p.queue.Notify(waiter.EventIn | waiter.EventOut | waiter.EventHUp | waiter.EventErr)
}

// Ioctl implements FIONREAD.
func (e *End) Ioctl(fd *vfs.FileDescription, mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	if cmd != 0x541B { // FIONREAD
		return 0, unix.ENOTTY
	}
	e.p.mu.Lock()
	n := len(e.p.buf)
	e.p.mu.Unlock()
	b := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
	if _, err := mem.CopyOut(arg, b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Size returns the pipe capacity (F_GETPIPE_SZ).
func (p *Pipe) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.capacity
}

// SetSize changes the capacity (F_SETPIPE_SZ).
func (p *Pipe) SetSize(n int) (int, error) {
	if n < PipeBuf {
		n = PipeBuf
	}
	if n > 1<<20 {
		return 0, unix.EPERM
	}
	c := PipeBuf
	for c < n {
		c *= 2
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > c {
		return 0, unix.EBUSY
	}
	p.capacity = c
	return c, nil
}

// PipeOf returns the pipe behind an end.
func (e *End) PipeOf() *Pipe { return e.p }

// Peek copies up to len(dst) unread bytes without consuming them (tee(2)); EAGAIN when
// the pipe is empty and has writers, 0 at end of file.
func (e *End) Peek(dst []byte) (int, error) {
	if !e.read {
		return 0, unix.EBADF
	}
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		if p.writers == 0 {
			return 0, nil
		}
		return 0, unix.EAGAIN
	}
	return copy(dst, p.buf), nil
}

// Unread puts b back at the front of the pipe (splice giving back what it could not
// write).
func (e *End) Unread(b []byte) {
	p := e.p
	p.mu.Lock()
	p.buf = append(append([]byte(nil), b...), p.buf...)
	p.mu.Unlock()
	p.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
}

// Pipe returns the pipe the end belongs to.
func (e *End) Pipe() *Pipe { return e.p }
