package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"golang.org/x/sys/unix"
)

// TestHostChangesSeenAfterCaching: the kernel caches the attributes and names of host
// files on read-write mounts while their host watch reports no change; changes other
// programs make on the host while the sandbox runs — contents written through the name or
// through another hard link, truncation, chmod, utimes, a new hard link, renames, unlinks,
// a file renamed over another, names made and removed in a cached directory — are seen
// at the next stat, as natively: after them `stat` prints inside the sandbox what it
// prints outside.
func TestHostChangesSeenAfterCaching(t *testing.T) {
	bin := sbxtest.Binary(t)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			base, err := os.MkdirTemp("", "sbx-hostattr-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(base)
			os.Chmod(base, 0o777)
			d := filepath.Join(base, "d")
			other := filepath.Join(base, "other")
			for _, dir := range []string{d, other, filepath.Join(d, "sub"), filepath.Join(d, "gone")} {
				os.Mkdir(dir, 0o777)
				os.Chmod(dir, 0o777)
			}
			p := func(n string) string { return filepath.Join(d, n) }
			for i, n := range []string{"written", "chmoded", "truncated", "touched", "linked", "renamed", "unlinked", "replaced", "viaother"} {
				if err := os.WriteFile(p(n), []byte(strings.Repeat("x", 10+i)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			os.WriteFile(filepath.Join(other, "replacement"), []byte("a longer replacement"), 0o600)
			// A second name for viaother, in a directory the sandbox never looks at.
			os.Link(p("viaother"), filepath.Join(other, "alias"))
			past := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
			for _, n := range []string{"written", "chmoded", "truncated", "touched", "linked", "viaother", "sub", "gone"} {
				os.Chtimes(p(n), past, past)
			}
			os.Chtimes(d, past, past)
			paths := []string{d, p("sub"), p("gone"), p("written"), p("chmoded"), p("truncated"), p("touched"), p("linked"),
				p("linked2"), p("renamed"), p("renamed2"), p("unlinked"), p("replaced"), p("viaother"), p("sub/new")}
			const format = "%n %F %s %a %h %y %z"
			// The directories are listed with their entries looked up (ls -l: after the first,
			// listings come with their entries walked), each path is statted three times
			// (the first may ask the gofer, the others come from the cache), then again
			// after the host changed them.
			// An extended attribute is read (missing) three times, then after the host set it.
			script := `X='import os,sys
try: print(os.getxattr(sys.argv[1], "user.k").decode())
except OSError as e: print(e.strerror)'
ls -la "$1" "$2" "$3" >/dev/null; for i in 1 2 3; do stat -c "` + format + `" "$@" >/dev/null 2>&1; /usr/bin/python3 -c "$X" "$3/written" >/dev/null; done
echo ready; read x; stat -c "` + format + `" "$@" 2>&1; /usr/bin/python3 -c "$X" "$3/written"; echo end`
			argv := u.Wrap(append([]string{bin, "run", "--rw", base, "--", "/bin/sh", "-c", script, "sh", base, other}, paths...))
			run := startPaused(t, argv, "changed the files")
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.OpenFile(p("written"), os.O_WRONLY|os.O_APPEND, 0)
			must(err)
			f.WriteString("more")
			f.Close()
			must(os.Chmod(p("chmoded"), 0o751))
			must(os.Truncate(p("truncated"), 3))
			must(os.Chtimes(p("touched"), past.Add(time.Hour), past.Add(2*time.Hour)))
			must(os.Link(p("linked"), p("linked2")))
			must(os.Rename(p("renamed"), p("renamed2")))
			must(os.Remove(p("unlinked")))
			must(os.Rename(filepath.Join(other, "replacement"), p("replaced")))
			must(os.WriteFile(filepath.Join(other, "alias"), []byte("through the other name"), 0o644))
			must(os.WriteFile(p("sub/new"), []byte("n"), 0o644))
			must(os.Mkdir(p("sub/newdir"), 0o777))
			must(os.Remove(p("gone")))
			must(unix.Setxattr(p("written"), "user.k", []byte("set on the host"), 0))
			got := run.resume()
			nat, _ := exec.Command("stat", append([]string{"-c", format, base, other}, paths...)...).CombinedOutput()
			want := append(strings.Split(strings.TrimSuffix(string(nat), "\n"), "\n"), "set on the host")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("after the host changed the files the app saw:\n%s\nnatively:\n%s\nstderr: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), run.stderr.String())
			}
		})
	}
}
