package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// desktopEnv is a scratch desktop session for one user: home, XDG directories, a profile
// directory and a runtime directory of their own, owned by that user.
type desktopEnv struct {
	dir, data, apps, home, run, profiles string
}

func newDesktopEnv(t *testing.T, u sbxtest.User) *desktopEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "sbx-desktop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	e := &desktopEnv{dir: dir, data: filepath.Join(dir, "data"), home: filepath.Join(dir, "home"),
		run: filepath.Join(dir, "run"), profiles: filepath.Join(dir, "profiles")}
	e.apps = filepath.Join(e.home, ".local/share/applications")
	for _, d := range []string{filepath.Join(e.data, "applications"), e.home, e.run, e.profiles} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(e.run, 0o700)
	// An app of the test's own that stays up long enough to be seen in sbx list, with a
	// profile found on SBX_PROFILE_PATH.
	os.WriteFile(filepath.Join(e.data, "applications", "sbxtest-sleeper.desktop"), []byte(
		"[Desktop Entry]\nType=Application\nName=Sleeper\nComment=Sleeps\nExec=sleep 30\nIcon=utilities-terminal\nCategories=Utility;\n"), 0o644)
	os.WriteFile(filepath.Join(e.profiles, "sbxtest-sleeper.toml"), []byte(
		"description = \"a test app that sleeps\"\nbinaries = [\"sleep\"]\n"), 0o644)
	if u.Name != "self" {
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, 65534, 65534) })
	}
	return e
}

func (e *desktopEnv) vars(display string) []string {
	v := []string{"env", "HOME=" + e.home, "XDG_DATA_HOME=" + filepath.Join(e.home, ".local/share"),
		"XDG_DATA_DIRS=" + e.data + ":/usr/share", "SBX_PROFILE_PATH=" + e.profiles, "XDG_RUNTIME_DIR=" + e.run}
	if display != "" {
		v = append(v, "DISPLAY="+display)
	}
	return v
}

func (e *desktopEnv) sbx(t *testing.T, u sbxtest.User, args ...string) sbxtest.Result {
	t.Helper()
	return sbxtest.Run(t, u, "", "", append(append(e.vars(""), sbxtest.Binary(t)), args...)...)
}

func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, _ := os.ReadDir(dir)
	for _, d := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, d.Name()))
		out[d.Name()] = string(b)
	}
	return out
}

// TestDesktopXterm is issue 17's acceptance for the menu: sbx desktop install xterm writes
// overrides desktop-file-validate accepts, that run xterm through sbx with its profile and
// keep the entry's other keys; sbx desktop remove leaves the menu as it was.
func TestDesktopXterm(t *testing.T) {
	for _, tool := range []string{"desktop-file-validate", "xterm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	if _, err := os.Stat("/usr/share/applications/debian-xterm.desktop"); err != nil {
		t.Skip("xterm's menu entry is not installed")
	}
	for _, u := range sbxtest.Users() {
		e := newDesktopEnv(t, u)
		before := snapshotDir(t, e.apps)
		list := e.sbx(t, u, "desktop", "list")
		if !strings.Contains(list.Stdout, "debian-xterm") || !strings.Contains(list.Stdout, "wrappable") {
			t.Fatalf("as %s: sbx desktop list does not offer xterm:\n%s%s", u.Name, list.Stdout, list.Stderr)
		}
		r := e.sbx(t, u, "desktop", "install", "xterm")
		if r.Code != 0 {
			t.Fatalf("as %s: sbx desktop install xterm: exit %d: %s", u.Name, r.Code, r.Stderr)
		}
		override := filepath.Join(e.apps, "debian-xterm.desktop")
		b, err := os.ReadFile(override)
		if err != nil {
			t.Fatalf("as %s: %v (stdout %s)", u.Name, err, r.Stdout)
		}
		for _, want := range []string{"\nExec=" + sbxtest.Binary(t) + " run --profile xterm -- xterm\n", "\nX-SBX-Profile=xterm\n",
			"\nIcon=mini.xterm\n", "\nCategories=System;TerminalEmulator;\n", "\nName=XTerm\n"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("as %s: the override lacks %q:\n%s", u.Name, strings.TrimSpace(want), b)
			}
		}
		for _, f := range []string{override, filepath.Join(e.apps, "debian-uxterm.desktop")} {
			if out, err := exec.Command("desktop-file-validate", f).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("as %s: desktop-file-validate %s: %v\n%s", u.Name, filepath.Base(f), err, out)
			}
		}
		if l := e.sbx(t, u, "desktop", "list"); !strings.Contains(l.Stdout, "wrapped") {
			t.Errorf("as %s: after install, list shows nothing wrapped:\n%s", u.Name, l.Stdout)
		}
		if r := e.sbx(t, u, "desktop", "remove", "xterm"); r.Code != 0 {
			t.Fatalf("as %s: sbx desktop remove xterm: exit %d: %s", u.Name, r.Code, r.Stderr)
		}
		if after := snapshotDir(t, e.apps); !equalMaps(before, after) {
			t.Errorf("as %s: after remove, %s holds %v; want it as before: %v", u.Name, e.apps, keys(after), keys(before))
		}
	}
}

// TestDesktopSystem runs the system-wide mode as root in a mount namespace of its own,
// where /usr/local/share is an empty tmpfs, so the machine's menu is never touched: install
// writes there, remove leaves it empty; a user cannot use it.
func TestDesktopSystem(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the system-wide mode needs root")
	}
	for _, tool := range []string{"unshare", "desktop-file-validate", "xterm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	script := `set -e
mount -t tmpfs tmpfs /usr/local/share
"$0" desktop --system install xterm
desktop-file-validate /usr/local/share/applications/debian-xterm.desktop
grep -x 'Exec='"$0"' run --profile xterm -- xterm' /usr/local/share/applications/debian-xterm.desktop
"$0" desktop --system list | grep -q '^debian-xterm  *wrapped  *xterm'
"$0" desktop --system remove --all
echo "left:"
ls -A /usr/local/share/applications`
	u := sbxtest.Users()[0]
	r := sbxtest.Run(t, u, "", "", "unshare", "--mount", "--propagation", "private", "sh", "-c", script, sbxtest.Binary(t))
	if r.Code != 0 || !strings.Contains(r.Stdout, "wrapped debian-xterm (profile xterm): /usr/local/share/applications/debian-xterm.desktop") {
		t.Fatalf("system-wide install/list/remove: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if _, left, _ := strings.Cut(r.Stdout, "left:\n"); left != "" {
		t.Errorf("after remove --all, /usr/local/share/applications still holds:\n%s", left)
	}
	for _, u := range sbxtest.Users()[1:] {
		r := sbxtest.Sbx(t, u, "desktop", "--system", "install", "xterm")
		if r.Code != exitUsage || !strings.Contains(r.Stderr, "run it as root") {
			t.Errorf("as %s: desktop --system install: exit %d, %q; want a usage error saying to run it as root", u.Name, r.Code, r.Stderr)
		}
	}
}

// TestDesktopLaunch starts a wrapped entry the way a desktop does, under Xvfb: by file with
// gio launch, and by desktop file ID with gtk-launch, which must find the override in front
// of the original. Each time the app shows in sbx list, running in sbx with its profile.
func TestDesktopLaunch(t *testing.T) {
	for _, tool := range []string{"gio", "Xvfb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it)", tool)
		}
	}
	display := startXvfb(t)
	apps := []struct{ id, entry, profile, app string }{
		// A test app that stays up, with a test profile.
		{"sbxtest-sleeper", "sbxtest-sleeper", "sbxtest-sleeper", "sleep"},
		// A real GUI app with a built-in profile: its window opens on the test's display.
		{"xterm", "debian-xterm", "xterm", "xterm"},
	}
	for _, u := range sbxtest.Users() {
		e := newDesktopEnv(t, u)
		for _, a := range apps {
			if a.id == "xterm" {
				if _, err := os.Stat("/usr/share/applications/debian-xterm.desktop"); err != nil {
					t.Logf("xterm's menu entry is not installed (make test installs xterm): %v", err)
					continue
				}
			}
			if r := e.sbx(t, u, "desktop", "install", a.id); r.Code != 0 {
				t.Fatalf("as %s: install %s: exit %d: %s", u.Name, a.id, r.Code, r.Stderr)
			}
			launchers := [][]string{{"gio", "launch", filepath.Join(e.apps, a.entry+".desktop")}}
			if _, err := exec.LookPath("gtk-launch"); err == nil {
				launchers = append(launchers, []string{"gtk-launch", a.entry})
			}
			for _, l := range launchers {
				launchAndFind(t, u, e, display, l, a.profile, a.app)
			}
		}
		if r := e.sbx(t, u, "desktop", "remove", "--all"); r.Code != 0 {
			t.Errorf("as %s: remove --all: exit %d: %s", u.Name, r.Code, r.Stderr)
		}
	}
}

func launchAndFind(t *testing.T, u sbxtest.User, e *desktopEnv, display string, launcher []string, profile, app string) {
	t.Helper()
	// The launched app outlives the launcher and inherits its output: a file, not a pipe to
	// wait on.
	logf, err := os.Create(filepath.Join(t.TempDir(), "launch.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	argv := u.Wrap(append(e.vars(display), launcher...))
	launch := exec.Command(argv[0], argv[1:]...)
	launch.Stdout, launch.Stderr = logf, logf
	if err := launch.Run(); err != nil {
		out, _ := os.ReadFile(logf.Name())
		t.Fatalf("as %s: %s: %v: %s", u.Name, launcher[0], err, out)
	}
	var found map[string]any
	for deadline := time.Now().Add(sbxtest.Timeout); time.Now().Before(deadline) && found == nil; time.Sleep(200 * time.Millisecond) {
		var rows []map[string]any
		l := e.sbx(t, u, "list", "--json")
		json.Unmarshal([]byte(l.Stdout), &rows)
		for _, r := range rows {
			if r["profile"] == profile && r["app"] == app {
				found = r
			}
		}
	}
	if found == nil {
		out, _ := os.ReadFile(logf.Name())
		t.Errorf("as %s: the app %s launched never showed in sbx list; its output:\n%s", u.Name, launcher[0], out)
		return
	}
	if r := e.sbx(t, u, "kill", found["id"].(string)); r.Code != 0 {
		t.Errorf("as %s: sbx kill: exit %d: %s", u.Name, r.Code, r.Stderr)
	}
	// Wait for it to go, so the next launch is not mistaken for this one.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if l := e.sbx(t, u, "list", "--json"); !strings.Contains(l.Stdout, found["id"].(string)) {
			return
		}
	}
	t.Errorf("as %s: sandbox %s still listed 30 s after sbx kill", u.Name, found["id"])
}

// startXvfb starts an X server on a display it picks itself (-displayfd) and returns
// ":N"; the server stops with the test.
func startXvfb(t testing.TB, screen ...string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if len(screen) == 0 {
		screen = []string{"640x480x24"}
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", screen[0])
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	num := make(chan string, 1)
	go func() {
		b := make([]byte, 16)
		n, _ := r.Read(b)
		num <- strings.TrimSpace(string(b[:n]))
	}()
	select {
	case n := <-num:
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("Xvfb reported display %q", n)
		}
		return ":" + n
	case <-time.After(sbxtest.Timeout):
		t.Fatalf("Xvfb did not start within %v", sbxtest.Timeout)
	}
	return ""
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
