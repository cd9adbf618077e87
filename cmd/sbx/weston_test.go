package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// weston is a weston (pixman renderer, so that its screenshooter reads real pixels) on a
// private runtime directory: headless, or in a window of an X server (display) when the test
// needs a seat (the headless backend has none, so it sends no keymap).
type weston struct {
	rt, name string
	shots    string // where weston-screenshooter writes
}

func startWeston(t *testing.T, display string) *weston {
	t.Helper()
	for _, tool := range []string{"weston", "weston-info", "weston-simple-shm", "weston-screenshooter"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs weston)", tool)
		}
	}
	rt, err := os.MkdirTemp("", "sbx-weston-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rt) })
	b := make([]byte, 4)
	rand.Read(b)
	w := &weston{rt: rt, name: "wayland-sbx-" + hex.EncodeToString(b), shots: filepath.Join(rt, "shots")}
	os.Mkdir(w.shots, 0o700)
	backend := "--backend=headless-backend.so"
	if display != "" {
		backend = "--backend=x11-backend.so"
	}
	cmd := exec.Command("weston", backend, "--use-pixman", "--width=320", "--height=240",
		"--socket="+w.name, "--idle-time=0", "--debug")
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	if display != "" {
		cmd.Env = append(cmd.Env, "DISPLAY="+display)
	}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sock := filepath.Join(rt, w.name)
	for deadline := time.Now().Add(sbxtest.Timeout); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("weston did not start:\n%s", log.String())
		}
	}
	// The test users' brokers connect as themselves.
	os.Chmod(rt, 0o711)
	os.Chmod(sock, 0o777)
	return w
}

func (w *weston) env() []string {
	return []string{"XDG_RUNTIME_DIR=" + w.rt, "WAYLAND_DISPLAY=" + w.name}
}

// colourful counts the pixels of a fresh screenshot whose channels differ by more than 64:
// weston's desktop is grey, simple-shm's pattern is not.
func (w *weston) colourful(t *testing.T) int {
	t.Helper()
	os.RemoveAll(w.shots)
	os.Mkdir(w.shots, 0o700)
	cmd := exec.Command("weston-screenshooter")
	cmd.Dir, cmd.Env = w.shots, append(os.Environ(), w.env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("weston-screenshooter: %v\n%s", err, out)
	}
	shots, _ := filepath.Glob(filepath.Join(w.shots, "*.png"))
	if len(shots) != 1 {
		t.Fatalf("weston-screenshooter wrote %v, want one PNG", shots)
	}
	f, err := os.Open(shots[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			hi, lo := max(cr, cg, cb)>>8, min(cr, cg, cb)>>8
			if hi-lo > 64 {
				n++
			}
		}
	}
	return n
}

var westonInterface = regexp.MustCompile(`interface: '([a-z_0-9]+)'`)

func interfaces(out string) []string {
	var names []string
	for _, m := range westonInterface.FindAllStringSubmatch(out, -1) {
		names = append(names, m[1])
	}
	sort.Strings(names)
	return names
}

// TestWaylandWeston connects Wayland clients under sbx (a profile with [display] wayland)
// to a headless weston the test starts: weston-info sees the compositor's globals as it
// does natively, and weston-simple-shm draws frames (wl_shm buffers in a memfd passed to
// the compositor) that weston's screenshooter sees, then exits cleanly on SIGINT. Debian
// 12's weston (10) offers no wp_security_context_v1, so connections are not tagged.
func TestWaylandWeston(t *testing.T) {
	w := startWeston(t, "")
	prof := filepath.Join(w.rt, "wl.toml")
	os.WriteFile(prof, []byte("description = \"wayland only\"\n[display]\nwayland = true\n"), 0o644)
	sbx := func(argv ...string) []string {
		return append(append([]string{"env"}, w.env()...), append([]string{sbxtest.Binary(t)},
			sbxtest.WithPlatform(append([]string{"run", "--profile", prof, "--"}, argv...))...)...)
	}
	native := sbxtest.Run(t, sbxtest.Users()[0], "", "", append(append([]string{"env"}, w.env()...), "weston-info")...)
	want := interfaces(native.Stdout)
	if len(want) < 5 {
		t.Fatalf("weston-info natively lists %v\n%s", want, native.Stderr)
	}
	grey := w.colourful(t)
	// simple-shm natively first: the check below must see its frames.
	shm := func(t *testing.T, u sbxtest.User, argv []string) {
		full := u.Wrap(argv)
		cmd := exec.Command(full[0], full[1:]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		drawn := 0
		for deadline := time.Now().Add(sbxtest.Timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if drawn = w.colourful(t) - grey; drawn > 20000 {
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("weston-simple-shm exited before drawing: %v\n%s", err, out.String())
			default:
			}
		}
		cmd.Process.Signal(os.Interrupt)
		var err error
		select {
		case err = <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("weston-simple-shm did not exit on SIGINT\n%s", out.String())
		}
		if drawn <= 20000 {
			t.Fatalf("the screen shows %d more colourful pixels than the bare desktop, want simple-shm's window (>20000)\n%s", drawn, out.String())
		}
		if err != nil || !strings.Contains(out.String(), "simple-shm exiting") {
			t.Fatalf("weston-simple-shm: %v, want a clean exit\n%s", err, out.String())
		}
	}
	shm(t, sbxtest.Users()[0], append(append([]string{"env"}, w.env()...), "weston-simple-shm"))
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := sbxtest.Run(t, u, "", "", sbx("weston-info")...)
			if got := interfaces(r.Stdout); r.Code != 0 || strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("weston-info under sbx: exit %d, interfaces %v, want %v\n%s", r.Code, got, want, r.Stderr)
			}
			t.Run("simple-shm", func(t *testing.T) {
				shm(t, u, sbx("weston-simple-shm"))
			})
		})
	}
}
