package dbusproxy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// startBus runs a private dbus-daemon and returns its socket path.
func startBus(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed (make test installs it)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+sock+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>`), 0o644)
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("dbus-daemon did not start: %v", err)
	}
	return sock
}

type service struct{ calls int }

func (s *service) Echo(in string) (string, *dbus.Error) { s.calls++; return "echo: " + in, nil }

func (s *service) File() (dbus.UnixFD, *dbus.Error) {
	f, err := os.Open("/etc/hostname")
	if err != nil {
		return 0, dbus.MakeFailedError(err)
	}
	return dbus.UnixFD(f.Fd()), nil
}

// startService connects a service directly to the bus owning name.
func startService(t testing.TB, bus, name string) *dbus.Conn {
	t.Helper()
	c, err := dbus.Connect("unix:path=" + bus)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Export(&service{}, "/org/sbx/Test", "org.sbx.Test")
	if r, err := c.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName(%s) = %v, %v", name, r, err)
	}
	return c
}

// denMu guards the denial slices tests collect.
var denMu sync.Mutex

// startProxy serves pol in front of bus and returns an app connection through it.
func startProxy(t testing.TB, bus string, pol Policy, denials *[]Denial) (*Proxy, *dbus.Conn) {
	t.Helper()
	p, err := New(Options{Upstream: bus, Policy: pol, OnDenial: func(d Denial) {
		denMu.Lock()
		defer denMu.Unlock()
		if denials != nil {
			*denials = append(*denials, d)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "proxy")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(l)
	t.Cleanup(func() { p.Close() })
	app, err := dbus.Connect("unix:path=" + sock)
	if err != nil {
		t.Fatalf("connecting through the proxy: %v", err)
	}
	t.Cleanup(func() { app.Close() })
	return p, app
}

func dbusErrName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var dp *dbus.Error
	if errors.As(err, &dp) {
		return dp.Name
	}
	return fmt.Sprint(err)
}

func TestAllowedCallAndFD(t *testing.T) {
	bus := startBus(t)
	startService(t, bus, "org.sbx.Test")
	_, app := startProxy(t, bus, Policy{Talk: []string{"org.sbx.*"}}, nil)
	var out string
	if err := app.Object("org.sbx.Test", "/org/sbx/Test").Call("org.sbx.Test.Echo", 0, "hi").Store(&out); err != nil || out != "echo: hi" {
		t.Fatalf("Echo = %q, %v", out, err)
	}
	var fd dbus.UnixFD
	if err := app.Object("org.sbx.Test", "/org/sbx/Test").Call("org.sbx.Test.File", 0).Store(&fd); err != nil {
		t.Fatalf("File = %v", err)
	}
	f := os.NewFile(uintptr(fd), "passed")
	defer f.Close()
	b := make([]byte, 64)
	n, _ := f.Read(b)
	want, _ := os.ReadFile("/etc/hostname")
	if string(b[:n]) != string(want) {
		t.Fatalf("the passed FD reads %q", b[:n])
	}
}

func TestDeniedCalls(t *testing.T) {
	bus := startBus(t)
	startService(t, bus, "org.sbx.Test")
	startService(t, bus, "org.sbx.Visible")
	var denials []Denial
	_, app := startProxy(t, bus, Policy{See: []string{"org.sbx.Visible"}}, &denials)
	err := app.Object("org.sbx.Test", "/org/sbx/Test").Call("org.sbx.Test.Echo", 0, "hi").Err
	if dbusErrName(err) != errServiceUnknown {
		t.Errorf("call to an invisible name: %v, want ServiceUnknown", err)
	}
	err = app.Object("org.sbx.Visible", "/org/sbx/Test").Call("org.sbx.Test.Echo", 0, "hi").Err
	if dbusErrName(err) != errAccessDenied {
		t.Errorf("call to a see-only name: %v, want AccessDenied", err)
	}
	denMu.Lock()
	defer denMu.Unlock()
	if len(denials) != 2 || denials[0].Destination != "org.sbx.Test" || denials[0].Member != "Echo" {
		t.Errorf("denials = %+v", denials)
	}
}

func TestCallRule(t *testing.T) {
	bus := startBus(t)
	startService(t, bus, "org.sbx.Test")
	_, app := startProxy(t, bus, Policy{Call: []string{"org.sbx.Test=org.sbx.Test.Echo@/org/sbx/*"}}, nil)
	var out string
	if err := app.Object("org.sbx.Test", "/org/sbx/Test").Call("org.sbx.Test.Echo", 0, "x").Store(&out); err != nil {
		t.Fatalf("allowed method: %v", err)
	}
	if err := app.Object("org.sbx.Test", "/org/sbx/Test").Call("org.sbx.Test.File", 0).Err; err == nil {
		t.Fatal("a method outside the call rule went through")
	}
}

func TestOwnNames(t *testing.T) {
	bus := startBus(t)
	var denials []Denial
	_, app := startProxy(t, bus, Policy{Own: []string{"org.sbx.App.*"}}, &denials)
	if r, err := app.RequestName("org.sbx.App.Main", 0); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Errorf("owning an allowed name: %v, %v", r, err)
	}
	host, err := dbus.Connect("unix:path=" + bus)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	hostHas := func(name string) bool {
		var has bool
		if err := host.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
			t.Fatal(err)
		}
		return has
	}
	if !hostHas("org.sbx.App.Main") {
		t.Errorf("an allowed name is not owned on the bus")
	}
	// A name the profile does not allow is owned inside the sandbox only: the app's
	// RequestName succeeds (GApplication refuses to start otherwise), the bus never sees
	// it, and the app's own calls to it come back to the app.
	const foreign = "org.freedesktop.Notifications"
	if r, err := app.RequestName(foreign, 0); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Errorf("owning a foreign name inside the sandbox: %v, %v", r, err)
	}
	if r, err := app.RequestName(foreign, 0); err != nil || r != dbus.RequestNameReplyAlreadyOwner {
		t.Errorf("owning it again: %v, %v, want already owner", r, err)
	}
	if hostHas(foreign) {
		t.Errorf("a name owned inside the sandbox reached the bus")
	}
	var has bool
	var owner string
	app.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, foreign).Store(&has)
	app.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, foreign).Store(&owner)
	if !has || owner != app.Names()[0] {
		t.Errorf("inside: NameHasOwner %v, GetNameOwner %q, want true and %s", has, owner, app.Names()[0])
	}
	app.Export(&service{}, "/org/sbx/Test", "org.sbx.Test")
	var echo string
	if err := app.Object(foreign, "/org/sbx/Test").Call("org.sbx.Test.Echo", 0, "self").Store(&echo); err != nil || echo != "echo: self" {
		t.Errorf("calling the name it owns inside: %q, %v", echo, err)
	}
	denMu.Lock()
	n := 0
	for _, d := range denials {
		if d.Kind == "own" {
			n++
		}
	}
	denMu.Unlock()
	if n != 2 {
		t.Errorf("%d own denials recorded, want 2 (owning on the bus was refused)", n)
	}
	if r, err := app.ReleaseName(foreign); err != nil || r != dbus.ReleaseNameReplyReleased {
		t.Errorf("releasing it: %v, %v", r, err)
	}
	if r, err := app.ReleaseName(foreign); err != nil || r != dbus.ReleaseNameReplyNonExistent {
		t.Errorf("releasing it again: %v, %v, want non-existent", r, err)
	}
	// The bus driver's name and unique names are never owned.
	for _, name := range []string{"org.freedesktop.DBus", ":1.1", "noDots"} {
		if _, err := app.RequestName(name, 0); dbusErrName(err) != errAccessDenied {
			t.Errorf("owning %q: %v, want AccessDenied", name, err)
		}
	}
}

func TestListNamesFiltered(t *testing.T) {
	bus := startBus(t)
	startService(t, bus, "org.sbx.Test")
	startService(t, bus, "org.sbx.Hidden")
	_, app := startProxy(t, bus, Policy{Talk: []string{"org.sbx.Test"}}, nil)
	var names []string
	if err := app.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(names, " ")
	if !strings.Contains(all, "org.sbx.Test") || strings.Contains(all, "org.sbx.Hidden") {
		t.Fatalf("ListNames = %v", names)
	}
	var has bool
	app.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.sbx.Hidden").Store(&has)
	if has {
		t.Error("NameHasOwner reveals a hidden name")
	}
	var owner string
	if err := app.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, "org.sbx.Hidden").Store(&owner); err == nil {
		t.Errorf("GetNameOwner of a hidden name = %q", owner)
	}
}

func TestEavesdropAndMonitorRefused(t *testing.T) {
	bus := startBus(t)
	_, app := startProxy(t, bus, Policy{}, nil)
	for _, rule := range []string{"eavesdrop=true", "type='signal', EAVESDROP = 'true'", "eavesdrop='true',type='method_call'"} {
		if err := app.BusObject().Call("org.freedesktop.DBus.AddMatch", 0, rule).Err; dbusErrName(err) != errAccessDenied {
			t.Errorf("AddMatch(%q) = %v, want AccessDenied", rule, err)
		}
	}
	if err := app.BusObject().Call("org.freedesktop.DBus.AddMatch", 0, "type='signal'").Err; err != nil {
		t.Errorf("an ordinary match rule was refused: %v", err)
	}
	err := app.BusObject().Call("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, []string{}, uint32(0)).Err
	if dbusErrName(err) != errAccessDenied {
		t.Errorf("BecomeMonitor = %v, want AccessDenied", err)
	}
}

func TestSignalsFiltered(t *testing.T) {
	bus := startBus(t)
	svc := startService(t, bus, "org.sbx.Test")
	other := startService(t, bus, "org.sbx.Other")
	_, app := startProxy(t, bus, Policy{Talk: []string{"org.sbx.Test"}}, nil)
	if err := app.AddMatchSignal(dbus.WithMatchInterface("org.sbx.Sig")); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan *dbus.Signal, 10)
	app.Signal(sigs)
	// Talk to the service once so its unique name is known.
	app.Object("org.sbx.Test", "/org/sbx/Test").Call("org.sbx.Test.Echo", 0, "x")
	other.Emit("/x", "org.sbx.Sig.Ping", "from other")
	svc.Emit("/x", "org.sbx.Sig.Ping", "from test")
	select {
	case s := <-sigs:
		if s.Body[0] != "from test" {
			t.Fatalf("got signal %v, want only the talked-to service's", s.Body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no signal from the allowed service")
	}
	select {
	case s := <-sigs:
		if s.Name == "org.sbx.Sig.Ping" {
			t.Fatalf("an invisible peer's signal went through: %v", s.Body)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

func TestMalformedClientDisconnected(t *testing.T) {
	bus := startBus(t)
	p, _ := startProxy(t, bus, Policy{}, nil)
	sock := filepath.Join(t.TempDir(), "p2")
	l, _ := net.Listen("unix", sock)
	go p.Serve(l)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "\x00AUTH EXTERNAL %x\r\nBEGIN\r\n", fmt.Sprint(os.Getuid()))
	bufio.NewReader(c).ReadString('\n')
	c.Write([]byte("garbage that is not a D-Bus message at all, padded......"))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(make([]byte, 16)); err == nil {
		t.Fatal("the proxy kept a malformed client connected")
	}
	// The bus and other clients are unaffected.
	_, app := startProxy(t, bus, Policy{}, nil)
	if err := app.BusObject().Call("org.freedesktop.DBus.GetId", 0).Err; err != nil {
		t.Fatalf("after a malformed client: %v", err)
	}
}

func TestNoGoroutineLeaks(t *testing.T) {
	bus := startBus(t)
	before := runtime.NumGoroutine()
	p, err := New(Options{Upstream: bus})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "p")
	l, _ := net.Listen("unix", sock)
	go p.Serve(l)
	for range 5 {
		c, err := dbus.Connect("unix:path=" + sock)
		if err != nil {
			t.Fatal(err)
		}
		c.BusObject().Call("org.freedesktop.DBus.GetId", 0)
		c.Close()
	}
	p.Close()
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > before+1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+1 {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left (before: %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	bus := startBus(b)
	startService(b, bus, "org.sbx.Test")
	_, app := startProxy(b, bus, Policy{Talk: []string{"org.sbx.Test"}}, nil)
	direct, err := dbus.Connect("unix:path=" + bus)
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	for _, c := range []struct {
		name string
		conn *dbus.Conn
	}{{"direct", direct}, {"proxy", app}} {
		b.Run(c.name, func(b *testing.B) {
			obj := c.conn.Object("org.sbx.Test", "/org/sbx/Test")
			for i := 0; i < b.N; i++ {
				if err := obj.Call("org.sbx.Test.Echo", 0, "x").Err; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignalStream measures signals delivered per second to an app, directly and
// through the proxy (reported as ns per signal).
func BenchmarkSignalStream(b *testing.B) {
	bus := startBus(b)
	svc := startService(b, bus, "org.sbx.Test")
	_, viaProxy := startProxy(b, bus, Policy{Talk: []string{"org.sbx.Test"}}, nil)
	direct, err := dbus.Connect("unix:path=" + bus)
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	for _, c := range []struct {
		name string
		conn *dbus.Conn
	}{{"direct", direct}, {"proxy", viaProxy}} {
		b.Run(c.name, func(b *testing.B) {
			// Learn the sender so the proxy lets its signals through.
			c.conn.Object("org.sbx.Test", "/org/sbx/Test").Call("org.sbx.Test.Echo", 0, "x")
			c.conn.AddMatchSignal(dbus.WithMatchInterface("org.sbx.Stream"))
			ch := make(chan *dbus.Signal, 1024)
			c.conn.Signal(ch)
			defer c.conn.RemoveSignal(ch)
			b.ResetTimer()
			go func() {
				for i := 0; i < b.N; i++ {
					svc.Emit("/s", "org.sbx.Stream.Tick", uint32(i))
				}
			}()
			for got := 0; got < b.N; {
				select {
				case s := <-ch:
					if s.Name == "org.sbx.Stream.Tick" {
						got++
					}
				case <-time.After(10 * time.Second):
					b.Fatalf("received %d of %d signals", got, b.N)
				}
			}
		})
	}
}
