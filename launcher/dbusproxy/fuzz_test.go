package dbusproxy

import (
	"bytes"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
)

// FuzzAppMessages feeds arbitrary bytes as an app's messages through the proxy's framing,
// decoding and policy code: malformed input must give an error, never a panic or a hang.
func FuzzAppMessages(f *testing.F) {
	call := dbus.Message{Type: dbus.TypeMethodCall, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath: dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/DBus")), dbus.FieldMember: dbus.MakeVariant("AddMatch"),
		dbus.FieldDestination: dbus.MakeVariant("org.freedesktop.DBus"), dbus.FieldInterface: dbus.MakeVariant("org.freedesktop.DBus"),
		dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf("")),
	}, Body: []any{"eavesdrop=true"}}
	raw, _ := encode(&call, 1)
	f.Add(raw)
	f.Add([]byte("l\x01\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00\xff\xff\xff\x7f"))
	f.Add(bytes.Repeat([]byte{'l'}, 64))
	pol := &Policy{Talk: []string{"org.a.*"}, Call: []string{"org.b=org.b.I.M@/x/*"}, Broadcast: []string{"org.c=*"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Skip(err)
		}
		fa, fb := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
		a, errA := net.FileConn(fa)
		b, errB := net.FileConn(fb)
		fa.Close()
		fb.Close()
		if errA != nil || errB != nil {
			t.Skip("socketpair", errA, errB)
		}
		defer a.Close()
		defer b.Close()
		go func() { a.Write(data); a.Close() }()
		c := newConn(b.(*net.UnixConn), 1<<16)
		for {
			raw, fdl, err := c.next()
			if err != nil {
				return
			}
			m, err := decode(raw, len(fdl))
			if err != nil {
				return
			}
			_ = pol.level(header(m, dbus.FieldDestination))
			_ = pol.callAllowed(header(m, dbus.FieldDestination), header(m, dbus.FieldInterface), header(m, dbus.FieldMember), header(m, dbus.FieldPath))
			if len(m.Body) > 0 {
				if s, ok := m.Body[0].(string); ok {
					_ = eavesdropRequested(s)
				}
			}
		}
	})
}
