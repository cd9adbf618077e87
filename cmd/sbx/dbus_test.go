package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestDBusThroughProxy runs dbus-send inside sandboxes against a real dbus-daemon: a profile
// with a [dbus] section gets the filtering proxy, one without gets no bus at all.
func TestDBusThroughProxy(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed (make test installs it)")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	sock := startTestBus(t, dir)
	prof := filepath.Join(dir, "dbusapp.toml")
	os.WriteFile(prof, []byte("description = \"d-bus test\"\n[dbus]\nown = [\"org.sbx.Demo\"]\n"), 0o644)
	rt := t.TempDir()
	os.Chmod(rt, 0o700)
	run := func(profile string, args ...string) sbxtest.Result {
		cmd := append([]string{"env", "DBUS_SESSION_BUS_ADDRESS=unix:path=" + sock, "XDG_RUNTIME_DIR=" + rt,
			sbxtest.Binary(t), "run", "--profile", profile, "--"}, args...)
		return sbxtest.Run(t, sbxtest.Users()[0], "", "", cmd...)
	}
	send := []string{"/usr/bin/dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"}
	r := run(prof, append(send, "org.freedesktop.DBus.RequestName", "string:org.sbx.Demo", "uint32:0")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "uint32 1") {
		t.Errorf("owning an allowed name: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// A name the profile does not allow is owned inside the sandbox only (the proxy's
	// TestOwnNames checks that the bus never sees it).
	r = run(prof, append(send, "org.freedesktop.DBus.RequestName", "string:org.evil.Name", "uint32:0")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "uint32 1") {
		t.Errorf("owning a foreign name inside the sandbox: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = run("default", "/bin/sh", "-c", "echo bus=$DBUS_SESSION_BUS_ADDRESS; ls /run/user 2>&1")
	if strings.Contains(r.Stdout, "unix:path") || strings.Contains(r.Stdout, "bus\n") {
		t.Errorf("a profile without [dbus] got a bus:\n%s", r.Stdout)
	}
}

// startTestBus starts a session dbus-daemon listening on dir/bus, which lets anyone own
// any name and eavesdrop (the tests check what the proxy lets through, not the bus's own
// policy), and stops it when the test ends. It returns the socket's path.
func startTestBus(t *testing.T, dir string) string {
	t.Helper()
	sock := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	os.WriteFile(conf, []byte(`<busconfig><type>session</type><listen>unix:path=`+sock+`</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`), 0o644)
	bus := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address")
	out, _ := bus.StdoutPipe()
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Process.Kill(); bus.Wait() })
	bufio.NewReader(out).ReadString('\n') // the address: the bus listens
	return sock
}
