package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// xvfb is an X server a test started on a free display, with an Xauthority cookie.
type xvfb struct {
	display string
	auth    string
	cmd     *exec.Cmd
	// windowWait bounds the wait for an app's window (30 s when zero).
	windowWait time.Duration
}

// startAuthXvfb starts Xvfb on a free display (its socket and lock file absent), requiring the
// cookie in a fresh Xauthority file; args are extra server options. -noreset: Xvfb would
// otherwise reset when its last client leaves and refuse the next one for a moment.
func startAuthXvfb(t *testing.T, dir string, args ...string) *xvfb {
	t.Helper()
	for _, tool := range []string{"Xvfb", "xauth", "import", "compare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	for attempt := 0; attempt < 20; attempt++ {
		b := make([]byte, 2)
		rand.Read(b)
		n := 200 + (int(b[0])<<8|int(b[1]))%5000
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		x := &xvfb{display: ":" + strconv.Itoa(n), auth: filepath.Join(dir, "Xauthority")}
		cookie := make([]byte, 16)
		rand.Read(cookie)
		os.WriteFile(x.auth, nil, 0o644)
		if out, err := exec.Command("xauth", "-f", x.auth, "add", x.display, ".", hex.EncodeToString(cookie)).CombinedOutput(); err != nil {
			t.Fatalf("xauth: %v: %s", err, out)
		}
		os.Chmod(x.auth, 0o644)
		x.cmd = exec.Command("Xvfb", append([]string{x.display, "-auth", x.auth, "-nolisten", "tcp", "-noreset", "-screen", "0", "320x240x24"}, args...)...)
		if err := x.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { x.cmd.Wait(); close(exited) }()
		// Another test may have picked the same display a moment before: the server is
		// ours once the lock file names its PID; if it exits (the display is taken), try
		// another.
		lock := fmt.Sprintf("/tmp/.X%d-lock", n)
		ours := func() bool {
			b, _ := os.ReadFile(lock)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			_, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
			return pid == x.cmd.Process.Pid && err == nil
		}
		started, lost := false, false
		for deadline := time.Now().Add(sbxtest.Timeout); !started && !lost && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			select {
			case <-exited:
				lost = true
			default:
				started = ours()
			}
		}
		if lost {
			continue
		}
		t.Cleanup(func() { x.cmd.Process.Kill(); <-exited })
		if !started {
			t.Fatalf("Xvfb %s did not start", x.display)
		}
		return x
	}
	t.Skip("no free X display found")
	return nil
}

func (x *xvfb) env() []string {
	return append(os.Environ(), "DISPLAY="+x.display, "XAUTHORITY="+x.auth)
}

// screenshot runs argv until its window (named window) is mapped and the screen has
// stopped changing, grabs the screen, and stops it.
func (x *xvfb) screenshot(t *testing.T, png, blank, window string, argv ...string) {
	t.Helper()
	x.screenshotThen(t, png, blank, window, nil, argv...)
}

// screenshotThen is screenshot, calling then (when not nil) after the grab, while the app
// still runs.
func (x *xvfb) screenshotThen(t *testing.T, png, blank, window string, then func(), argv ...string) {
	t.Helper()
	grab := func() {
		imp := exec.Command("import", "-window", "root", png)
		imp.Env = x.env()
		if out, err := imp.CombinedOutput(); err != nil {
			t.Fatalf("import: %v: %s", err, out)
		}
	}
	// The previous app's window must be gone first (a sandbox ends a moment after its
	// launcher is killed).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		grab()
		if differingPixels(t, blank, png) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the screen did not clear after the previous app")
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = x.env()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() { cmd.Process.Kill(); <-exited }()
	wait := x.windowWait
	if wait == 0 {
		wait = 30 * time.Second
	}
	for deadline := time.Now().Add(wait); !x.viewable(window); time.Sleep(100 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("%v exited before its window %q showed: %s", argv, window, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: no viewable window %q within %v: %s", argv, window, wait, stderr.String())
		}
	}
	// Mapped is not drawn: wait until two grabs in a row are the same picture.
	prev := png + ".prev.png"
	grab()
	for deadline := time.Now().Add(sbxtest.Timeout); ; {
		os.Rename(png, prev)
		time.Sleep(150 * time.Millisecond)
		grab()
		if differingPixels(t, blank, png) > 500 && differingPixels(t, prev, png) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: the screen did not settle within %v", argv, sbxtest.Timeout)
		}
	}
	os.Remove(prev)
	if then != nil {
		then()
	}
}

// viewable reports whether a window named name is mapped and viewable.
func (x *xvfb) viewable(name string) bool {
	cmd := exec.Command("xwininfo", "-name", name)
	cmd.Env = x.env()
	out, err := cmd.Output()
	return err == nil && strings.Contains(string(out), "Map State: IsViewable")
}

// differingPixels counts the pixels that differ between two screenshots.
func differingPixels(t *testing.T, a, b string) int {
	t.Helper()
	out, _ := exec.Command("compare", "-metric", "AE", a, b, "null:").CombinedOutput()
	f := strings.Fields(string(out))
	if len(f) == 0 {
		t.Fatalf("compare printed nothing")
	}
	n, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatalf("compare: %s", out)
	}
	return int(n)
}

// TestX11Apps runs X clients under sbx on the user's display (Xvfb with a cookie, MIT-SHM on
// and off): each draws what it draws natively, pixel for pixel within a small threshold
// (anti-aliasing aside, none is expected). xterm runs a shell on one of the kernel's ptys;
// zenity is a GTK3 app.
func TestX11Apps(t *testing.T) {
	bin := sbxtest.Binary(t)
	// window names the app's window once it is ready: xterm's shell renames it after
	// printing its line.
	type app struct {
		argv   []string
		window string
	}
	xeyes := app{[]string{"xeyes"}, "xeyes"}
	xterm := app{[]string{"xterm", "-geometry", "30x6+0+0", "-e", "/bin/sh", "-c", `test -t 0 && echo hello from $(id -un); printf '\033]2;sbx-ready\007'; sleep 30`}, "sbx-ready"}
	zenity := app{[]string{"zenity", "--info", "--text=hello", "--width=200", "--title=sbx-zenity"}, "sbx-zenity"} // GTK3
	cases := []struct {
		name  string
		shm   string
		users []sbxtest.User
		apps  []app
	}{
		{"MIT-SHM-on", "+extension", sbxtest.Users()[:1], []app{xeyes, xterm, zenity}},
		{"MIT-SHM-on", "+extension", sbxtest.Users()[1:], []app{xeyes, xterm}},
		{"MIT-SHM-off", "-extension", sbxtest.Users()[:1], []app{xeyes}},
	}
	for _, c := range cases {
		for _, u := range c.users {
			t.Run(c.name+"/"+u.Name, func(t *testing.T) {
				dir, err := os.MkdirTemp("", "sbx-x11-")
				if err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(dir)
				os.Chmod(dir, 0o755)
				x := startAuthXvfb(t, dir, c.shm, "MIT-SHM")
				blank := filepath.Join(dir, "blank.png")
				imp := exec.Command("import", "-window", "root", blank)
				imp.Env = x.env()
				if out, err := imp.CombinedOutput(); err != nil {
					t.Fatalf("import: %v: %s", err, out)
				}
				for _, a := range c.apps {
					app := a.argv
					if _, err := exec.LookPath(app[0]); err != nil {
						t.Logf("%s is not installed (make test installs it)", app[0])
						continue
					}
					native := filepath.Join(dir, app[0]+"-native.png")
					sandboxed := filepath.Join(dir, app[0]+"-sbx.png")
					x.screenshot(t, native, blank, a.window, u.Wrap(app)...)
					x.screenshot(t, sandboxed, blank, a.window, u.Wrap(append([]string{bin, "run", "--profile", "xterm", "--"}, app...))...)
					const threshold = 320 * 240 / 100 // 1% of the screen
					drawn := differingPixels(t, blank, sandboxed)
					if drawn < 500 {
						t.Errorf("%s under sbx drew nothing (%d pixels differ from the empty screen)", app[0], drawn)
					}
					if d := differingPixels(t, native, sandboxed); d > threshold {
						t.Errorf("%s under sbx differs from native in %d pixels (threshold %d)", app[0], d, threshold)
					} else {
						t.Logf("%s: %d pixels drawn, %d differ from native", app[0], drawn, d)
					}
				}
			})
		}
	}
}

// BenchmarkX11Drawing runs x11perf's 10x10 rectangle and PutImage tests natively and under
// sbx (through the X11 proxy) on Xvfb and reports operations per second and their ratio.
func BenchmarkX11Drawing(b *testing.B) {
	for _, tool := range []string{"Xvfb", "x11perf"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is not installed", tool)
		}
	}
	dir := b.TempDir()
	os.Chmod(dir, 0o755)
	// A display Xvfb picks itself: one picked here could be another run's a moment later.
	display := startXvfb(b, "800x600x24")
	env := append(os.Environ(), "DISPLAY="+display)
	env = append(env, "XAUTHORITY="+filepath.Join(dir, "none"))
	run := func(argv ...string) map[string]float64 {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out)
		}
		rates := map[string]float64{}
		for _, line := range strings.Split(string(out), "\n") {
			_, rest, ok := strings.Cut(line, "(")
			if !ok {
				continue
			}
			rate, name, ok := strings.Cut(rest, "/sec): ")
			if v, err := strconv.ParseFloat(rate, 64); ok && err == nil {
				rates[name] = v
			}
		}
		return rates
	}
	perf := []string{"x11perf", "-repeat", "1", "-time", "1", "-rect10", "-putimage10"}
	if b.N == 1 {
		// CI's -benchtime=1x keeps the benchmark working without x11perf's seconds of
		// calibration: a client's round trips through the proxy.
		run("xdpyinfo")
		run(sbxtest.Binary(b), "run", "--profile", "xterm", "--", "xdpyinfo")
		return
	}
	native := run(perf...)
	sandboxed := run(append([]string{sbxtest.Binary(b), "run", "--profile", "xterm", "--"}, perf...)...)
	for name, key := range map[string]string{"10x10 rectangle": "rect10", "PutImage 10x10 square": "putimage10"} {
		b.ReportMetric(native[name], key+"-native-ops/s")
		b.ReportMetric(sandboxed[name], key+"-sbx-ops/s")
		if sandboxed[name] > 0 {
			b.ReportMetric(native[name]/sandboxed[name], key+"-slowdown")
		}
	}
}

// TestX11Nested runs apps under sbx with x11 = "nested" on the user's display (Xvfb): they
// get an X server of their own (Xephyr, a window titled "sbx: <profile>" on the user's
// display), cannot reach the user's display, and the nested server is gone afterwards.
func TestX11Nested(t *testing.T) {
	for _, tool := range []string{"Xephyr", "xwininfo", "xdpyinfo", "xeyes"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	bin := sbxtest.Binary(t)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "sbx-nested-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			os.Chmod(dir, 0o755)
			x := startAuthXvfb(t, dir)
			prof := filepath.Join(dir, "nestedx.toml")
			os.WriteFile(prof, []byte("description = \"nested\"\n[display]\nx11 = \"nested\"\n"), 0o644)
			run := func(argv ...string) *exec.Cmd {
				full := u.Wrap(append([]string{"env", "DISPLAY=" + x.display, "XAUTHORITY=" + x.auth, bin},
					sbxtest.WithPlatform(append([]string{"run", "--profile", prof, "--"}, argv...))...))
				return exec.Command(full[0], full[1:]...)
			}
			out, err := run("/bin/sh", "-c", "echo display=$DISPLAY; xwininfo -root | grep Width; "+
				"xdpyinfo -display "+x.display+" >/dev/null 2>&1 && echo user display reachable || echo user display unreachable").CombinedOutput()
			if err != nil {
				t.Fatalf("sbx run: %v\n%s", err, out)
			}
			got := string(out)
			if strings.Contains(got, "display="+x.display+"\n") || !strings.Contains(got, "Width: 1024") ||
				!strings.Contains(got, "user display unreachable") {
				t.Fatalf("inside a nested display, got:\n%s\nwant another display than %s, 1024 pixels wide, and the user's display unreachable", got, x.display)
			}
			disp := strings.TrimPrefix(strings.Fields(got)[0], "display=")
			// The nested server is a window on the user's display while an app runs.
			app := run("xeyes")
			var stderr strings.Builder
			app.Stderr = &stderr
			if err := app.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { app.Wait(); close(exited) }()
			for deadline := time.Now().Add(30 * time.Second); !x.viewable("sbx: nestedx"); time.Sleep(100 * time.Millisecond) {
				select {
				case <-exited:
					t.Fatalf("xeyes under sbx exited: %s", stderr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("no window \"sbx: nestedx\" on the user's display within 30 s: %s", stderr.String())
				}
			}
			app.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(sbxtest.Timeout):
				app.Process.Kill()
				t.Fatal("sbx run did not end on SIGINT")
			}
			if _, err := os.Stat("/tmp/.X11-unix/X" + strings.TrimPrefix(disp, ":")); err == nil {
				t.Errorf("the nested server's socket %s outlived the sandbox", disp)
			}
		})
	}
}
