package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// xdgShell is the protocol file wayland-scanner turns into the xdg-shell client code.
const xdgShell = "/usr/share/wayland-protocols/stable/xdg-shell/xdg-shell.xml"

// buildWlkeymap compiles testdata/wlkeymap.c with the xdg-shell code wayland-scanner
// generates, in a directory every test user can read.
func buildWlkeymap(t *testing.T) (dir, exe string) {
	t.Helper()
	for _, need := range []struct{ path, pkg string }{
		{xdgShell, "wayland-protocols"},
		{"/usr/include/wayland-client.h", "libwayland-dev"},
		{"/usr/include/xkbcommon/xkbcommon.h", "libxkbcommon-dev"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			t.Skipf("%s is missing (make test installs %s)", need.path, need.pkg)
		}
	}
	for _, tool := range []string{"gcc", "wayland-scanner", "xdotool", "Xvfb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "sbx-wlkeymap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	src, err := filepath.Abs("testdata/wlkeymap.c")
	if err != nil {
		t.Fatal(err)
	}
	exe = filepath.Join(dir, "wlkeymap")
	for _, argv := range [][]string{
		{"wayland-scanner", "client-header", xdgShell, filepath.Join(dir, "xdg-shell-client-protocol.h")},
		{"wayland-scanner", "private-code", xdgShell, filepath.Join(dir, "xdg-shell-protocol.c")},
		{"gcc", "-O1", "-Wall", "-I", dir, "-o", exe, src, filepath.Join(dir, "xdg-shell-protocol.c"), "-lwayland-client", "-lxkbcommon"},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	return dir, exe
}

// TestWaylandKeymap runs a Wayland client that receives the compositor's keymap under sbx:
// weston runs with its X11 backend in an Xvfb the test starts, because that backend has a
// seat with a keyboard (the headless one has none and sends no keymap). wlkeymap.c shows a
// window drawn from a memfd-backed wl_shm buffer, maps the keymap file weston passes
// through wl_keyboard.keymap, compiles it with xkbcommon and prints its size and a hash of
// its bytes; the test sees the window in a screenshot, types two keys into Xvfb that weston
// forwards and that the client translates with that keymap, then closes the client's
// stdin, and it must exit cleanly. Its output under sbx must equal its output natively.
func TestWaylandKeymap(t *testing.T) {
	dir, exe := buildWlkeymap(t)
	display := startXvfb(t)
	w := startWeston(t, display)
	prof := filepath.Join(dir, "wl.toml")
	os.WriteFile(prof, []byte("description = \"wayland only\"\n[display]\nwayland = true\n"), 0o644)
	grey := w.colourful(t)
	xdotool := func(t *testing.T, args ...string) {
		t.Helper()
		cmd := exec.Command("xdotool", args...)
		cmd.Env = append(os.Environ(), "DISPLAY="+display)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xdotool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run := func(t *testing.T, u sbxtest.User, argv []string) string {
		t.Helper()
		// The last run's window fades out: wait for the bare desktop, so that what the
		// screenshot shows below is this run's window.
		for deadline := time.Now().Add(30 * time.Second); w.colourful(t)-grey > 1000; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the last run's window is still on the screen 30 s after it exited")
			}
		}
		full := u.Wrap(argv)
		cmd := exec.Command(full[0], full[1:]...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		lines := make(chan string, 16)
		go func() {
			s := bufio.NewScanner(stdout)
			for s.Scan() {
				lines <- s.Text()
			}
			close(lines)
		}()
		var out strings.Builder
		// await reads lines until one equals want.
		await := func(want string) {
			t.Helper()
			timeout := time.After(30 * time.Second)
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						cmd.Wait()
						t.Fatalf("wlkeymap ended before printing %q\n%s%s", want, out.String(), stderr.String())
					}
					out.WriteString(l + "\n")
					if l == want {
						return
					}
				case <-timeout:
					t.Fatalf("wlkeymap printed no %q within 30 s\n%s%s", want, out.String(), stderr.String())
				}
			}
		}
		await("ready")
		// The window fades in: look until it is all there.
		drawn := 0
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if drawn = w.colourful(t) - grey; drawn >= 20000 {
				break
			}
		}
		t.Logf("%d more colourful pixels than the bare desktop", drawn)
		if drawn < 20000 {
			t.Fatalf("the screen shows %d more colourful pixels than the bare desktop, want wlkeymap's 200x150 window\n%s%s", drawn, out.String(), stderr.String())
		}
		// The X pointer in weston's window gives it the X keyboard; weston gives the keys to
		// its active window, the client's.
		xdotool(t, "mousemove", "160", "120")
		xdotool(t, "key", "b", "shift+q")
		await("key: Q")
		stdin.Close()
		timeout := time.After(30 * time.Second)
		for open := true; open; {
			select {
			case l, ok := <-lines:
				if open = ok; ok {
					out.WriteString(l + "\n")
				}
			case <-timeout:
				t.Fatalf("wlkeymap did not exit within 30 s of its stdin closing\n%s%s", out.String(), stderr.String())
			}
		}
		err = cmd.Wait()
		if err != nil || !strings.HasSuffix(out.String(), "done\n") {
			t.Fatalf("wlkeymap: %v, want a clean exit\n%s%s", err, out.String(), stderr.String())
		}
		return out.String()
	}
	native := run(t, sbxtest.Users()[0], append(append([]string{"env"}, w.env()...), exe))
	if !strings.HasPrefix(native, "keymap: format 1 size ") || !strings.Contains(native, "key-38 a\n") ||
		!strings.Contains(native, "key: b\n") {
		t.Fatalf("natively, wlkeymap printed\n%s\nwant a compiled xkb keymap and the key b", native)
	}
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			argv := append(append([]string{"env"}, w.env()...), append([]string{sbxtest.Binary(t)},
				sbxtest.WithPlatform([]string{"run", "--profile", prof, "--ro", dir, "--", exe})...)...)
			if got := run(t, u, argv); got != native {
				t.Fatalf("under sbx wlkeymap printed\n%s\nnatively\n%s", got, native)
			}
		})
	}
}
