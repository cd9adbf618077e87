package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestHostNamesAppearAfterMiss: the kernel caches names a lookup found missing in host
// directories, and a name made on the host afterwards — created, moved in, linked, a
// directory with a file in it, on a read-write and on a read-only mount — is visible at
// the next lookup, as it is natively.
func TestHostNamesAppearAfterMiss(t *testing.T) {
	bin := sbxtest.Binary(t)
	for _, u := range sbxtest.Users() {
		for _, mode := range []string{"--rw", "--ro"} {
			t.Run(u.Name+mode, func(t *testing.T) {
				base, err := os.MkdirTemp("", "sbx-miss-")
				if err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(base)
				os.Chmod(base, 0o777)
				d := filepath.Join(base, "d")
				os.Mkdir(d, 0o777)
				os.WriteFile(filepath.Join(base, "moved"), []byte("m"), 0o644)
				os.WriteFile(filepath.Join(base, "orig"), []byte("o"), 0o644)
				names := []string{"created", "moved", "linked", "sub/file", "made"}
				var paths []string
				for _, n := range names {
					paths = append(paths, filepath.Join(d, n))
				}
				// Each path is looked up three times (the first miss sets up the cache, the
				// later ones come from it), then again after the host made the names.
				script := `for p in "$@"; do for i in 1 2 3; do test -e "$p" && echo "$p present"; done; done; echo ready; read x; ` +
					`for p in "$@"; do if test -e "$p"; then echo "$p present"; else echo "$p missing"; fi; done`
				argv := u.Wrap(append([]string{bin, "run", mode, base, "--", "/bin/sh", "-c", script, "sh"}, paths...))
				run := startPaused(t, argv, "made the names")
				os.WriteFile(paths[0], []byte("c"), 0o644)
				os.Rename(filepath.Join(base, "moved"), paths[1])
				os.Link(filepath.Join(base, "orig"), paths[2])
				os.Mkdir(filepath.Join(d, "sub"), 0o777)
				os.WriteFile(paths[3], nil, 0o644)
				os.Symlink("created", paths[4])
				got := run.resume()
				var want []string
				for _, p := range paths {
					want = append(want, p+" present")
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("after the host made the names the app saw:\n%s\nwant:\n%s\nstderr: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), run.stderr.String())
				}
			})
		}
	}
}

// pausedRun is a sandbox whose script prints "ready", then waits for a line on its stdin
// while the test changes the host, then prints what it sees and (optionally) "end".
type pausedRun struct {
	c      *exec.Cmd
	in     io.WriteCloser
	lines  *bufio.Scanner
	timer  *time.Timer
	stderr strings.Builder
}

// startPaused starts argv and returns once its script has printed "ready"; what says
// what the host does meanwhile, for the failure message.
func startPaused(t *testing.T, argv []string, what string) *pausedRun {
	t.Helper()
	r := &pausedRun{c: exec.Command(argv[0], argv[1:]...)}
	r.in, _ = r.c.StdinPipe()
	out, _ := r.c.StdoutPipe()
	r.c.Stderr = &r.stderr
	if err := r.c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.c.Process.Kill() })
	r.timer = time.AfterFunc(60*time.Second, func() { r.c.Process.Kill() })
	t.Cleanup(func() { r.timer.Stop() })
	r.lines = bufio.NewScanner(out)
	if !r.lines.Scan() || r.lines.Text() != "ready" {
		t.Fatalf("before the host %s the app printed %q; want ready (stderr %s)", what, r.lines.Text(), r.stderr.String())
	}
	return r
}

// resume lets the script go on and returns the lines it prints up to "end" or its exit.
func (r *pausedRun) resume() []string {
	fmt.Fprintln(r.in, "go")
	r.in.Close()
	var got []string
	for r.lines.Scan() && r.lines.Text() != "end" {
		got = append(got, r.lines.Text())
	}
	r.c.Wait()
	return got
}

// TestHostRenameOverSeen: a file another program replaces on the host by renaming a new
// one over it (how dconf, editors and most settings writers save) shows its new content at
// the next open in the sandbox, on a read-write mount and on a read-only one a profile
// allows (the user's settings). Before, a read-only mount kept the file it first walked.
func TestHostRenameOverSeen(t *testing.T) {
	bin := sbxtest.Binary(t)
	for _, u := range sbxtest.Users() {
		for _, mode := range []string{"--rw", "--ro"} {
			t.Run(u.Name+mode, func(t *testing.T) {
				base, err := os.MkdirTemp("", "sbx-renameover-")
				if err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(base)
				os.Chmod(base, 0o755)
				f := filepath.Join(base, "settings")
				os.WriteFile(f, []byte("old\n"), 0o644)
				argv := u.Wrap([]string{bin, "run", mode, base, "--", "/bin/sh", "-c", `a=$(cat "$1"); echo ready; read x; echo "$a"; cat "$1"`, "sh", f})
				run := startPaused(t, argv, "renamed a file over it")
				os.WriteFile(f+".new", []byte("new\n"), 0o644)
				if err := os.Rename(f+".new", f); err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(run.resume(), "\n"); got != "old\nnew" {
					t.Errorf("before and after the host renamed a new file over it the app read %q, want old then new (stderr %s)", got, run.stderr.String())
				}
			})
		}
	}
}
