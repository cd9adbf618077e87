package gofer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

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
	// stats counts requests by op (stats.go).
	stats [opMax]opCounter
}

type response struct {
	errno unix.Errno
	body  []byte
	fd    int
	// more are the FDs donated after fd.
	more []int
}

// ErrClosed is returned once the connection to the gofer is gone.
var ErrClosed = errors.New("gofer: connection closed")

// NewClient performs the handshake on conn and starts reading replies.
func NewClient(conn *os.File) (*Client, error) {
	fd := int(conn.Fd())
	var e encoder
	(&helloReq{Version: Version}).encode(&e)
	if _, err := unix.Write(fd, e.b); err != nil {
		return nil, fmt.Errorf("gofer hello: %w", err)
	}
	buf := make([]byte, 1<<16)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, fmt.Errorf("gofer hello: %w", err)
	}
	var hello helloReply
	d := &decoder{b: buf[:n]}
	hello.decode(d)
	if d.err == errBadMagic {
		return nil, errors.New("gofer hello: not a gofer")
	}
	if d.err == nil && hello.Version != Version {
		return nil, fmt.Errorf("gofer hello: server version %d, want %d", hello.Version, Version)
	}
	if d.err != nil {
		return nil, errors.New("gofer hello: malformed mount list")
	}
	c := &Client{fd: fd, file: conn, pending: make(map[uint32]chan response), lead: make(chan struct{}, 1), mounts: hello.Mounts}
	c.buf = make([]byte, MaxMessage)
	c.oob = make([]byte, unix.CmsgSpace(4*(maxPlusFDs+1)))
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
	var more []int
	if oobn > 0 {
		if msgs, err := unix.ParseSocketControlMessage(c.oob[:oobn]); err == nil {
			for _, m := range msgs {
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					for _, f := range fds {
						if fd < 0 {
							fd = f
						} else {
							more = append(more, f)
						}
					}
				}
			}
		}
	}
	r := response{fd: fd, more: more}
	if n < 6 {
		r.close()
		return nil
	}
	id := binary.LittleEndian.Uint32(c.buf[0:])
	r.errno, r.body = unix.Errno(binary.LittleEndian.Uint16(c.buf[4:])), append([]byte(nil), c.buf[6:n]...)
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch == nil {
		r.close()
		return nil
	}
	ch <- r
	return nil
}

// close closes the FDs a reply donated.
func (r *response) close() {
	if r.fd >= 0 {
		unix.Close(r.fd)
	}
	for _, f := range r.more {
		unix.Close(f)
	}
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

// call sends a request and waits for its reply; the reply's body, if any, is decoded
// into body (a malformed one is EIO). The FD the reply donates is returned, or -1.
func (c *Client) call(req request, body replyBody) (int, error) {
	fds, err := c.callFDs(req, body)
	if err != nil {
		return -1, err
	}
	if len(fds) == 0 {
		return -1, nil
	}
	for _, f := range fds[1:] {
		unix.Close(f)
	}
	return fds[0], nil
}

// callFDs is call for replies that may donate several FDs: it returns them all.
func (c *Client) callFDs(req request, body replyBody) ([]int, error) {
	var e encoder
	req.encode(&e)
	d, r, err := c.roundTrip(req.op(), &e)
	if err != nil {
		return nil, err
	}
	if body != nil {
		body.decode(d)
		if d.err != nil {
			r.close()
			return nil, unix.EIO
		}
	}
	if r.fd < 0 {
		return nil, nil
	}
	return append([]int{r.fd}, r.more...), nil
}

// roundTrip sends one encoded request and waits for its reply.
func (c *Client) roundTrip(op Op, e *encoder) (*decoder, *response, error) {
	start := time.Now()
	ch := make(chan response, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, nil, unix.EIO
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
		return nil, nil, unix.EIO
	}
	r := c.await(ch)
	c.count(op, start, r.errno != 0)
	if r.errno != 0 {
		r.close()
		return nil, nil, r.errno
	}
	return &decoder{b: r.body}, &r, nil
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

// entry turns an entry reply into an Entry.
func (c *Client) entry(r *entryReply) Entry {
	return Entry{Handle: &Handle{c: c, id: r.Handle}, Attr: r.Attr, Target: r.Target, WD: int32(r.WD)}
}

// entryCall sends a request answered by a new handle.
func (c *Client) entryCall(req request) (Entry, error) {
	var r entryReply
	if _, err := c.call(req, &r); err != nil {
		return Entry{}, err
	}
	return c.entry(&r), nil
}

// Attach returns the root of mount index.
func (c *Client) Attach(index int) (Entry, error) {
	return c.entryCall(&attachReq{Mount: uint32(index)})
}

func (h *Handle) hd() handleField { return handleField{Handle: h.id} }

// Walk looks up one component.
func (h *Handle) Walk(name string) (Entry, error) {
	return h.c.entryCall(&walkReq{handleField: h.hd(), Name: name})
}

// WalkOpen looks up one component and, when it is a regular file, opens it read-only in
// the same round trip: the file is nil when it is not one or could not be opened so (the
// caller then opens it as usual, and sees why not).
func (h *Handle) WalkOpen(name string) (Entry, *os.File, error) {
	return h.WalkWatch(name, true, false)
}

// WalkWatch is Walk (WalkOpen with open), and with watch the gofer also watches the file
// found on the instance of the kernel's caches (WatchNames' instance) and says which watch
// in Entry.WD (0: none: a symlink, or the host would not).
func (h *Handle) WalkWatch(name string, open, watch bool) (Entry, *os.File, error) {
	var r entryReply
	fd, err := h.c.call(&walkReq{handleField: h.hd(), Name: name, Open: open, Watch: watch}, &r)
	if err != nil {
		return Entry{}, nil, err
	}
	e := h.c.entry(&r)
	if fd >= 0 && r.Attr.Kind != KindRegular {
		unix.Close(fd)
		fd = -1
	}
	return e, fdFile(fd, name), nil
}

// Stat returns fresh attributes.
func (h *Handle) Stat() (Attr, error) {
	var r attrReply
	if _, err := h.c.call(&handleReq{kind: OpStat, handleField: h.hd()}, &r); err != nil {
		return Attr{}, err
	}
	return r.Attr, nil
}

// StatFS returns the filesystem's statistics.
func (h *Handle) StatFS() (StatFS, error) {
	var r statFSReply
	if _, err := h.c.call(&handleReq{kind: OpStatFS, handleField: h.hd()}, &r); err != nil {
		return StatFS{}, err
	}
	return r.StatFS, nil
}

func fdFile(fd int, name string) *os.File {
	if fd < 0 {
		return nil
	}
	return os.NewFile(uintptr(fd), name)
}

// Open opens the file for I/O; the gofer donates the FD.
func (h *Handle) Open(flags int) (*os.File, error) {
	fd, err := h.c.call(&openReq{handleField: h.hd(), Flags: uint32(flags)}, nil)
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
	var r entryReply
	fd, err := h.c.call(&createReq{handleField: h.hd(), Name: name, Flags: uint32(flags), Mode: mode}, &r)
	if err != nil {
		return Entry{}, nil, err
	}
	if fd < 0 {
		return Entry{}, nil, unix.EIO
	}
	return h.c.entry(&r), fdFile(fd, name), nil
}

// Mkdir creates a directory.
func (h *Handle) Mkdir(name string, mode uint32) (Entry, error) {
	return h.c.entryCall(&mkReq{kind: OpMkdir, handleField: h.hd(), Name: name, Mode: mode})
}

// Mknod creates a FIFO or socket node.
func (h *Handle) Mknod(name string, mode uint32) (Entry, error) {
	return h.c.entryCall(&mkReq{kind: OpMknod, handleField: h.hd(), Name: name, Mode: mode})
}

// Symlink creates a symbolic link.
func (h *Handle) Symlink(name, target string) (Entry, error) {
	return h.c.entryCall(&symlinkReq{handleField: h.hd(), Name: name, Target: target})
}

// Link makes a hard link to target named name in directory h.
func (h *Handle) Link(target *Handle, name string) (Entry, error) {
	return h.c.entryCall(&linkReq{handleField: h.hd(), Target: target.id, Name: name})
}

// Unlink removes name (a directory with AT_REMOVEDIR).
func (h *Handle) Unlink(name string, flags int) error {
	_, err := h.c.call(&unlinkReq{handleField: h.hd(), Name: name, Flags: uint32(flags)}, nil)
	return err
}

// Rename moves oldName in h to newName in newDir.
func (h *Handle) Rename(oldName string, newDir *Handle, newName string, flags uint32) error {
	_, err := h.c.call(&renameReq{handleField: h.hd(), OldName: oldName, NewDir: newDir.id, NewName: newName, Flags: flags}, nil)
	return err
}

// Readlink returns a symlink's target.
func (h *Handle) Readlink() (string, error) {
	r := stringReply{max: MaxPath}
	if _, err := h.c.call(&handleReq{kind: OpReadlink, handleField: h.hd()}, &r); err != nil {
		return "", err
	}
	return r.S, nil
}

// SetAttr changes attributes.
func (h *Handle) SetAttr(a SetAttr) error {
	r := setAttrReq{handleField: h.hd()}
	if a.Mode != nil {
		r.Mask |= setMode
		r.Mode = *a.Mode
	}
	if a.UID != nil {
		r.Mask |= setUID
		r.UID = *a.UID
	}
	if a.GID != nil {
		r.Mask |= setGID
		r.GID = *a.GID
	}
	if a.Size != nil {
		r.Mask |= setSize
		r.Size = *a.Size
	}
	if a.Atime != nil {
		r.Mask |= setAtime
		r.Atime = *a.Atime
	}
	if a.Mtime != nil {
		r.Mask |= setMtime
		r.Mtime = *a.Mtime
	}
	_, err := h.c.call(&r, nil)
	return err
}

// Getdents returns the whole directory, fetched in chunks.
func (h *Handle) Getdents() ([]Dirent, error) {
	var out []Dirent
	var off uint64
	for {
		var r getdentsReply
		if _, err := h.c.call(&getdentsReq{handleField: h.hd(), Offset: off}, &r); err != nil {
			return nil, err
		}
		out = append(out, r.Dirents...)
		if r.Next == 0 {
			return out, nil
		}
		off = r.Next
	}
}

// PlusDirent is one entry of a listing with GetdentsPlus: the dirent and, when the gofer
// could walk it, its entry and the FD a regular file was opened with (or nil).
type PlusDirent struct {
	Dirent
	Entry *Entry
	File  *os.File
}

// GetdentsPlus returns the whole directory as Getdents does, each entry also walked (one
// request per chunk instead of one per entry): with open, regular files come opened
// read-only (as WalkOpen); with watch, watched (as WalkWatch).
func (h *Handle) GetdentsPlus(open, watch bool) ([]PlusDirent, error) {
	var out []PlusDirent
	var off uint64
	for {
		var r getdentsReply
		fds, err := h.c.callFDs(&getdentsReq{handleField: h.hd(), Offset: off, Plus: true, Open: open, Watch: watch}, &r)
		if err != nil {
			closeFDs(out)
			return nil, err
		}
		if !r.Plus || len(r.Entries) != len(r.Dirents) {
			for _, f := range fds {
				unix.Close(f)
			}
			closeFDs(out)
			return nil, unix.EIO
		}
		want := 0
		for i := range r.Entries {
			if r.Entries[i].HasFD {
				want++
			}
		}
		if want != len(fds) {
			// Some FDs did not arrive (the kernel's FD limit: the control message was cut
			// short): which is whose cannot be told, so none is used.
			for _, f := range fds {
				unix.Close(f)
			}
			fds = nil
			for i := range r.Entries {
				r.Entries[i].HasFD = false
			}
		}
		for i, de := range r.Dirents {
			pd := PlusDirent{Dirent: de}
			pe := &r.Entries[i]
			if pe.Handle != 0 {
				e := h.c.entry(&pe.entryReply)
				pd.Entry = &e
			}
			if pe.HasFD && len(fds) > 0 {
				if pd.Entry != nil && pe.Attr.Kind == KindRegular {
					pd.File = fdFile(fds[0], de.Name)
				} else {
					unix.Close(fds[0])
				}
				fds = fds[1:]
			}
			out = append(out, pd)
		}
		for _, f := range fds {
			unix.Close(f)
		}
		if r.Next == 0 {
			return out, nil
		}
		off = r.Next
	}
}

func closeFDs(ds []PlusDirent) {
	for _, d := range ds {
		if d.File != nil {
			d.File.Close()
		}
	}
}

// Getxattr reads an extended attribute.
func (h *Handle) Getxattr(name string) ([]byte, error) {
	r := stringReply{max: maxXattrValue}
	if _, err := h.c.call(&xattrNameReq{kind: OpGetxattr, handleField: h.hd(), Name: name}, &r); err != nil {
		return nil, err
	}
	return []byte(r.S), nil
}

// Listxattr lists extended attribute names.
func (h *Handle) Listxattr() ([]string, error) {
	r := stringReply{max: maxXattrValue}
	if _, err := h.c.call(&handleReq{kind: OpListxattr, handleField: h.hd()}, &r); err != nil {
		return nil, err
	}
	raw := r.S
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
	_, err := h.c.call(&setxattrReq{handleField: h.hd(), Name: name, Value: string(value), Flags: uint32(flags)}, nil)
	return err
}

// Removexattr removes a user.* extended attribute.
func (h *Handle) Removexattr(name string) error {
	_, err := h.c.call(&xattrNameReq{kind: OpRemovexattr, handleField: h.hd(), Name: name}, nil)
	return err
}

// Close releases the handle.
func (h *Handle) Close() error {
	_, err := h.c.call(&handleReq{kind: OpClose, handleField: h.hd()}, nil)
	return err
}

// Grow asks for the file to be allowed to reach end bytes under the disk limit; it returns
// the end granted (it may be less), ENOSPC when the file may not grow at all.
func (h *Handle) Grow(end int64) (int64, error) {
	var r u64Reply
	if _, err := h.c.call(&growReq{handleField: h.hd(), End: end}, &r); err != nil {
		return 0, err
	}
	return int64(r.V), nil
}
