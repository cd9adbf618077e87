package gofer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Client is the kernel's side of a gofer connection. It is safe for concurrent use;
// requests are pipelined and replies matched by ID.
type Client struct {
	fd     int
	file   *os.File
	mounts []MountInfo

	wmu sync.Mutex
	// recvMu is held by the caller currently reading replies off the socket (the leader);
	// others wait on their channels and one of them takes over when the leader is done.
	recvMu sync.Mutex
	buf    []byte
	oob    []byte
	mu     sync.Mutex
	// lead wakes a waiting caller to become the reader.
	lead chan struct{}
	// pending maps request IDs to their waiters. protected by mu
	pending map[uint32]chan response
	nextID  uint32
	// err is set when the connection failed. protected by mu
	err error
}

type response struct {
	errno unix.Errno
	body  []byte
	fd    int
}

// ErrClosed is returned once the connection to the gofer is gone.
var ErrClosed = errors.New("gofer: connection closed")

// NewClient performs the handshake on conn and starts reading replies.
func NewClient(conn *os.File) (*Client, error) {
	fd := int(conn.Fd())
	var e encoder
	e.b = append(e.b, Magic...)
	e.u32(Version)
	if _, err := unix.Write(fd, e.b); err != nil {
		return nil, fmt.Errorf("gofer hello: %w", err)
	}
	buf := make([]byte, 1<<16)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, fmt.Errorf("gofer hello: %w", err)
	}
	d := &decoder{b: buf[:n]}
	if string(d.take(4)) != Magic {
		return nil, errors.New("gofer hello: not a gofer")
	}
	if v := d.u32(); v != Version {
		return nil, fmt.Errorf("gofer hello: server version %d, want %d", v, Version)
	}
	count := d.u32()
	c := &Client{fd: fd, file: conn, pending: make(map[uint32]chan response), lead: make(chan struct{}, 1)}
	for i := range int(count) {
		p := d.str(MaxPath)
		ro := d.u8() != 0
		k := Kind(d.u8())
		if d.err != nil {
			return nil, errors.New("gofer hello: malformed mount list")
		}
		c.mounts = append(c.mounts, MountInfo{Index: i, SandboxPath: p, ReadOnly: ro, Kind: k})
	}
	c.buf = make([]byte, MaxMessage)
	c.oob = make([]byte, unix.CmsgSpace(4*4))
	return c, nil
}

// Mounts returns the view's mounts.
func (c *Client) Mounts() []MountInfo { return append([]MountInfo(nil), c.mounts...) }

// receiveOne reads one reply and hands it to its waiter. Preconditions: recvMu held.
func (c *Client) receiveOne() error {
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(c.fd, c.buf, c.oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil || n == 0 {
		c.fail(ErrClosed)
		return ErrClosed
	}
	fd := -1
	if oobn > 0 {
		if msgs, err := unix.ParseSocketControlMessage(c.oob[:oobn]); err == nil {
			for _, m := range msgs {
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					for _, f := range fds {
						if fd < 0 {
							fd = f
						} else {
							unix.Close(f)
						}
					}
				}
			}
		}
	}
	if n < 6 {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil
	}
	id := binary.LittleEndian.Uint32(c.buf[0:])
	r := response{errno: unix.Errno(binary.LittleEndian.Uint16(c.buf[4:])), body: append([]byte(nil), c.buf[6:n]...), fd: fd}
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch == nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil
	}
	ch <- r
	return nil
}

// await waits for the reply on ch, reading the socket itself while no one else does.
func (c *Client) await(ch chan response) response {
	for {
		select {
		case r := <-ch:
			return r
		default:
		}
		if c.recvMu.TryLock() {
			for {
				select {
				case r := <-ch:
					c.recvMu.Unlock()
					c.wakeFollower()
					return r
				default:
				}
				if err := c.receiveOne(); err != nil {
					c.recvMu.Unlock()
					return <-ch
				}
			}
		}
		select {
		case r := <-ch:
			return r
		case <-c.lead:
		}
	}
}

// wakeFollower lets one waiting caller take over reading, if any waits.
func (c *Client) wakeFollower() {
	c.mu.Lock()
	waiting := len(c.pending) > 0
	c.mu.Unlock()
	if waiting {
		select {
		case c.lead <- struct{}{}:
		default:
		}
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for id, ch := range c.pending {
		delete(c.pending, id)
		ch <- response{errno: unix.EIO, fd: -1}
	}
}

// call sends a request and waits for its reply.
func (c *Client) call(op Op, e *encoder) (*decoder, int, error) {
	ch := make(chan response, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, -1, unix.EIO
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	msg := make([]byte, 5, 5+len(e.b))
	binary.LittleEndian.PutUint32(msg[0:], id)
	msg[4] = byte(op)
	msg = append(msg, e.b...)
	c.wmu.Lock()
	var err error
	for {
		err = unix.Sendmsg(c.fd, msg, nil, nil, 0)
		if err != unix.EINTR {
			break
		}
	}
	c.wmu.Unlock()
	if err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, -1, unix.EIO
	}
	r := c.await(ch)
	if r.errno != 0 {
		if r.fd >= 0 {
			unix.Close(r.fd)
		}
		return nil, -1, r.errno
	}
	return &decoder{b: r.body}, r.fd, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	// Shutdown wakes the reader blocked in recvmsg and tells the gofer we are gone.
	unix.Shutdown(c.fd, unix.SHUT_RDWR)
	return c.file.Close()
}

// Handle is a file held by the gofer.
type Handle struct {
	c  *Client
	id uint64
}

func (c *Client) entry(d *decoder) (Entry, error) {
	id := d.u64()
	a := d.attr()
	target := d.str(MaxPath)
	if d.err != nil {
		return Entry{}, unix.EIO
	}
	return Entry{Handle: &Handle{c: c, id: id}, Attr: a, Target: target}, nil
}

// Attach returns the root of mount index.
func (c *Client) Attach(index int) (Entry, error) {
	var e encoder
	e.u32(uint32(index))
	d, _, err := c.call(OpAttach, &e)
	if err != nil {
		return Entry{}, err
	}
	return c.entry(d)
}

func (h *Handle) req() *encoder {
	e := &encoder{}
	e.u64(h.id)
	return e
}

// Walk looks up one component.
func (h *Handle) Walk(name string) (Entry, error) {
	e := h.req()
	e.str(name)
	d, _, err := h.c.call(OpWalk, e)
	if err != nil {
		return Entry{}, err
	}
	return h.c.entry(d)
}

// Stat returns fresh attributes.
func (h *Handle) Stat() (Attr, error) {
	d, _, err := h.c.call(OpStat, h.req())
	if err != nil {
		return Attr{}, err
	}
	a := d.attr()
	if d.err != nil {
		return Attr{}, unix.EIO
	}
	return a, nil
}

// StatFS returns the filesystem's statistics.
func (h *Handle) StatFS() (StatFS, error) {
	d, _, err := h.c.call(OpStatFS, h.req())
	if err != nil {
		return StatFS{}, err
	}
	var s StatFS
	s.Type, s.Bsize = int64(d.u64()), int64(d.u64())
	s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree = d.u64(), d.u64(), d.u64(), d.u64(), d.u64()
	s.NameLen, s.Frsize, s.Flags = int64(d.u64()), int64(d.u64()), int64(d.u64())
	if d.err != nil {
		return StatFS{}, unix.EIO
	}
	return s, nil
}

func fdFile(fd int, name string) *os.File {
	if fd < 0 {
		return nil
	}
	return os.NewFile(uintptr(fd), name)
}

// Open opens the file for I/O; the gofer donates the FD.
func (h *Handle) Open(flags int) (*os.File, error) {
	e := h.req()
	e.u32(uint32(flags))
	_, fd, err := h.c.call(OpOpen, e)
	if err != nil {
		return nil, err
	}
	if fd < 0 {
		return nil, unix.EIO
	}
	return fdFile(fd, "gofer"), nil
}

// Create creates and opens a regular file.
func (h *Handle) Create(name string, flags int, mode uint32) (Entry, *os.File, error) {
	e := h.req()
	e.str(name)
	e.u32(uint32(flags))
	e.u32(mode)
	d, fd, err := h.c.call(OpCreate, e)
	if err != nil {
		return Entry{}, nil, err
	}
	ent, err := h.c.entry(d)
	if err != nil || fd < 0 {
		if fd >= 0 {
			unix.Close(fd)
		}
		return Entry{}, nil, unix.EIO
	}
	return ent, fdFile(fd, name), nil
}

func (h *Handle) makeEntry(op Op, name string, fill func(*encoder)) (Entry, error) {
	e := h.req()
	e.str(name)
	fill(e)
	d, _, err := h.c.call(op, e)
	if err != nil {
		return Entry{}, err
	}
	return h.c.entry(d)
}

// Mkdir creates a directory.
func (h *Handle) Mkdir(name string, mode uint32) (Entry, error) {
	return h.makeEntry(OpMkdir, name, func(e *encoder) { e.u32(mode) })
}

// Mknod creates a FIFO or socket node.
func (h *Handle) Mknod(name string, mode uint32) (Entry, error) {
	return h.makeEntry(OpMknod, name, func(e *encoder) { e.u32(mode) })
}

// Symlink creates a symbolic link.
func (h *Handle) Symlink(name, target string) (Entry, error) {
	return h.makeEntry(OpSymlink, name, func(e *encoder) { e.str(target) })
}

// Link makes a hard link to target named name in directory h.
func (h *Handle) Link(target *Handle, name string) (Entry, error) {
	e := h.req()
	e.u64(target.id)
	e.str(name)
	d, _, err := h.c.call(OpLink, e)
	if err != nil {
		return Entry{}, err
	}
	return h.c.entry(d)
}

// Unlink removes name (a directory with AT_REMOVEDIR).
func (h *Handle) Unlink(name string, flags int) error {
	e := h.req()
	e.str(name)
	e.u32(uint32(flags))
	_, _, err := h.c.call(OpUnlink, e)
	return err
}

// Rename moves oldName in h to newName in newDir.
func (h *Handle) Rename(oldName string, newDir *Handle, newName string, flags uint32) error {
	e := h.req()
	e.str(oldName)
	e.u64(newDir.id)
	e.str(newName)
	e.u32(flags)
	_, _, err := h.c.call(OpRename, e)
	return err
}

// Readlink returns a symlink's target.
func (h *Handle) Readlink() (string, error) {
	d, _, err := h.c.call(OpReadlink, h.req())
	if err != nil {
		return "", err
	}
	s := d.str(MaxPath)
	if d.err != nil {
		return "", unix.EIO
	}
	return s, nil
}

// SetAttr changes attributes.
func (h *Handle) SetAttr(a SetAttr) error {
	e := h.req()
	var mask uint32
	var mode, uid, gid uint32
	var size int64
	var at, mt Timespec
	if a.Mode != nil {
		mask |= setMode
		mode = *a.Mode
	}
	if a.UID != nil {
		mask |= setUID
		uid = *a.UID
	}
	if a.GID != nil {
		mask |= setGID
		gid = *a.GID
	}
	if a.Size != nil {
		mask |= setSize
		size = *a.Size
	}
	if a.Atime != nil {
		mask |= setAtime
		at = *a.Atime
	}
	if a.Mtime != nil {
		mask |= setMtime
		mt = *a.Mtime
	}
	e.u32(mask)
	e.u32(mode)
	e.u32(uid)
	e.u32(gid)
	e.u64(uint64(size))
	e.u64(uint64(at.Sec))
	e.u64(uint64(at.Nsec))
	e.u64(uint64(mt.Sec))
	e.u64(uint64(mt.Nsec))
	_, _, err := h.c.call(OpSetAttr, e)
	return err
}

// Getdents returns the whole directory, fetched in chunks.
func (h *Handle) Getdents() ([]Dirent, error) {
	var out []Dirent
	var off uint64
	for {
		e := h.req()
		e.u64(off)
		d, _, err := h.c.call(OpGetdents, e)
		if err != nil {
			return nil, err
		}
		next := d.u64()
		n := d.u32()
		for range n {
			name := d.str(MaxName)
			ino := d.u64()
			k := Kind(d.u8())
			if d.err != nil {
				return nil, unix.EIO
			}
			out = append(out, Dirent{Name: name, Ino: ino, Kind: k})
		}
		if next == 0 {
			return out, nil
		}
		off = next
	}
}

// Getxattr reads an extended attribute.
func (h *Handle) Getxattr(name string) ([]byte, error) {
	e := h.req()
	e.str(name)
	d, _, err := h.c.call(OpGetxattr, e)
	if err != nil {
		return nil, err
	}
	return []byte(d.str(64 << 10)), nil
}

// Listxattr lists extended attribute names.
func (h *Handle) Listxattr() ([]string, error) {
	d, _, err := h.c.call(OpListxattr, h.req())
	if err != nil {
		return nil, err
	}
	raw := d.str(64 << 10)
	var out []string
	start := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] == 0 {
			if i > start {
				out = append(out, raw[start:i])
			}
			start = i + 1
		}
	}
	return out, nil
}

// Setxattr sets a user.* extended attribute.
func (h *Handle) Setxattr(name string, value []byte, flags int) error {
	e := h.req()
	e.str(name)
	e.str(string(value))
	e.u32(uint32(flags))
	_, _, err := h.c.call(OpSetxattr, e)
	return err
}

// Removexattr removes a user.* extended attribute.
func (h *Handle) Removexattr(name string) error {
	e := h.req()
	e.str(name)
	_, _, err := h.c.call(OpRemovexattr, e)
	return err
}

// Close releases the handle.
func (h *Handle) Close() error {
	_, _, err := h.c.call(OpClose, h.req())
	return err
}

// Grow asks for the file to be allowed to reach end bytes under the disk limit; it returns
// the end granted (it may be less), ENOSPC when the file may not grow at all.
func (h *Handle) Grow(end int64) (int64, error) {
	e := h.req()
	e.u64(uint64(end))
	d, _, err := h.c.call(OpGrow, e)
	if err != nil {
		return 0, err
	}
	got := int64(d.u64())
	if d.err != nil {
		return 0, unix.EIO
	}
	return got, nil
}
