package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestRuntimeDirPrivate: the app's $XDG_RUNTIME_DIR, where the brokers put the sockets of
// the display, sound server and bus, is the app user's own directory with mode 0700 (the
// XDG Base Directory spec; Qt warns about any other), in which the app makes files of its
// own, as root and as an ordinary user.
func TestRuntimeDirPrivate(t *testing.T) {
	dir, err := os.MkdirTemp("", "sbx-rtdir-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	// A Wayland "compositor" that only listens: the app never connects, the launcher only
	// checks the socket is there to broker it.
	l, err := net.Listen("unix", filepath.Join(dir, "wayland-sbx"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	os.Chmod(filepath.Join(dir, "wayland-sbx"), 0o777)
	prof := filepath.Join(dir, "wl.toml")
	os.WriteFile(prof, []byte("description = \"wayland\"\n[display]\nwayland = true\n"), 0o644)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := sbxtest.Run(t, u, "", "", "env", "XDG_RUNTIME_DIR="+dir, "WAYLAND_DISPLAY=wayland-sbx",
				sbxtest.Binary(t), "run", "--profile", prof, "--", "/bin/sh", "-c",
				`stat -c '%a %u %F' "$XDG_RUNTIME_DIR" && test -S "$WAYLAND_DISPLAY" && mkdir "$XDG_RUNTIME_DIR/app" && echo made`)
			want := "700 " + strconv.Itoa(u.UID) + " directory\nmade\n"
			if r.Code != 0 || r.Stdout != want {
				t.Errorf("runtime directory: exit %d, stdout %q, want %q\n%s", r.Code, r.Stdout, want, r.Stderr)
			}
		})
	}
}

// TestGApplicationRegisters runs a GApplication (GLib's application class, which GTK apps
// are) under a profile that does not let it own its ID on the session bus: it registers
// (it owns the name inside the sandbox only) and runs, where it exited with "Failed to
// register" before; the bus itself never sees the name.
func TestGApplicationRegisters(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed (make test installs it)")
	}
	if exec.Command("/usr/bin/python3", "-c", "import gi; gi.require_version('Gio', '2.0'); from gi.repository import Gio").Run() != nil {
		t.Skip("python3-gi is not installed (make test installs it)")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	sock := startTestBus(t, dir)
	script := filepath.Join(dir, "app.py")
	// Once activated the app asks its bus who owns its ID and waits for a line on stdin,
	// holding the name while the test asks the real bus the same.
	os.WriteFile(script, []byte(`import sys
from gi.repository import Gio, GLib
app = Gio.Application(application_id="org.sbx.DesktopAppsTest", flags=Gio.ApplicationFlags.FLAGS_NONE)
def activate(a):
    bus = a.get_dbus_connection()
    owner = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
        GLib.Variant("(s)", ("org.sbx.DesktopAppsTest",)), None, 0, -1, None).unpack()[0]
    print("activated remote=%s owner-is-self=%s" % (a.get_is_remote(), owner == bus.get_unique_name()), flush=True)
    sys.stdin.readline()
app.connect("activate", activate)
sys.exit(app.run(None))
`), 0o644)
	prof := filepath.Join(dir, "bus.toml")
	os.WriteFile(prof, []byte("description = \"a bus app\"\n[dbus]\ntalk = [\"org.freedesktop.Notifications\"]\n"), 0o644)
	rt := t.TempDir()
	cmd := exec.Command(sbxtest.Binary(t), sbxtest.WithPlatform([]string{"run", "--profile", prof, "--ro", dir, "--", "/usr/bin/python3", script})...)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=unix:path="+sock, "XDG_RUNTIME_DIR="+rt)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "activated remote=False owner-is-self=True\n" {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("the GApplication printed %q, want it activated as the primary instance owning its ID\n%s", line, stderr.String())
	}
	has, err := exec.Command("dbus-send", "--bus=unix:path="+sock, "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
		"org.freedesktop.DBus.NameHasOwner", "string:org.sbx.DesktopAppsTest").CombinedOutput()
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("the GApplication exited with %v\n%s", err, stderr.String())
	}
	if !strings.Contains(string(has), "boolean false") {
		t.Errorf("the bus sees the name the app owns inside the sandbox: %v\n%s", err, has)
	}
}
