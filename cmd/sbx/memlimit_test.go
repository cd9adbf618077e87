package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/launcher/control"
)

// TestMemoryLimit runs a process that touches 1 GiB under a 256 MiB limit next to one that
// does not: the hog is killed with SIGKILL, the bystander and the app live on, the kill is
// an event on the control socket (what sbx top shows) and on stderr, and the sandbox's
// memory drops back (its pages were given back to the host).
func TestMemoryLimit(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/oom.c")
	bin := sbxtest.Binary(t)
	prof := memoryProfile(t, dir, "256MiB")
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			rt, err := os.MkdirTemp("", "sbx-oom-rt-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(rt)
			if u.Name == "nobody" {
				os.Chown(rt, 65534, 65534)
			}
			os.Chmod(rt, 0o700)
			argv := u.Wrap([]string{"env", "XDG_RUNTIME_DIR=" + rt, bin, "run", "--profile", prof, "--ro", dir, "--", exe, "5"})
			c := exec.Command(argv[0], argv[1:]...)
			var stderr strings.Builder
			c.Stderr = &stderr
			out, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer c.Process.Kill()
			lines := bufio.NewScanner(out)
			var got []string
			for len(got) < 2 && lines.Scan() {
				got = append(got, lines.Text())
			}
			if want := []string{"hog: signal 9", "bystander: exit 7"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("app printed %q; want %q; stderr %s", got, want, stderr.String())
			}
			if u.Name != "nobody" {
				checkOOMEvent(t, rt)
			}
			c.Wait()
			if code := c.ProcessState.ExitCode(); code != 0 {
				t.Errorf("sbx run exited %d; want 0", code)
			}
			if n := strings.Count(stderr.String(), "sbx: out of memory: killed process"); n != 1 {
				t.Errorf("stderr reports %d kills; want 1: %s", n, stderr.String())
			}
		})
	}
}

// TestMemoryLimitHonorsOOMScoreAdj: a small process that raised its oom_score_adj to 1000
// is killed before a larger one at 0, as Linux's OOM killer picks by badness.
func TestMemoryLimitHonorsOOMScoreAdj(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/oomadj.c")
	bin := sbxtest.Binary(t)
	prof := memoryProfile(t, dir, "256MiB")
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			argv := u.Wrap([]string{bin, "run", "--profile", prof, "--ro", dir, "--", exe})
			out, err := exec.Command(argv[0], argv[1:]...).Output()
			if want := "victim: signal 9\nhog: signal 9\n"; string(out) != want || err != nil {
				t.Fatalf("app printed %q (%v); want %q", out, err, want)
			}
		})
	}
}

// TestMemoryLimitSharedMemory: the process that filled shared memory past the limit is
// killed, not the one that only maps it; the survivor, asking for no more, lives on.
func TestMemoryLimitSharedMemory(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/oomshared.c")
	prof := memoryProfile(t, dir, "256MiB")
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := sbxtest.Sbx(t, u, "run", "--profile", prof, "--ro", dir, "--", exe)
			if want := "child: signal 9\nparent: done\n"; r.Stdout != want || r.Code != 0 {
				t.Fatalf("app printed %q (exit %d); want %q; stderr %s", r.Stdout, r.Code, want, r.Stderr)
			}
			if n := strings.Count(r.Stderr, "sbx: out of memory: killed process"); n != 1 {
				t.Errorf("stderr reports %d kills; want 1: %s", n, r.Stderr)
			}
		})
	}
}

// TestMemoryLimitTmpfsChurn: a process that makes, writes, unlinks and closes 1 GiB of
// tmpfs files per round (one of them mapped shared past its close) runs under a 512 MiB
// limit without being killed: each file's memory goes with its last reference, as
// /proc/meminfo's Shmem shows. /tmp then fills at half the limit (ENOSPC), Linux's size
// for a tmpfs without size=.
func TestMemoryLimitTmpfsChurn(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/tmpfschurn.c")
	prof := memoryProfile(t, dir, "512MiB")
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := sbxtest.Sbx(t, u, "run", "--profile", prof, "--ro", dir, "--", exe, "2")
			if want := "2 rounds\nShmem: +64 MiB with a 64 MiB file, back after\n/tmp full at 256 MiB\n"; r.Stdout != want || r.Code != 0 {
				t.Fatalf("app printed %q (exit %d); want %q; stderr %s", r.Stdout, r.Code, want, r.Stderr)
			}
		})
	}
}

// checkOOMEvent finds the one sandbox under runtime directory rt (its app still runs) and
// checks that it reports the limit, memory back under it, and the kill as an event.
func checkOOMEvent(t *testing.T, rt string) {
	entries, err := control.List(filepath.Join(rt, "sbx"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("control.List = %v, %v; want one sandbox", entries, err)
	}
	cl, err := control.DialSocket(entries[0].Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r, err := cl.Do(control.Request{V: control.Version, Op: control.OpStats})
	if err != nil || r.Stats == nil {
		t.Fatalf("stats: %v %v", r, err)
	}
	if r.Stats.MemoryLimit != 256<<20 || r.Stats.MemoryBytes > 64<<20 {
		t.Errorf("memory %d of %d after the kill; want the limit 256 MiB and the hog's memory gone", r.Stats.MemoryBytes, r.Stats.MemoryLimit)
	}
	ev, err := control.DialSocket(entries[0].Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	stop := make(chan struct{})
	defer close(stop)
	events, err := ev.Events(stop)
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(30 * time.Second)
	for found := false; !found; {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("event stream ended without an oom event")
			}
			found = e.Kind == "oom" && strings.Contains(e.Detail, "killed process")
		case <-timeout:
			t.Fatal("no oom event")
		}
	}
}

// TestMemoryNumbers checks what programs read about memory under a 256 MiB limit: the limit
// is the machine's RAM (/proc/meminfo, sysinfo), and touching 64 MiB shows in VmRSS,
// RssAnon and smaps_rollup.
func TestMemoryNumbers(t *testing.T) {
	dir, exe := sbxtest.BuildC(t, "testdata/memnum.c", "-O1")
	prof := memoryProfile(t, dir, "256MiB")
	for _, u := range sbxtest.Users() {
		t.Run(u.Name, func(t *testing.T) {
			r := sbxtest.Sbx(t, u, "run", "--profile", prof, "--ro", dir, "--", exe)
			if r.Code != 0 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			var total, sys, rss0, anon0, rss1, anon1, roll int64
			if _, err := fmt.Sscanf(r.Stdout, "MemTotal %d\nsysinfo %d\nbefore VmRSS %d RssAnon %d\nafter VmRSS %d RssAnon %d Rss %d\n",
				&total, &sys, &rss0, &anon0, &rss1, &anon1, &roll); err != nil {
				t.Fatalf("output %q: %v", r.Stdout, err)
			}
			if total != 256<<10 || sys != 256<<10 {
				t.Errorf("MemTotal %d kB, sysinfo %d kB; want the limit, %d kB", total, sys, 256<<10)
			}
			const touched = 64 << 10
			for name, v := range map[string]int64{"VmRSS": rss1 - rss0, "RssAnon": anon1 - anon0} {
				if v < touched || v > touched+8<<10 {
					t.Errorf("%s grew by %d kB after touching %d kB", name, v, touched)
				}
			}
			if roll < rss1-1024 || roll > rss1+1024 {
				t.Errorf("smaps_rollup Rss %d kB, VmRSS %d kB; want them to agree", roll, rss1)
			}
		})
	}
}

// memoryProfile writes a profile of dir: the default one with a memory limit.
func memoryProfile(t *testing.T, dir, limit string) string {
	t.Helper()
	prof := filepath.Join(dir, "mem"+limit+".toml")
	if err := os.WriteFile(prof, []byte("description = \""+limit+"\"\ninclude = [\"default\"]\n[resources]\nmemory = \""+limit+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return prof
}
