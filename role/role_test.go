package role

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const testRole = "__roletest"

// reportFD is where the test role writes what it sees.
const reportFD = 5

func TestMain(m *testing.M) {
	// The test binary doubles as a role, as sbx does: it reports its capabilities, its FDs
	// and its namespaces.
	if len(os.Args) == 2 && os.Args[1] == testRole {
		out := os.NewFile(reportFD, "report")
		status, _ := os.ReadFile("/proc/self/status")
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "Cap") {
				fmt.Fprintln(out, line)
			}
		}
		ents, _ := os.ReadDir("/proc/self/fd")
		var fds []string
		for _, e := range ents {
			target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
			if strings.Contains(target, "eventpoll") || strings.Contains(target, "eventfd") || strings.Contains(target, "/proc/") {
				continue // the Go runtime's and ReadDir's own
			}
			fds = append(fds, e.Name()+"="+target)
		}
		sort.Strings(fds)
		fmt.Fprintln(out, "fds:", strings.Join(fds, " "))
		fmt.Fprintln(out, "uid:", os.Getuid(), "pid:", os.Getpid())
		out.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runRole starts the test role with a report pipe at reportFD and a gap at 4, and returns
// its report. With withStray, this process holds a file named "stray" open without
// O_CLOEXEC at an FD above the role's while the role starts, as the Go runtime holds a
// concurrent fork's uid_map.
func runRole(t *testing.T, withStray bool) map[string]string {
	t.Helper()
	stray, err := unix.Open(filepath.Join(t.TempDir(), "stray"), unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if high, err := unix.FcntlInt(uintptr(stray), unix.F_DUPFD, 100); err == nil {
		unix.Close(stray)
		stray = high
	}
	if withStray {
		defer unix.Close(stray)
	} else {
		unix.Close(stray)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	extra, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	cmd, err := Start(Spec{Command: testRole, Name: "sbx-roletest", Files: map[int]*os.File{3: extra, reportFD: w},
		Stderr: os.Stderr, UID: 0, GID: 0, Caps: []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP}})
	w.Close()
	if err != nil {
		if os.IsPermission(err) || strings.Contains(err.Error(), "user namespaces") {
			t.Skipf("cannot start a role here: %v", err)
		}
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("role: %v (%s)", err, b)
	}
	rep := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, ":")
		rep[k] = strings.TrimSpace(v)
	}
	return rep
}

// TestStartBoundsCapabilities: a role starts with an empty bounding set and only the
// capabilities its Spec lists, whoever starts it, and holds exactly the FDs it was given.
func TestStartBoundsCapabilities(t *testing.T) {
	rep := runRole(t, true)
	want := fmt.Sprintf("%016x", uint64(1)<<unix.CAP_SYS_ADMIN|uint64(1)<<unix.CAP_SETPCAP)
	for k, v := range map[string]string{"CapBnd": "0000000000000000", "CapAmb": want, "CapPrm": want, "CapEff": want,
		"uid": "0 pid: 1"} {
		if rep[k] != v {
			t.Errorf("role's %s = %q, want %q (report %v)", k, rep[k], v, rep)
		}
	}
	checkFDs(t, rep["fds"])
	if _, exe := bsetProgram(FirstFD); exe == nil {
		t.Errorf("the bounding-set program is not in use here (memfd exec refused?): roles drop the set themselves, slowly")
	}
}

// TestStartWithoutProgram: where the bounding-set program cannot run, the role starts
// directly with the same FDs and capabilities (it empties the bounding set itself). It
// inherits whatever its starter holds without O_CLOEXEC (role.Start keeps other roles'
// starts from overlapping it instead).
func TestStartWithoutProgram(t *testing.T) {
	bset.mu.Lock()
	saved := bset.disabled
	bset.disabled = true
	bset.mu.Unlock()
	defer func() {
		bset.mu.Lock()
		bset.disabled = saved
		bset.mu.Unlock()
	}()
	rep := runRole(t, false)
	want := fmt.Sprintf("%016x", uint64(1)<<unix.CAP_SYS_ADMIN|uint64(1)<<unix.CAP_SETPCAP)
	for k, v := range map[string]string{"CapAmb": want, "uid": "0 pid: 1"} {
		if rep[k] != v {
			t.Errorf("role's %s = %q, want %q (report %v)", k, rep[k], v, rep)
		}
	}
	checkFDs(t, rep["fds"])
}

// checkFDs checks a role's FD list (number=target ...): the files it was given at their
// numbers, and neither the bounding-set program, the sbx binary nor a stray FD of the
// starting process.
func checkFDs(t *testing.T, fds string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, f := range strings.Fields(fds) {
		n, target, _ := strings.Cut(f, "=")
		have[n] = target
		if strings.Contains(target, "sbx-role-start") || target == self || strings.HasSuffix(target, "/stray") {
			t.Errorf("role holds FD %s = %s", n, target)
		}
	}
	if have["3"] != "/dev/null" || !strings.HasPrefix(have["5"], "pipe:") {
		t.Errorf("role's FDs 3 and 5 are %q and %q, want /dev/null and the report pipe (all: %s)", have["3"], have["5"], fds)
	}
	if have["4"] == "/dev/null" {
		t.Errorf("role's FD 4 (a gap in Files) is /dev/null, want it closed")
	}
}

// TestBsetImageFDs: the program names the FDs it was built for.
func TestBsetImageFDs(t *testing.T) {
	a, b := bsetImage(6, 7), bsetImage(9, 10)
	if len(a) != len(b) || string(a) == string(b) {
		t.Errorf("images for FDs 6/7 and 9/10: lengths %d, %d, equal %v; want equal lengths, different bytes", len(a), len(b), string(a) == string(b))
	}
}
