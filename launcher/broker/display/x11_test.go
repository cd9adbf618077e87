package display

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

func xauthEntry(family uint16, addr, number, name, data string) []byte {
	b := binary.BigEndian.AppendUint16(nil, family)
	for _, f := range []string{addr, number, name, data} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

func TestCookiesKeepOnlyThisDisplay(t *testing.T) {
	host, _ := os.Hostname()
	var file []byte
	file = append(file, xauthEntry(256, host, "7", "MIT-MAGIC-COOKIE-1", "seven")...)
	file = append(file, xauthEntry(256, host, "8", "MIT-MAGIC-COOKIE-1", "eight")...)
	file = append(file, xauthEntry(256, "otherhost", "7", "MIT-MAGIC-COOKIE-1", "remote")...)
	file = append(file, xauthEntry(0, "\x7f\x00\x00\x01", "7", "MIT-MAGIC-COOKIE-1", "tcp")...)
	p := filepath.Join(t.TempDir(), "Xauthority")
	os.WriteFile(p, file, 0o600)
	got, err := Cookies(p, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := xauthEntry(65535, "", "7", "MIT-MAGIC-COOKIE-1", "seven")
	if !bytes.Equal(got, want) {
		t.Errorf("Cookies(display 7) = %q, want %q", got, want)
	}
	os.WriteFile(p, file[:5], 0o600)
	if _, err := Cookies(p, 7); err == nil {
		t.Error("a truncated Xauthority file was accepted")
	}
}

// request builds an X11 request of op with data (little-endian, padded).
func request(op byte, data []byte) []byte {
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	b := []byte{op, 0, 0, 0}
	binary.LittleEndian.PutUint16(b[2:], uint16(1+len(data)/4))
	return append(b, data...)
}

func reply(seq uint16, extra []byte, b1 byte, body [24]byte) []byte {
	b := make([]byte, 8, 32+len(extra))
	b[0], b[1] = 1, b1
	binary.LittleEndian.PutUint16(b[2:], seq)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(extra)/4))
	b = append(b, body[:]...)
	return append(b, extra...)
}

func TestProxyHidesMITSHM(t *testing.T) {
	c := &conn{pending: map[uint16]uint8{}}
	setup := []byte{'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	name := []byte("MIT-SHM")
	q := append(binary.LittleEndian.AppendUint16(nil, uint16(len(name))), 0, 0)
	q = append(q, name...)
	other := append(binary.LittleEndian.AppendUint16(nil, 6), 0, 0)
	other = append(other, "RENDER"...)
	in := append(append(append(setup, request(opQueryExtension, q)...), request(opQueryExtension, other)...), request(opListExtensions, nil)...)
	if out, n := c.fromClient(in); n != len(in) || !bytes.Equal(out, in) {
		t.Fatalf("requests changed or cut: %d of %d", n, len(in))
	}
	var present [24]byte
	present[0], present[1] = 1, 130
	srvSetup := []byte{1, 0, 11, 0, 0, 0, 0, 0}
	list := []byte{7}
	list = append(list, "MIT-SHM"...)
	list = append(list, 6)
	list = append(list, "RENDER"...)
	for len(list)%4 != 0 {
		list = append(list, 0)
	}
	stream := append(append(append(srvSetup, reply(1, nil, 0, present)...), reply(2, nil, 0, present)...), reply(3, list, 2, [24]byte{})...)
	out, n := c.fromServer(stream)
	if n != len(stream) {
		t.Fatalf("fromServer consumed %d of %d", n, len(stream))
	}
	out = out[8:]
	if out[8] != 0 || out[9] != 0 {
		t.Errorf("QueryExtension(MIT-SHM) still present: %v", out[:12])
	}
	if out[32+8] != 1 || out[32+9] != 130 {
		t.Errorf("QueryExtension(RENDER) changed: %v", out[32:44])
	}
	l := out[64:]
	if l[1] != 1 || string(l[33:39]) != "RENDER" || int(binary.LittleEndian.Uint32(l[4:]))*4 != len(l)-32 {
		t.Errorf("ListExtensions reply = %q, want only RENDER", l)
	}
}
