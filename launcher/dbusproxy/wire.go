package dbusproxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/godbus/dbus/v5"
)

// DefaultMaxMessage bounds one message from a client (the spec allows 128 MiB; apps never
// come close).
const DefaultMaxMessage = 32 << 20

// conn reads and writes whole D-Bus messages with their unix FDs.
type conn struct {
	c   *net.UnixConn
	buf []byte
	fds []int
	max int
	oob []byte
}

func newConn(c *net.UnixConn, max int) *conn {
	return &conn{c: c, max: max, oob: make([]byte, syscall.CmsgSpace(4*64))}
}

func (c *conn) fill(n int) error {
	for len(c.buf) < n {
		tmp := make([]byte, max(n-len(c.buf), 4096))
		k, oobn, _, _, err := c.c.ReadMsgUnix(tmp, c.oob)
		if oobn > 0 {
			if msgs, perr := syscall.ParseSocketControlMessage(c.oob[:oobn]); perr == nil {
				for _, m := range msgs {
					if fds, ferr := syscall.ParseUnixRights(&m); ferr == nil {
						c.fds = append(c.fds, fds...)
					}
				}
			}
		}
		if k > 0 {
			c.buf = append(c.buf, tmp[:k]...)
		}
		if err != nil {
			return err
		}
		if k == 0 && oobn == 0 {
			return errors.New("connection closed")
		}
	}
	return nil
}

var errTooBig = errors.New("message too large")

// next returns the raw bytes of the next message and the FDs that came with it.
func (c *conn) next() ([]byte, []int, error) {
	if err := c.fill(16); err != nil {
		return nil, nil, err
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch c.buf[0] {
	case 'l':
	case 'B':
		order = binary.BigEndian
	default:
		return nil, nil, errors.New("bad byte order")
	}
	body := uint64(order.Uint32(c.buf[4:8]))
	fields := uint64(order.Uint32(c.buf[12:16]))
	total := 16 + (fields+7)&^7 + body
	if total > uint64(c.max) {
		return nil, nil, errTooBig
	}
	if err := c.fill(int(total)); err != nil {
		return nil, nil, err
	}
	raw := append([]byte(nil), c.buf[:total]...)
	c.buf = c.buf[total:]
	fds := c.fds
	c.fds = nil
	return raw, fds, nil
}

// send writes one message with its FDs (closing our copies).
func (c *conn) send(raw []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	_, _, err := c.c.WriteMsgUnix(raw, oob, nil)
	for _, fd := range fds {
		syscall.Close(fd)
	}
	return err
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		syscall.Close(fd)
	}
}

// decode parses a raw message for policy decisions.
func decode(raw []byte, nfds int) (*dbus.Message, error) {
	fake := make([]int, nfds)
	for i := range fake {
		fake[i] = -1
	}
	return dbus.DecodeMessageWithFDs(bytes.NewReader(raw), fake)
}

// encode renders a message the proxy made or changed, with the given serial.
func encode(m *dbus.Message, serial uint32) ([]byte, error) {
	var b bytes.Buffer
	if err := m.EncodeTo(&b, binary.LittleEndian); err != nil {
		return nil, err
	}
	raw := b.Bytes()
	binary.LittleEndian.PutUint32(raw[8:12], serial)
	return raw, nil
}

func header(m *dbus.Message, f dbus.HeaderField) string {
	v, ok := m.Headers[f]
	if !ok {
		return ""
	}
	switch x := v.Value().(type) {
	case string:
		return x
	case dbus.ObjectPath:
		return string(x)
	}
	return ""
}

func replySerial(m *dbus.Message) uint32 {
	if v, ok := m.Headers[dbus.FieldReplySerial]; ok {
		if s, ok := v.Value().(uint32); ok {
			return s
		}
	}
	return 0
}

// serverAuth runs the server side of SASL with the sandboxed client: EXTERNAL only, with
// unix FD negotiation. It returns whether FDs were agreed.
func serverAuth(c *net.UnixConn, r *bufio.Reader) (bool, error) {
	nul := make([]byte, 1)
	if _, err := r.Read(nul); err != nil || nul[0] != 0 {
		return false, errors.New("auth: missing NUL byte")
	}
	uid := strconv.Itoa(os.Getuid())
	fds := false
	for i := 0; i < 16; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return false, err
		}
		if len(line) > 512 {
			return false, errors.New("auth: line too long")
		}
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "AUTH":
			if len(f) == 3 && f[1] == "EXTERNAL" {
				id, err := hex.DecodeString(f[2])
				if err == nil && string(id) == uid {
					c.Write([]byte("OK " + guid + "\r\n"))
					continue
				}
			}
			if len(f) == 2 && f[1] == "EXTERNAL" {
				c.Write([]byte("DATA\r\n"))
				continue
			}
			c.Write([]byte("REJECTED EXTERNAL\r\n"))
		case "DATA":
			c.Write([]byte("OK " + guid + "\r\n"))
		case "NEGOTIATE_UNIX_FD":
			fds = true
			c.Write([]byte("AGREE_UNIX_FD\r\n"))
		case "BEGIN":
			return fds, nil
		case "CANCEL":
			c.Write([]byte("REJECTED EXTERNAL\r\n"))
		default:
			c.Write([]byte("ERROR\r\n"))
		}
	}
	return false, errors.New("auth: too many exchanges")
}

const guid = "5b1c0e2f8a9d4c3b7e6f1a2b3c4d5e6f"

// clientAuth authenticates to the real bus as the user.
func clientAuth(c *net.UnixConn) (*bufio.Reader, error) {
	r := bufio.NewReader(c)
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Getuid())))
	if _, err := c.Write([]byte("\x00AUTH EXTERNAL " + uid + "\r\n")); err != nil {
		return nil, err
	}
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "OK ") {
		return nil, fmt.Errorf("bus refused authentication: %q", strings.TrimSpace(line))
	}
	c.Write([]byte("NEGOTIATE_UNIX_FD\r\n"))
	line, err = r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "AGREE_UNIX_FD") {
		return nil, fmt.Errorf("bus refused unix FDs: %q", strings.TrimSpace(line))
	}
	if _, err := c.Write([]byte("BEGIN\r\n")); err != nil {
		return nil, err
	}
	return r, nil
}
