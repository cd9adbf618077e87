package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/launcher/control"
)

// TestDiskLimit writes up to 1 GiB into a writable host directory under a 64 MiB disk
// limit: writing stops with ENOSPC near 64 MiB, the file holds exactly what the successful
// writes wrote, a second file and truncating up are refused too, and the refusals are
// denials on the control socket (what sbx top shows).
func TestDiskLimit(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/fill.c")
	bin := sbxtest.Binary(t)
	prof := filepath.Join(dir, "disk64.toml")
	os.WriteFile(prof, []byte("description = \"64 MiB disk\"\ninclude = [\"default\"]\n[resources]\ndisk = \"64MiB\"\n"), 0o644)
	want := []string{"stopped: ENOSPC", "near 64 MiB: 1", "size is what was written: 1", "contents intact: 1",
		"second file: ENOSPC", "truncate up: ENOSPC"}
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			out, err := os.MkdirTemp("", "sbx-disk-out-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(out)
			rt, err := os.MkdirTemp("", "sbx-disk-rt-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(rt)
			if u.Name == "nobody" {
				os.Chown(out, 65534, 65534)
				os.Chown(rt, 65534, 65534)
			}
			os.Chmod(rt, 0o700)
			argv := u.Wrap([]string{"env", "XDG_RUNTIME_DIR=" + rt, bin, "run", "--profile", prof, "--ro", dir, "--rw", out, "--", exe, out, "5"})
			c := exec.Command(argv[0], argv[1:]...)
			var stderr strings.Builder
			c.Stderr = &stderr
			stdout, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer c.Process.Kill()
			lines := bufio.NewScanner(stdout)
			var got []string
			for len(got) < len(want) && lines.Scan() {
				got = append(got, lines.Text())
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("app printed\n%s\nwant\n%s\nstderr %s", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr.String())
			}
			if u.Name != "nobody" { // the test (root) cannot list nobody's sandboxes
				entries, err := control.List(filepath.Join(rt, "sbx"))
				if err != nil || len(entries) != 1 {
					t.Fatalf("control.List = %v, %v; want one sandbox", entries, err)
				}
				cl, err := control.DialSocket(entries[0].Socket)
				if err != nil {
					t.Fatal(err)
				}
				r, err := cl.Do(control.Request{V: control.Version, Op: control.OpStats})
				cl.Close()
				if err != nil || r.Stats == nil || r.Stats.Denials["disk"] == 0 {
					t.Errorf("stats %+v, %v; want disk denials", r, err)
				}
			}
			c.Wait()
			if code := c.ProcessState.ExitCode(); code != 0 {
				t.Errorf("sbx run exited %d; stderr %s", code, stderr.String())
			}
		})
	}
}
