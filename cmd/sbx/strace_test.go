package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestStraceSummary runs a shell under `sbx run --strace=summary`: the app's output is
// untouched and stderr ends with the table of its syscalls: a row per syscall (calls,
// failed calls), the shell's write, cat's failed open and both exits among them, and a
// total row summing them. Before it comes the table of gofer requests, with cat's failed
// walk.
func TestStraceSummary(t *testing.T) {
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := sbxtest.Sbx(t, u, "run", "--strace=summary", "--", "/bin/sh", "-c", "echo hi; cat /nonexistent-sbx-strace 2>/dev/null; exit 3")
			if r.Code != 3 || r.Stdout != "hi\n" {
				t.Fatalf("exit %d, stdout %q; want 3, %q\n%s", r.Code, r.Stdout, "hi\n", r.Stderr)
			}
			i := strings.Index(r.Stderr, "% time     seconds  usecs/call     calls    errors syscall\n")
			if i < 0 {
				t.Fatalf("no syscall table on stderr:\n%s", r.Stderr)
			}
			g := strings.Index(r.Stderr, "   seconds  usecs/call     calls    errors gofer request\n")
			if g < 0 || g > i {
				t.Fatalf("no gofer request table before the syscall table on stderr:\n%s", r.Stderr)
			}
			walkFailed := false
			for _, l := range strings.Split(r.Stderr[g:i], "\n") {
				if f := strings.Fields(l); len(f) == 5 && f[4] == "walk" && f[3] != "0" {
					walkFailed = true
				}
			}
			if !walkFailed {
				t.Errorf("the gofer request table lacks cat's failed walk:\n%s", r.Stderr[g:i])
			}
			type row struct{ calls, errors int }
			rows := map[string]row{}
			var sum row
			for _, l := range strings.Split(strings.TrimSpace(r.Stderr[i:]), "\n")[1:] {
				f := strings.Fields(l)
				if strings.HasPrefix(l, "---") {
					continue
				}
				if len(f) < 5 {
					t.Fatalf("bad table row %q", l)
				}
				calls, err := strconv.Atoi(f[3])
				if err != nil {
					t.Fatalf("bad table row %q", l)
				}
				var rw row
				rw.calls = calls
				if len(f) == 6 {
					rw.errors, _ = strconv.Atoi(f[4])
				}
				name := f[len(f)-1]
				if name != "total" {
					sum.calls += rw.calls
					sum.errors += rw.errors
				}
				rows[name] = rw
			}
			if rows["write"].calls < 1 || rows["openat"].errors < 1 || rows["exit_group"].calls != 2 {
				t.Errorf("the table lacks the shell's write, cat's failed open or the two exits:\n%s", r.Stderr[i:])
			}
			if rows["total"] != sum {
				t.Errorf("total row %+v, rows sum to %+v:\n%s", rows["total"], sum, r.Stderr[i:])
			}
		})
	}
}
