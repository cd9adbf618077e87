package syscalls_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestDifferential compiles each C program in testdata/diff, runs it natively and under
// sbx, and requires identical output: that is how the kernel's Linux behaviour, error cases
// included, is checked.
func TestDifferential(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (make test installs it)")
	}
	srcs, err := filepath.Glob("testdata/diff/*.c")
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no differential programs: %v", err)
	}
	bin, err := os.MkdirTemp("", "sbx-diff-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin)
	os.Chmod(bin, 0o755)
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		exe := filepath.Join(bin, name)
		if out, err := exec.Command("gcc", "-O1", "-w", "-o", exe, src).CombinedOutput(); err != nil {
			t.Fatalf("compiling %s: %v\n%s", src, err, out)
		}
		var rw string
		if src, err := os.ReadFile(src); err == nil && strings.Contains(string(src), rwMarker) {
			rw = filepath.Join(bin, "rw")
			if err := os.MkdirAll(rw, 0o777); err != nil {
				t.Fatal(err)
			}
			os.Chmod(rw, 0o1777)
		}
		compareRuns(t, name+"/", bin, exe, rw)
	}
}

// programEnv gives programs the environment they need sbx to run with: patchsites.c
// exercises syscall-site patching (on by default; SBX_SYSCALL_PATCH=0 turns it off), so it
// names it whatever the environment of the test run says.
var programEnv = map[string][]string{
	"patchsites": {"SBX_SYSCALL_PATCH=1"},
	"patchread":  {"SBX_SYSCALL_PATCH=1"},
}

// notOnPlatform lists the programs ("name/platform") whose native output a platform
// cannot match, and why.
var notOnPlatform = map[string]string{
	"vdso/kvm": "the kvm platform shows no vDSO (its guest cannot map the host's [vvar] pages)",
}

// platformOf returns the platform sbx runs u's programs on: SBX_TEST_PLATFORM, or what
// auto picks for u (which can differ between users: kvm needs access to /dev/kvm), as
// `sbx run --debug` says it. Asked once per user.
func platformOf(t *testing.T, u sbxtest.User) string {
	if p := os.Getenv("SBX_TEST_PLATFORM"); p != "" {
		return p
	}
	platformsMu.Lock()
	defer platformsMu.Unlock()
	if p, ok := platforms[u.Name]; ok {
		return p
	}
	res := sbxtest.Sbx(t, u, "run", "--debug", "--", "/bin/true")
	p := ""
	for _, line := range strings.Split(res.Stderr, "\n") {
		if rest, ok := strings.CutPrefix(line, "sbx: platform "); ok {
			p, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if p == "" {
		t.Fatalf("sbx run --debug as %s did not say its platform: %q", u.Name, res.Stderr)
	}
	platforms[u.Name] = p
	return p
}

var (
	platformsMu sync.Mutex
	platforms   = map[string]string{} // user name -> platform auto picks for it
)

// rwMarker in a differential program asks for a host directory shown read-write (through
// the gofer, not the sandbox's tmpfs), passed as the program's first argument. The program
// makes its own fresh directory below it per run.
const rwMarker = "sbx-diff: host-rw-dir"

// compareRuns runs exe natively and under sbx (with bin visible read-only), as each test
// user, and requires the same output and exit status. A non-empty rw is a host directory
// shown read-write and given to the program as its argument.
func compareRuns(t *testing.T, prefix, bin, exe, rw string) {
	for _, u := range sbxtest.Users() {
		t.Run(prefix+u.Name, func(t *testing.T) {
			name := strings.TrimSuffix(filepath.Base(exe), filepath.Ext(exe))
			if why := notOnPlatform[name+"/"+platformOf(t, u)]; why != "" {
				t.Skipf("skipping %s: %s", name, why)
			}
			argv, sbxArgs := []string{exe}, []string{"run", "--ro", bin}
			if rw != "" {
				argv = append(argv, rw)
				sbxArgs = append(sbxArgs, "--rw", rw)
			}
			native := sbxtest.Run(t, u, "", "", argv...)
			sbxCmd := append(append(sbxArgs, "--"), argv...)
			var got sbxtest.Result
			if env := programEnv[name]; env != nil && platformOf(t, u) == "trap" {
				full := append(append([]string{"env"}, env...), sbxtest.Binary(t))
				got = sbxtest.Run(t, u, "", "", append(full, sbxtest.WithPlatform(sbxCmd)...)...)
			} else {
				got = sbxtest.Sbx(t, u, sbxCmd...)
			}
			if native.Code != 0 {
				t.Fatalf("native run failed (%d): %s", native.Code, native.Stderr)
			}
			if got.Stdout != native.Stdout || got.Code != native.Code {
				t.Errorf("exit %d (native %d), stderr %s\n%s", got.Code, native.Code, got.Stderr, lineDiff(native.Stdout, got.Stdout))
			}
		})
	}
}

// lineDiff shows the lines that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("- native: " + wl + "\n+ sbx:    " + gl + "\n")
		}
	}
	return b.String()
}

// TestGoProgram runs a Go program (goroutines, timers, pipes through the netpoller, os/exec)
// natively and under sbx: the Go runtime is a demanding client of epoll and eventfd.
func TestGoProgram(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no Go toolchain")
	}
	bin, err := os.MkdirTemp("", "sbx-goprog-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bin)
	os.Chmod(bin, 0o755)
	exe := filepath.Join(bin, "goprog")
	build := exec.Command(goBin, "build", "-o", exe, "testdata/goprog/main.go")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	compareRuns(t, "", bin, exe, "")
}
