package main

import (
	"bufio"
	"fmt"
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
				c := exec.Command(argv[0], argv[1:]...)
				in, _ := c.StdinPipe()
				out, _ := c.StdoutPipe()
				var stderr strings.Builder
				c.Stderr = &stderr
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				defer c.Process.Kill()
				timer := time.AfterFunc(60*time.Second, func() { c.Process.Kill() })
				defer timer.Stop()
				lines := bufio.NewScanner(out)
				if !lines.Scan() || lines.Text() != "ready" {
					t.Fatalf("before the host made the names the app printed %q; want ready (stderr %s)", lines.Text(), stderr.String())
				}
				os.WriteFile(paths[0], []byte("c"), 0o644)
				os.Rename(filepath.Join(base, "moved"), paths[1])
				os.Link(filepath.Join(base, "orig"), paths[2])
				os.Mkdir(filepath.Join(d, "sub"), 0o777)
				os.WriteFile(paths[3], nil, 0o644)
				os.Symlink("created", paths[4])
				fmt.Fprintln(in, "go")
				in.Close()
				var got []string
				for lines.Scan() {
					got = append(got, lines.Text())
				}
				c.Wait()
				var want []string
				for _, p := range paths {
					want = append(want, p+" present")
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("after the host made the names the app saw:\n%s\nwant:\n%s\nstderr: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr.String())
				}
			})
		}
	}
}
