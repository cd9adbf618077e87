package syscalls_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// mountToolsScript is what TestMountTools runs with util-linux's own tools, as a user
// would: an unprivileged mount namespace (unshare -Urm), a tmpfs with options, a bind made
// read-only, propagation changed, the table read back with findmnt and /proc/self/mounts.
const mountToolsScript = `set -e
D=$1
rm -rf "$D/m" "$D/n"
mkdir "$D/m" "$D/n"
unshare -Urm sh -c "
mount -t tmpfs -o size=2m,mode=755 none $D/m
mkdir $D/m/a $D/m/b
touch $D/m/a/f
mount --bind $D/m/a $D/m/b
mount -o remount,bind,ro $D/m/b
touch $D/m/b/g 2>&1 | sed 's/.*: //'
ls $D/m/b
findmnt -l -n -o TARGET,FSTYPE,OPTIONS,PROPAGATION -R $D/m | sed 's|$D||'
mount --make-shared $D/m
mount --bind $D/m $D/n
mount -t tmpfs none $D/m/a
findmnt -l -n -o TARGET,PROPAGATION -R $D/n | sed 's|$D||'
grep ' $D/m/b ' /proc/self/mounts | sed 's|$D||'
umount $D/m/b
umount $D/m/b 2>&1 | sed 's/.*: //'
umount $D/m 2>&1 | sed 's/.*: //'
umount -l $D/m
awk '\$5 ~ \"^$D/\"' /proc/self/mountinfo | wc -l
"
`

// TestMountTools runs util-linux's unshare, mount, umount and findmnt inside a user and
// mount namespace natively and under sbx, as each test user, and compares what they print.
func TestMountTools(t *testing.T) {
	for _, tool := range []string{"unshare", "findmnt", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (util-linux)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "sbx-mounttools-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(script, []byte(mountToolsScript), 0o755); err != nil {
		t.Fatal(err)
	}
	rw := filepath.Join(dir, "rw")
	if err := os.Mkdir(rw, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	os.Chmod(rw, 0o1777)
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			native := sbxtest.Run(t, u, "", "", "sh", script, rw)
			if native.Code != 0 {
				t.Skipf("unshare -Urm does not work natively here (%d): %s", native.Code, native.Stderr)
			}
			got := sbxtest.Sbx(t, u, "run", "--ro", script, "--rw", rw, "--", "sh", script, rw)
			if got.Stdout != native.Stdout || got.Code != native.Code {
				t.Errorf("exit %d (native %d), stderr %s\n%s", got.Code, native.Code, got.Stderr, lineDiff(native.Stdout, got.Stdout))
			}
		})
	}
}
