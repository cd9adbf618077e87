package syscalls_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestSharedHostMapping runs programs that map files of a writable host directory shared
// (a C program, sqlite in WAL mode from Python and from the sqlite3 shell) natively and
// under sbx with the directory shown read-write, and requires the same output.
func TestSharedHostMapping(t *testing.T) {
	bin, exe := sbxtest.BuildC(t, "testdata/rw/sharedmap.c", "-O1", "-w")
	// The scripts go next to the program, in a directory every test user can read: the
	// clone itself may be below one only its owner enters (CI clones as root).
	abs := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		a := filepath.Join(bin, filepath.Base(p))
		if err := os.WriteFile(a, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return a
	}
	runs := []struct {
		name string
		argv []string
		need string
	}{
		{"c", []string{exe}, ""},
		{"python-wal", []string{"/usr/bin/python3", abs("testdata/rw/wal.py")}, "/usr/bin/python3"},
		{"sqlite3-wal", []string{"/bin/sh", abs("testdata/rw/wal.sh")}, "/usr/bin/sqlite3"},
	}
	for _, r := range runs {
		if r.need != "" {
			if _, err := os.Stat(r.need); err != nil {
				t.Errorf("%s is not installed (make test installs it)", r.need)
				continue
			}
		}
		for _, u := range sbxtest.Users() {
			t.Run(r.name+"/"+u.Name, func(t *testing.T) {
				dir := func() string {
					d, err := os.MkdirTemp("", "sbx-rw-")
					if err != nil {
						t.Fatal(err)
					}
					os.Chmod(d, 0o777)
					t.Cleanup(func() { os.RemoveAll(d) })
					return d
				}
				nd, sd := dir(), dir()
				native := sbxtest.Run(t, u, "", "", append(r.argv, nd)...)
				if native.Code != 0 {
					t.Fatalf("native run failed (%d): %s", native.Code, native.Stderr)
				}
				args := append([]string{"run", "--ro", bin, "--rw", sd, "--"}, r.argv...)
				got := sbxtest.Sbx(t, u, append(args, sd)...)
				want := strings.ReplaceAll(native.Stdout, nd, "DIR")
				if g := strings.ReplaceAll(got.Stdout, sd, "DIR"); g != want || got.Code != 0 {
					t.Errorf("exit %d, stderr %s\n%s", got.Code, got.Stderr, lineDiff(want, g))
				}
			})
		}
	}
}
