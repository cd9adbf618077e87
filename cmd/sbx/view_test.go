package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestRunWithMountsBelowSystemDirs is issue 9's item 11: a host with mounts below a system
// directory (a file bound over /etc/passwd as containers do, a tmpfs under /usr/local) must
// not keep the gofer from starting; the sandbox shows those mounts' content, read-only.
// The mounts are made in a private mount namespace (as root: unshare -m; as a user: in a
// user namespace of its own, unshare -Urm, which is what rootless containers look like).
func TestRunWithMountsBelowSystemDirs(t *testing.T) {
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "sbxtest-view-") // readable by the unprivileged user too
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			os.Chmod(dir, 0o755)
			passwd, err := os.ReadFile("/etc/passwd")
			if err != nil {
				t.Fatal(err)
			}
			const marker = "sbxmarker:x:4242:4242::/nonexistent:/usr/sbin/nologin\n"
			f := filepath.Join(dir, "passwd")
			if err := os.WriteFile(f, append(passwd, marker...), 0o644); err != nil {
				t.Fatal(err)
			}
			unshare := []string{"unshare", "-m", "--propagation", "private"}
			if u.Name != "self" || os.Getuid() != 0 {
				unshare = []string{"unshare", "-Urm", "--propagation", "private"}
			}
			script := `set -e
mount --bind "$1" /etc/passwd
mount -t tmpfs -o mode=0755 sbxtest /usr/local/src
echo inside-tmpfs > /usr/local/src/note
"$2" run -- /bin/sh -c 'grep sbxmarker /etc/passwd; cat /usr/local/src/note; ls /usr/local/src; (echo x > /usr/local/src/new) 2>/dev/null || echo refused; (echo x >> /etc/passwd) 2>/dev/null || echo refused'`
			got := sbxtest.Run(t, u, "", "", append(unshare, "sh", "-c", script, "sh", f, sbxtest.Binary(t))...)
			want := strings.TrimRight(marker, "\n") + "\ninside-tmpfs\nnote\nrefused\nrefused\n"
			if got.Code != 0 || got.Stdout != want {
				t.Errorf("sbx run with mounts below /etc and /usr: exit %d, stdout %q, want %q; stderr: %s", got.Code, got.Stdout, want, got.Stderr)
			}
		})
	}
}
