package syscalls_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestManPagePrograms runs the programs of testdata/manpage under sbx and compares their
// output with NAME.want, written from the man pages: for behaviour this host's kernel
// cannot show natively (a configuration option it was built without), where a
// differential test has nothing to compare with.
func TestManPagePrograms(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (make test installs it)")
	}
	srcs, _ := filepath.Glob("testdata/manpage/*.c")
	if len(srcs) == 0 {
		t.Fatal("no programs in testdata/manpage")
	}
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		want, err := os.ReadFile(strings.TrimSuffix(src, ".c") + ".want")
		if err != nil {
			t.Fatal(err)
		}
		bin, exe := sbxtest.BuildC(t, src)
		for _, u := range sbxtest.Users() {
			t.Run(name+"/"+u.Name, func(t *testing.T) {
				got := sbxtest.Sbx(t, u, "run", "--ro", bin, "--", exe)
				if got.Code != 0 || got.Stdout != string(want) {
					t.Errorf("exit %d, stderr %s\n%s", got.Code, got.Stderr, lineDiff(string(want), got.Stdout))
				}
			})
		}
	}
}
