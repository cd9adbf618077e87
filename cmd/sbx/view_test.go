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

// TestRunHidesSecrets is issue 9's item 12: /etc/shadow and the other secrets do not exist
// inside any profile's view (for root too), and allowing one by name shows it again.
func TestRunHidesSecrets(t *testing.T) {
	if _, err := os.Stat("/etc/shadow"); err != nil {
		t.Skip("this host has no /etc/shadow")
	}
	for _, u := range sbxtest.Users() {
		for _, prof := range []string{"default", "shell", "python"} {
			got := sbxtest.Sbx(t, u, "run", "--profile", prof, "--", "/bin/sh", "-c",
				`for f in /etc/shadow /etc/gshadow /etc/sudoers /etc/sudoers.d; do [ -e $f ] && echo "$f exists"; done; ls /etc | grep -x -e shadow -e gshadow; ls -a /etc/ssh 2>/dev/null | grep '_key$'; echo done`)
			if got.Code != 0 || got.Stdout != "done\n" {
				t.Errorf("as %s, profile %s: secrets inside: exit %d, stdout %q, stderr %s", u.Name, prof, got.Code, got.Stdout, got.Stderr)
			}
		}
	}
	if os.Getuid() == 0 {
		native, err := os.ReadFile("/etc/shadow")
		if err != nil {
			t.Fatal(err)
		}
		got := sbxtest.Sbx(t, sbxtest.Users()[0], "run", "--ro", "/etc/shadow", "--", "/bin/cat", "/etc/shadow")
		if got.Code != 0 || got.Stdout != string(native) {
			t.Errorf("sbx run --ro /etc/shadow: exit %d, stderr %s; the allowed secret should read as on the host", got.Code, got.Stderr)
		}
	}
}
