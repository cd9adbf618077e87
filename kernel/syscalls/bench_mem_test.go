package syscalls_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/launcher/control"
)

// BenchmarkMemory measures what copy-on-write fork and the page cache are for, natively and
// under sbx, and reports each pair's ratio: fork+exit+wait of a process with 10 MiB, 100 MiB
// and 1 GiB resident; `sh -c` running /bin/true 200 times, gcc hello.c 5 times and
// python3 -c pass 10 times (each in one sandbox: its start-up, run-true, counted once); and
// sbx's own host memory per app process (kernel and stubs).
func BenchmarkMemory(b *testing.B) {
	dir, fork := sbxtest.BuildC(b, "testdata/bench/forkmem.c", "-O2")
	hello := filepath.Join(dir, "hello.c")
	os.WriteFile(hello, []byte("#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n"), 0o644)
	u := sbxtest.Users()[0]
	quick := b.N == 1
	// fork: ns per fork from the program itself.
	for _, mib := range []int{10, 100, 1024} {
		n := map[int]int{10: 50, 100: 20, 1024: 5}[mib]
		if quick {
			n = 2
		}
		args := []string{fork, strconv.Itoa(mib), strconv.Itoa(n)}
		native := forkNs(b, sbxtest.Run(b, u, "", "", args...).Stdout)
		res := sbxtest.Sbx(b, u, append([]string{"run", "--ro", dir, "--"}, args...)...)
		if res.Code != 0 {
			b.Fatalf("sbx run forkmem: %d %s", res.Code, res.Stderr)
		}
		sandboxed := forkNs(b, res.Stdout)
		name := "fork-" + strconv.Itoa(mib) + "MiB"
		b.ReportMetric(native/1e6, name+"-native-ms")
		b.ReportMetric(sandboxed/1e6, name+"-sbx-ms")
		b.ReportMetric(sandboxed/native, name+"-ratio")
	}
	// Programs run n times in one shell, natively and in one sandbox (its start-up, reported
	// as run-true, included once).
	loop := func(n int, cmd string) []string {
		return []string{"/bin/sh", "-c", "i=0; while [ $i -lt " + strconv.Itoa(n) + " ]; do " + cmd + "; i=$((i+1)); done"}
	}
	// (A name of this process's own: other test processes may run this benchmark at once.)
	helloOut := "/tmp/sbx-bench-hello-" + strconv.Itoa(os.Getpid())
	runs := 3
	if quick {
		runs = 1
	}
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"sh-200-true", loop(200, "/bin/true")},
		{"gcc-hello-x5", loop(5, "/usr/bin/gcc -o "+helloOut+" "+hello)},
		{"python3-pass-x10", loop(10, "/usr/bin/python3 -c pass")},
		{"run-true", []string{"/bin/true"}},
	} {
		native := wall(b, runs, func() { sbxtest.Run(b, u, "", "", c.argv...) })
		sandboxed := wall(b, runs, func() {
			if r := sbxtest.Sbx(b, u, append([]string{"run", "--ro", dir, "--"}, c.argv...)...); r.Code != 0 {
				b.Fatalf("sbx run %v: %d %s", c.argv, r.Code, r.Stderr)
			}
		})
		b.ReportMetric(float64(native.Microseconds())/1e3, c.name+"-native-ms")
		b.ReportMetric(float64(sandboxed.Microseconds())/1e3, c.name+"-sbx-ms")
		b.ReportMetric(float64(sandboxed)/float64(native), c.name+"-ratio")
	}
	os.Remove(helloOut)
	kernelKiB, perProc := sbxMemory(b)
	b.ReportMetric(float64(kernelKiB), "kernel-rss-KiB")
	b.ReportMetric(float64(perProc), "stub-rss-KiB/process")
}

func forkNs(b *testing.B, out string) float64 {
	f := strings.Fields(out)
	if len(f) != 2 {
		b.Fatalf("forkmem printed %q", out)
	}
	v, _ := strconv.ParseFloat(f[1], 64)
	return v
}

func wall(b *testing.B, runs int, f func()) time.Duration {
	start := time.Now()
	for range runs {
		f()
	}
	return time.Since(start) / time.Duration(runs)
}

// sbxMemory runs four sleeping processes in a sandbox and returns the host RSS of its
// kernel process and the mean RSS of its stub processes, in KiB.
func sbxMemory(b *testing.B) (kernelKiB, stubKiB int64) {
	rt, err := os.MkdirTemp("", "sbx-benchmem-rt-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(rt)
	os.Chmod(rt, 0o700)
	c := exec.Command(sbxtest.Binary(b), "run", "--", "/bin/sh", "-c", "sleep 5 & sleep 5 & sleep 5 & echo up; wait")
	c.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	out, _ := c.StdoutPipe()
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { c.Process.Kill(); c.Wait() }()
	bufio.NewScanner(out).Scan()
	time.Sleep(300 * time.Millisecond)
	entries, err := control.List(filepath.Join(rt, "sbx"))
	if err != nil || len(entries) != 1 {
		b.Fatalf("control.List = %v, %v", entries, err)
	}
	kpid := entries[0].Info.KernelPID
	kernelKiB = rssKiB(kpid)
	var stubs []int64
	for _, p := range descendants(kpid) {
		stubs = append(stubs, rssKiB(p))
	}
	if len(stubs) == 0 {
		return kernelKiB, 0
	}
	var sum int64
	for _, s := range stubs {
		sum += s
	}
	return kernelKiB, sum / int64(len(stubs))
}

func rssKiB(pid int) int64 {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

func descendants(pid int) []int {
	var out []int
	tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	for _, t := range tasks {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + t.Name() + "/children")
		for _, f := range strings.Fields(string(b)) {
			c, _ := strconv.Atoi(f)
			out = append(out, c)
			out = append(out, descendants(c)...)
		}
	}
	return out
}
