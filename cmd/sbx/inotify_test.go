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

// TestInotifyHostChanges watches a file of a --rw host directory inside the sandbox: the
// sandbox's own change is reported once (not again as it comes back from the host), and a
// write another program makes on the host reaches the watcher (issue: gVisor #8089).
func TestInotifyHostChanges(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (make test installs it)")
	}
	bin := sbxtest.Binary(t)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "sbx-inotify-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			os.Chmod(dir, 0o755)
			exe := filepath.Join(dir, "watch")
			if out, err := exec.Command("gcc", "-O1", "-o", exe, "testdata/watch.c").CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			rw := filepath.Join(dir, "rw")
			os.Mkdir(rw, 0o777)
			os.Chmod(rw, 0o777)
			file := filepath.Join(rw, "f")
			os.WriteFile(file, []byte("one\n"), 0o666)
			os.Chmod(file, 0o666)
			argv := u.Wrap([]string{bin, "run", "--ro", dir, "--rw", rw, "--", exe, file, rw, filepath.Join(rw, "own")})
			cmd := exec.Command(argv[0], argv[1:]...)
			out, _ := cmd.StdoutPipe()
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			lines := make(chan string, 64)
			go func() {
				s := bufio.NewScanner(out)
				for s.Scan() {
					lines <- s.Text()
				}
				close(lines)
			}()
			var got []string
			next := func(want string) {
				t.Helper()
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("the watcher ended before %q; saw %q; stderr %s", want, got, stderr.String())
						}
						got = append(got, l)
						if l == want {
							return
						}
					case <-time.After(sbxtest.Timeout):
						t.Fatalf("no %q; saw %q; stderr %s", want, got, stderr.String())
					}
				}
			}
			next("ready")
			if err := os.WriteFile(file, []byte("two\n"), 0o666); err != nil {
				t.Fatal(err)
			}
			next("file 2 -")
			next("file 8 -")
			if err := os.WriteFile(filepath.Join(rw, "new"), nil, 0o666); err != nil {
				t.Fatal(err)
			}
			next("dir 100 new")
			own := 0
			for _, l := range got {
				if l == "dir 100 own" || l == "dir 2 own" {
					own++
				}
			}
			if own != 2 {
				t.Errorf("the sandbox's own create and write of \"own\" were reported %d times, want once each: %q", own, got)
			}
		})
	}
}
