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
	// pages hold the unread bytes as Linux's pipe buffers do: one page each, the first
	// partly read (off), the last perhaps not full; each takes one of the capacity's
	// slots. protected by mu
	pages []page
	// readers and writers count open ends; hadWriter tells a FIFO reader apart from EOF
	// before any writer came. protected by mu
	readers, writers int
	capacity         int
	// readOpens and writeOpens count every opening of each kind (Linux's r_counter and
	// w_counter): a FIFO opener waiting for a partner waits for them to move. protected by mu
	readOpens, writeOpens int
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
		p.readOpens++
	}
	if e.write {
		p.writers++
		p.writeOpens++
	}
	e.sawReads, e.sawWrites = p.readOpens, p.writeOpens
	// Whether the opener must wait is decided now, under the lock, as in Linux's
	// fifo_open: a partner present at this moment lets it through even if it closes
	// before the opener looks again.
	e.hadPartner = e.read && p.writers > 0 || e.write && p.readers > 0
	p.mu.Unlock()
	p.queue.Notify(waiter.EventIn | waiter.EventOut)
	return e
}

// Reopen implements vfs.Reopener: a new end of the same pipe.
func (e *End) Reopen(flags int) (vfs.File, error) { return e.p.Open(flags), nil }

// OpenFIFO opens an end of a named pipe (fifo(7)): a non-blocking writer with no reader
// fails with ENXIO. A blocking opener then waits (WaitingForPartner) until the other
// side has been opened.
func (p *Pipe) OpenFIFO(flags int) (*End, error) {
	if flags&unix.O_ACCMODE == unix.O_WRONLY && flags&unix.O_NONBLOCK != 0 {
		p.mu.Lock()
		none := p.readers == 0
		p.mu.Unlock()
		if none {
			return nil, unix.ENXIO
		}
	}
	e := p.Open(flags)
	e.fifo = true
	return e, nil
}

// WaitingForPartner reports whether a FIFO end opened read-only (write-only) still waits
// for a writer (reader) to open the FIFO.
func (e *End) WaitingForPartner() bool {
	if !e.fifo || e.read && e.write || e.hadPartner {
		return false
	}
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.read {
		return p.writers == 0 && p.writeOpens == e.sawWrites
	}
	return p.readers == 0 && p.readOpens == e.sawReads
}

// End is one open end.
type End struct {
	p           *Pipe
	read, write bool
	// fifo: opened by name; sawReads and sawWrites are the pipe's open counters at
	// that moment.
	fifo                bool
	sawReads, sawWrites int
	// hadPartner: the other side was open when this end was opened.
	hadPartner bool
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
	if len(p.pages) == 0 {
		w := p.writers
		p.mu.Unlock()
		if w == 0 {
			return 0, nil
		}
		return 0, unix.EAGAIN
	}
	var n int64
	packet := false
	for _, b := range dst {
		for len(b) > 0 && len(p.pages) > 0 && !packet {
			pg := &p.pages[0]
			c := copy(b, pg.data[pg.off:])
			pg.off += c
			b = b[c:]
			n += int64(c)
			// A packet (O_DIRECT writer) ends the read, and what did not fit is lost.
			if packet = pg.packet; packet || pg.off == len(pg.data) {
				p.pages = p.pages[1:]
			}
		}
	}
	if len(p.pages) == 0 {
		p.pages = nil
	}
	p.mu.Unlock()
	p.queue.Notify(waiter.EventOut)
	return n, nil
}

// page is one pipe buffer: data written into it, off already read.
type page struct {
	data []byte
	off  int
	// packet marks a page written in packet mode: a read takes it whole or drops its rest.
	packet bool
}

const pageSize = 4096

// slotsLocked is the number of pages the capacity allows. Preconditions: p.mu held.
func (p *Pipe) slotsLocked() int { return p.capacity / pageSize }

// unreadLocked is the number of bytes waiting. Preconditions: p.mu held.
func (p *Pipe) unreadLocked() int {
	n := 0
	for _, pg := range p.pages {
		n += len(pg.data) - pg.off
	}
	return n
}

// Write implements pipe_write: the part of the write past a whole number of pages joins
// the last page when it fits there, the rest takes new pages, one slot each; a
// non-blocking writer gets what fitted, or EAGAIN. A write of at most PIPE_BUF bytes is
// never split.
func (e *End) Write(fd *vfs.FileDescription, src [][]byte, _ int64) (int64, error) {
	if !e.write {
		return 0, unix.EBADF
	}
	var all []byte
	for _, b := range src {
		all = append(all, b...)
	}
	p := e.p
	p.mu.Lock()
	if p.readers == 0 {
		p.mu.Unlock()
		return 0, unix.EPIPE
	}
	if len(all) == 0 {
		p.mu.Unlock()
		return 0, nil
	}
	var n int
	// A writer with O_DIRECT writes packets (Linux's packet mode): each page-sized piece
	// of a write is one, never merged with another.
	packets := fd != nil && fd.StatusFlags()&unix.O_DIRECT != 0
	if chars := len(all) % pageSize; chars != 0 && len(p.pages) > 0 && !packets {
		last := &p.pages[len(p.pages)-1]
		if len(last.data)+chars <= pageSize && !last.packet {
			last.data = append(last.data, all[:chars]...)
			n = chars
		}
	}
	for n < len(all) && len(p.pages) < p.slotsLocked() {
		c := min(pageSize, len(all)-n)
		pg := page{data: make([]byte, c, pageSize), packet: packets}
		copy(pg.data, all[n:n+c])
		p.pages = append(p.pages, pg)
		n += c
	}
	p.mu.Unlock()
	if n == 0 {
		return 0, unix.EAGAIN
	}
	p.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	// A partial write: the syscall layer keeps writing the rest when blocking.
	return int64(n), nil
}

// Readiness implements vfs.Pollable.
func (e *End) Readiness(mask uint32) uint32 {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var r uint32
	if e.read {
		if len(p.pages) > 0 {
			r |= waiter.EventIn | waiter.EventRdNorm
		}
		if p.writers == 0 {
			r |= waiter.EventHUp
		}
	}
	if e.write {
		if len(p.pages) < p.slotsLocked() {
			r |= waiter.EventOut | 0x100 // POLLWRNORM
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
	if p.readers == 0 && p.writers == 0 {
		p.pages = nil // a FIFO nobody has open keeps no data
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
	n := e.p.unreadLocked()
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

// MaxSize is /proc/sys/fs/pipe-max-size: the most an unprivileged F_SETPIPE_SZ may ask.
const MaxSize = 1 << 20

// SetSize changes the capacity (F_SETPIPE_SZ) to size rounded up to a power of two
// pages: EINVAL past 2^31, EPERM past MaxSize without CAP_SYS_RESOURCE, EBUSY below what
// the pipe holds.
func (p *Pipe) SetSize(size uint64, privileged bool) (int, error) {
	if size > 1<<31 {
		return 0, unix.EINVAL
	}
	n := int(size)
	if n < PipeBuf {
		n = PipeBuf
	}
	if n > MaxSize && !privileged {
		return 0, unix.EPERM
	}
	c := PipeBuf
	for c < n {
		c *= 2
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pages) > c/pageSize {
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
	if len(p.pages) == 0 {
		if p.writers == 0 {
			return 0, nil
		}
		return 0, unix.EAGAIN
	}
	n := 0
	for _, pg := range p.pages {
		n += copy(dst[n:], pg.data[pg.off:])
	}
	return n, nil
}

// Unread puts b back at the front of the pipe (splice giving back what it could not
// write).
func (e *End) Unread(b []byte) {
	p := e.p
	p.mu.Lock()
	var front []page
	for len(b) > 0 {
		c := min(pageSize, len(b))
		front = append(front, page{data: append([]byte(nil), b[:c]...)})
		b = b[c:]
	}
	p.pages = append(front, p.pages...)
	p.mu.Unlock()
	p.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
}

// Pipe returns the pipe the end belongs to.
func (e *End) Pipe() *Pipe { return e.p }
