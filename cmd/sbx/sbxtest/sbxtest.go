// Package sbxtest builds the sbx binary once per test process and runs it, as the current
// user and, when the tests run as root, as an unprivileged user too, so every end-to-end
// test covers both.
package sbxtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// moduleRoot finds the directory holding go.mod above this file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Binary returns the path of a freshly built sbx (CGO_ENABLED=0), in a directory every user
// can read.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sbxtest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		os.Chmod(dir, 0o755)
		removeAtExit(dir)
		binPath = filepath.Join(dir, "sbx")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sbx")
		cmd.Dir = moduleRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building sbx: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// atExit holds the write ends of the pipes removeAtExit's watchdogs wait on: open (and
// referenced, so that no finalizer closes them) as long as this process lives.
var atExit []*os.File

// removeAtExit removes dir when this process ends, however it ends (every test process
// builds sbx into a directory of its own: 16 MB each, which filled /tmp): a watchdog shell
// in a session of its own waits on a pipe only this process holds.
func removeAtExit(dir string) {
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	defer r.Close()
	cmd := exec.Command("sh", "-c", `read -r x; rm -rf "$0"`, dir)
	cmd.Stdin = r
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() != nil {
		w.Close()
		return
	}
	atExit = append(atExit, w)
}

// User is who runs a command.
type User struct {
	Name string
	UID  int
	// Wrap turns a command line into one that runs as this user.
	Wrap func(argv []string) []string
	Home string
}

// Users returns the users tests run sbx as: the current one, and "nobody" (uid 65534)
// when the tests run as root.
func Users() []User {
	self := User{Name: "self", UID: os.Getuid(), Wrap: func(a []string) []string { return a }, Home: os.Getenv("HOME")}
	if os.Getuid() != 0 {
		return []User{self}
	}
	nobody := User{Name: "nobody", UID: 65534, Home: "/tmp/sbxtest-nobody-home", Wrap: func(a []string) []string {
		return append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env",
			"HOME=/tmp/sbxtest-nobody-home"}, a...)
	}}
	return []User{self, nobody}
}

// Timeout bounds one command: a hang fails the test instead of the whole run. It is
// generous: a differential program doing a thousand renames on a loaded 2-core machine
// under ptrace took over a minute.
var Timeout = 2 * time.Minute

// Result is what a command did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs argv as u in dir (empty: a directory every user can enter).
func Run(t testing.TB, u User, dir string, stdin string, argv ...string) Result {
	t.Helper()
	full := u.Wrap(argv)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	// A program's helpers may hold its output a moment after it exits (Python's
	// forkserver did for over a second on a loaded CI run): wait for them, bounded.
	cmd.WaitDelay = 30 * time.Second
	if dir == "" {
		dir = "/"
	}
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish within %v; stderr so far:\n%s", full, Timeout, errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", full, err)
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// Sbx runs `sbx args...` as u. `sbx run` gets --platform $SBX_TEST_PLATFORM when that is
// set, so the end-to-end tests (the differential suite among them) run on any platform.
//
// On kvm, a user without access to /dev/kvm cannot run anything: for such a user the run
// must fail with the clear error saying so, and the test is skipped.
func Sbx(t testing.TB, u User, args ...string) Result {
	t.Helper()
	res := Run(t, u, "", "", append([]string{Binary(t)}, WithPlatform(args)...)...)
	if os.Getenv("SBX_TEST_PLATFORM") == "kvm" && len(args) > 0 && args[0] == "run" && u.Name != "self" &&
		Run(t, u, "", "", "test", "-r", "/dev/kvm", "-a", "-w", "/dev/kvm").Code != 0 {
		if !strings.Contains(res.Stderr, "/dev/kvm: permission denied") {
			t.Fatalf("sbx run on kvm as %s without access to /dev/kvm: %d, stderr %q; want the permission error", u.Name, res.Code, res.Stderr)
		}
		t.Skipf("skipping: %s has no access to /dev/kvm (sbx says so: %s)", u.Name, strings.TrimSpace(res.Stderr))
	}
	return res
}

// WithPlatform inserts --platform $SBX_TEST_PLATFORM after "run" in sbx arguments.
func WithPlatform(args []string) []string {
	p := os.Getenv("SBX_TEST_PLATFORM")
	if p == "" || len(args) == 0 || args[0] != "run" {
		return args
	}
	return append([]string{"run", "--platform", p}, args[1:]...)
}

// BuildC compiles the C program src (a path relative to the test's package) with gcc and
// flags (-O1 when none) into a fresh directory every test user can read, removed with the
// test, and returns the directory and the executable. The test is skipped when gcc is
// missing.
func BuildC(t testing.TB, src string, flags ...string) (dir, exe string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (make test installs it)")
	}
	dir, err := os.MkdirTemp("", "sbx-c-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	exe = filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c"))
	if len(flags) == 0 {
		flags = []string{"-O1"}
	}
	if out, err := exec.Command("gcc", append(flags, "-o", exe, src)...).CombinedOutput(); err != nil {
		t.Fatalf("compiling %s: %v\n%s", src, err, out)
	}
	return dir, exe
}

// Reap runs the shell script if this test process dies before t ends: a test binary that
// times out or panics outside the test's goroutine runs no t.Cleanup, and what the test
// started detached from it (containers and their monitors, conmon) would run on, loading
// the machine and holding state. A watchdog shell in a session of its own waits on a pipe
// this process holds; when t ends it is told so and exits, when this process dies first
// the pipe's end closes and it runs script (as the user running the tests).
func Reap(t testing.TB, script string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("sh", "-c", `read -r x; [ "$x" = done ] && exit 0; `+script)
	cmd.Stdin = r
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatalf("starting the watchdog: %v", err)
	}
	t.Cleanup(func() {
		w.Write([]byte("done\n"))
		w.Close()
		cmd.Wait()
	})
}

// ShellQuote quotes words for sh.
func ShellQuote(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
