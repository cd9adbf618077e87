// Package display brokers the user's display to a sandbox. X11 connections go through a
// small proxy that hides the MIT-SHM extension: the X server would attach SysV shared memory
// by an ID from the sandbox's own IPC namespace, which names nothing, or worse, another
// program's segment, on the host; without MIT-SHM clients send images over the socket.
// Everything else passes unchanged, file descriptors included.
//
//	app (in the kernel)   ── socketpair ──▶  proxy (launcher)  ── unix socket ──▶  X server
//	requests: QueryExtension("MIT-SHM") noted by sequence number
//	replies:  that reply's "present" cleared
package display

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// hidden are the extensions clients are told are absent.
var hidden = map[string]bool{"MIT-SHM": true}

// X11 opcodes and message types (X11 protocol, "Encoding").
const (
	opQueryExtension = 98
	opListExtensions = 99
	typeReply        = 1
	typeGenericEvent = 35
)

// ProxyX11 serves one X11 connection: sandbox is the sandbox's end, host the X server's
// socket path. It returns when either side closes.
func ProxyX11(sandbox int, host string) error {
	server, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := unix.Connect(server, &unix.SockaddrUnix{Name: host}); err != nil {
		unix.Close(server)
		return err
	}
	go proxy(sandbox, server)
	return nil
}

// conn is one proxied connection's state.
type conn struct {
	mu sync.Mutex
	// order is the byte order the client chose; seq counts its requests; pending holds the
	// sequence numbers of QueryExtension requests for hidden extensions. protected by mu
	order       binary.ByteOrder
	seq         uint16
	pending     map[uint16]uint8 // the request's opcode
	serverSetup bool
}

func proxy(client, server int) {
	c := &conn{pending: map[uint16]uint8{}}
	done := make(chan struct{}, 2)
	go func() { pump(client, server, c.fromClient); done <- struct{}{} }()
	go func() { pump(server, client, c.fromServer); done <- struct{}{} }()
	<-done
	unix.Shutdown(client, unix.SHUT_RDWR)
	unix.Shutdown(server, unix.SHUT_RDWR)
	<-done
	unix.Close(client)
	unix.Close(server)
}

// pump copies from src to dst, passing the bytes through filter in whole messages (filter
// returns the complete messages of its input, possibly changed, and how many input bytes
// they were) and forwarding any file descriptors with the bytes they came with.
func pump(src, dst int, filter func([]byte) ([]byte, int)) {
	buf := make([]byte, 0, 1<<16)
	chunk := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(4*32))
	var fds []int
	for {
		n, oobn, _, _, err := unix.Recvmsg(src, chunk, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		if oobn > 0 {
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if r, err := unix.ParseUnixRights(&m); err == nil {
						fds = append(fds, r...)
					}
				}
			}
		}
		buf = append(buf, chunk[:n]...)
		out, k := filter(buf)
		if k == 0 {
			continue
		}
		var rights []byte
		if len(fds) > 0 {
			rights = unix.UnixRights(fds...)
		}
		if err := sendAll(dst, out, rights); err != nil {
			return
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
		fds = fds[:0]
		buf = append(buf[:0], buf[k:]...)
	}
}

func sendAll(fd int, b, rights []byte) error {
	for len(b) > 0 {
		n, err := unix.SendmsgN(fd, b, rights, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b, rights = b[n:], nil
	}
	return nil
}

// fromClient notes QueryExtension requests for hidden extensions. It returns how much of b
// is complete messages.
func (c *conn) fromClient(b []byte) ([]byte, int) {
	n := c.clientMessages(b)
	return b[:n], n
}

func (c *conn) clientMessages(b []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	off := 0
	if c.order == nil {
		// The setup request: byte order, then name and data lengths.
		if len(b) < 12 {
			return 0
		}
		switch b[0] {
		case 'l':
			c.order = binary.LittleEndian
		case 'B':
			c.order = binary.BigEndian
		default:
			return len(b) // not X11: pass it on, the server refuses it
		}
		n := 12 + pad4(int(c.order.Uint16(b[6:]))) + pad4(int(c.order.Uint16(b[8:])))
		if len(b) < n {
			return 0
		}
		off = n
	}
	for {
		rest := b[off:]
		if len(rest) < 4 {
			return off
		}
		size := 4 * int(c.order.Uint16(rest[2:]))
		if size == 0 { // BIG-REQUESTS: the length follows
			if len(rest) < 8 {
				return off
			}
			size = 4 * int(c.order.Uint32(rest[4:]))
			if size < 8 {
				return len(b) // malformed: stop parsing, pass everything
			}
		}
		if len(rest) < size {
			return off
		}
		c.seq++
		switch {
		case rest[0] == opQueryExtension && size >= 8:
			n := int(c.order.Uint16(rest[4:]))
			if 8+n <= size && hidden[string(rest[8:8+n])] {
				c.pending[c.seq] = opQueryExtension
			}
		case rest[0] == opListExtensions:
			c.pending[c.seq] = opListExtensions
		}
		off += size
	}
}

// fromServer hides the hidden extensions from replies: QueryExtension's "present" is
// cleared, and ListExtensions' list loses their names.
func (c *conn) fromServer(b []byte) ([]byte, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.order == nil {
		return nil, 0 // the client has not spoken yet
	}
	off := 0
	var out []byte
	if !c.serverSetup {
		// The setup reply: 8 bytes, then the additional length in 4-byte units.
		if len(b) < 8 {
			return nil, 0
		}
		n := 8 + 4*int(c.order.Uint16(b[6:]))
		if len(b) < n {
			return nil, 0
		}
		out = append(out, b[:n]...)
		off = n
		c.serverSetup = true
	}
	for {
		rest := b[off:]
		if len(rest) < 32 {
			return out, off
		}
		size := 32
		if rest[0] == typeReply || rest[0]&0x7f == typeGenericEvent {
			size += 4 * int(c.order.Uint32(rest[4:]))
		}
		if len(rest) < size {
			return out, off
		}
		msg := rest[:size]
		if rest[0] == typeReply {
			seq := c.order.Uint16(rest[2:])
			switch c.pending[seq] {
			case opQueryExtension:
				msg[8] = 0                         // present
				msg[9], msg[10], msg[11] = 0, 0, 0 // major opcode, first event, first error
			case opListExtensions:
				msg = c.listWithout(msg)
			}
			delete(c.pending, seq)
		}
		out = append(out, msg...)
		off += size
	}
}

// listWithout rewrites a ListExtensions reply without the hidden names.
func (c *conn) listWithout(msg []byte) []byte {
	count := int(msg[1])
	names := msg[32:]
	var kept []byte
	n := 0
	for i := 0; i < count && len(names) > 0; i++ {
		l := int(names[0])
		if 1+l > len(names) {
			return msg
		}
		if !hidden[string(names[1:1+l])] {
			kept = append(kept, names[:1+l]...)
			n++
		}
		names = names[1+l:]
	}
	out := append([]byte(nil), msg[:32]...)
	out[1] = byte(n)
	out = append(out, kept...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	c.order.PutUint32(out[4:], uint32((len(out)-32)/4))
	return out
}

func pad4(n int) int { return (n + 3) &^ 3 }

// Display is a local X display: its number and the server's socket path.
type Display struct {
	Number int
	Socket string
}

// ParseDisplay reads $DISPLAY for a local display (":N", ":N.S", "unix:N"); a display over
// TCP is not brokered.
func ParseDisplay(v string) (Display, error) {
	host, rest, ok := strings.Cut(v, ":")
	if !ok || host != "" && host != "unix" {
		return Display{}, fmt.Errorf("DISPLAY=%q is not a local display (only :N is brokered)", v)
	}
	num, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return Display{}, fmt.Errorf("DISPLAY=%q has no display number", v)
	}
	return Display{Number: n, Socket: fmt.Sprintf("/tmp/.X11-unix/X%d", n)}, nil
}

// Cookies returns the entries of the Xauthority file at path for display n, rewritten to
// match any host name (the sandbox has its own): an Xauthority file holding only this
// display's cookie. It returns nil when the file has none.
func Cookies(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	const familyLocal, familyWild = 256, 65535
	want := strconv.Itoa(n)
	host, _ := os.Hostname()
	var out []byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("%s: truncated entry", path)
		}
		family := binary.BigEndian.Uint16(b)
		b = b[2:]
		var fields [4][]byte
		for i := range fields {
			if len(b) < 2 {
				return nil, fmt.Errorf("%s: truncated entry", path)
			}
			l := int(binary.BigEndian.Uint16(b))
			if len(b) < 2+l {
				return nil, fmt.Errorf("%s: truncated entry", path)
			}
			fields[i], b = b[2:2+l], b[2+l:]
		}
		addr, number, name, data := fields[0], fields[1], fields[2], fields[3]
		local := family == familyWild || family == familyLocal && string(addr) == host
		if string(number) != want || !local {
			continue
		}
		out = binary.BigEndian.AppendUint16(out, familyWild)
		for _, f := range [][]byte{nil, number, name, data} {
			out = binary.BigEndian.AppendUint16(out, uint16(len(f)))
			out = append(out, f...)
		}
	}
	return out, nil
}

// CookieEntry returns an Xauthority file holding one MIT-MAGIC-COOKIE-1 entry for display
// n that matches any host name.
func CookieEntry(n int, cookie []byte) []byte {
	const familyWild = 65535
	out := binary.BigEndian.AppendUint16(nil, familyWild)
	for _, f := range [][]byte{nil, []byte(strconv.Itoa(n)), []byte("MIT-MAGIC-COOKIE-1"), cookie} {
		out = binary.BigEndian.AppendUint16(out, uint16(len(f)))
		out = append(out, f...)
	}
	return out
}
