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

// TestRunHomeAndCwd is issue 9's item 13: directories sbx makes in the private home to hold
// an allowed path belong to the user (mkdir ~/.cache/dconf works), --cwd defaults to the
// current directory when the sandbox shows it and to the home otherwise, and the python
// profile's current directory is writable.
func TestRunHomeAndCwd(t *testing.T) {
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			home, err := os.MkdirTemp("", "sbxtest-home-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(home) })
			uid := os.Getuid()
			if u.Name != "self" {
				uid = 65534
			}
			os.Chown(home, uid, uid)
			prof := filepath.Join(home, "p.toml")
			os.WriteFile(prof, []byte("description = \"test\"\n[filesystem]\nhome = \"filtered\"\nallow = [ { path = \"~/.cache/app/data\", mode = \"rw\", create = true } ]\n"), 0o644)
			sbx := []string{"env", "HOME=" + home, sbxtest.Binary(t)}
			run := func(dir string, args ...string) sbxtest.Result {
				return sbxtest.Run(t, u, dir, "", append(sbx, args...)...)
			}
			got := run("", "run", "--profile", prof, "--", "/bin/sh", "-c",
				`mkdir ~/.cache/dconf && echo made; [ "$(stat -c %u ~/.cache)" = "$(id -u)" ] && echo owned`)
			if got.Stdout != "made\nowned\n" {
				t.Errorf("parents of an allowed path: stdout %q, want made/owned; stderr: %s", got.Stdout, got.Stderr)
			}
			for _, tt := range []struct{ dir, want string }{
				{"/usr/share", "/usr/share"},          // shown (a system directory)
				{home, home},                          // shown (the home)
				{filepath.Join(home, ".cache"), home}, // not shown as itself: its content is hidden
			} {
				if got := run(tt.dir, "run", "--profile", prof, "--", "/bin/pwd"); got.Stdout != tt.want+"\n" {
					t.Errorf("sbx run in %s: pwd = %q, want %s (stderr %s)", tt.dir, got.Stdout, tt.want, got.Stderr)
				}
			}
			// nobody's own files read as root's inside (65534 is also the ID the gofer sees
			// for every host ID outside its user namespace), so host writes are checked for
			// the other users (root, and the ordinary user the suite runs as outside CI).
			if uid == 65534 {
				return
			}
			if got := run("", "run", "--profile", prof, "--", "/bin/sh", "-c", `echo x > ~/.cache/app/data/f`); got.Code != 0 {
				t.Errorf("writing into the allowed path: exit %d, stderr %s", got.Code, got.Stderr)
			}
			if b, err := os.ReadFile(filepath.Join(home, ".cache/app/data/f")); err != nil || string(b) != "x\n" {
				t.Errorf("the allowed path's file on the host: %q, %v", b, err)
			}
			work := filepath.Join(home, "work")
			os.Mkdir(work, 0o755)
			os.Chown(work, uid, uid)
			got = run(work, "run", "--", "/usr/bin/python3", "-c", `import os; open("out.txt", "w").write("written\n"); print(os.getcwd())`)
			if got.Code != 0 || got.Stdout != work+"\n" {
				t.Errorf("python profile in %s: exit %d stdout %q stderr %s", work, got.Code, got.Stdout, got.Stderr)
			}
			if b, err := os.ReadFile(filepath.Join(work, "out.txt")); err != nil || string(b) != "written\n" {
				t.Errorf("python profile: the current directory is not writable: %q, %v", b, err)
			}
		})
	}
}
