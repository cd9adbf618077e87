package dbusproxy

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// TestAgreesWithXdgDbusProxy runs the same cases through Debian's xdg-dbus-proxy with an
// equivalent policy and requires the same outcome (allowed or refused) from both.
func TestAgreesWithXdgDbusProxy(t *testing.T) {
	if _, err := exec.LookPath("xdg-dbus-proxy"); err != nil {
		t.Skip("xdg-dbus-proxy is not installed (make test installs it)")
	}
	bus := startBus(t)
	startService(t, bus, "org.sbx.Test")
	startService(t, bus, "org.sbx.Hidden")
	sock := filepath.Join(t.TempDir(), "xdg")
	cmd := exec.Command("xdg-dbus-proxy", "unix:path="+bus, sock, "--filter", "--talk=org.sbx.Test", "--own=org.sbx.App.*")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// The socket file appears at bind, before the proxy listens: wait until a connection
	// goes through.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
	}
	xdg, err := dbus.Connect("unix:path=" + sock)
	if err != nil {
		t.Fatalf("connecting through xdg-dbus-proxy: %v", err)
	}
	defer xdg.Close()
	_, ours := startProxy(t, bus, Policy{Talk: []string{"org.sbx.Test"}, Own: []string{"org.sbx.App.*"}}, nil)
	host, err := dbus.Connect("unix:path=" + bus)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()

	owned := 0
	cases := []struct {
		name string
		run  func(c *dbus.Conn) bool // reports whether the operation succeeded
	}{
		{"call an allowed name", func(c *dbus.Conn) bool {
			return c.Object("org.sbx.Test", "/org/sbx/Test").Call("org.sbx.Test.Echo", 0, "x").Err == nil
		}},
		{"call a hidden name", func(c *dbus.Conn) bool {
			return c.Object("org.sbx.Hidden", "/org/sbx/Test").Call("org.sbx.Test.Echo", 0, "x").Err == nil
		}},
		{"own an allowed name", func(c *dbus.Conn) bool {
			owned++ // each proxy asks for a name of its own: both share one bus
			r, err := c.RequestName(fmt.Sprintf("org.sbx.App.N%d", owned), 0)
			return err == nil && r == dbus.RequestNameReplyPrimaryOwner
		}},
		{"own a foreign name on the bus", func(c *dbus.Conn) bool {
			// xdg-dbus-proxy refuses; sbx's proxy lets the app own it inside the sandbox
			// only (TestOwnNames): neither lets it reach the bus.
			c.RequestName("org.freedesktop.Notifications", 0)
			var has bool
			host.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.Notifications").Store(&has)
			return has
		}},
		{"ListNames shows the hidden name", func(c *dbus.Conn) bool {
			var names []string
			c.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names)
			return strings.Contains(strings.Join(names, " "), "org.sbx.Hidden")
		}},
		{"ListNames shows the allowed name", func(c *dbus.Conn) bool {
			var names []string
			c.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names)
			return strings.Contains(strings.Join(names, " "), "org.sbx.Test")
		}},
		{"NameHasOwner of the hidden name", func(c *dbus.Conn) bool {
			var has bool
			c.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.sbx.Hidden").Store(&has)
			return has
		}},
	}
	for _, tc := range cases {
		x, o := tc.run(xdg), tc.run(ours)
		if x != o {
			t.Errorf("%s: xdg-dbus-proxy %v, sbx %v", tc.name, x, o)
		}
	}
}
