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
)

// BenchmarkDesktop runs testdata/bench/desk.c natively and under sbx: pty throughput
// (4 KiB written to a raw pty's master and read from its slave) and inotify latency (a
// write to a watched file until its event is read), each as ns/op and the sbx/native
// ratio; and the latency of a change made on the host to a file watched inside the sandbox
// (a --rw directory; natively the same watcher on the same file).
func BenchmarkDesktop(b *testing.B) {
	dir, exe := sbxtest.BuildC(b, "testdata/bench/desk.c", "-O2")
	iters := "5000"
	if b.N == 1 {
		iters = "100"
	}
	u := sbxtest.Users()[0]
	parse := func(out string) map[string]float64 {
		m := map[string]float64{}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				m[f[0]], _ = strconv.ParseFloat(f[1], 64)
			}
		}
		return m
	}
	native := parse(sbxtest.Run(b, u, "", "", exe, iters).Stdout)
	res := sbxtest.Sbx(b, u, "run", "--ro", dir, "--", exe, iters)
	if res.Code != 0 {
		b.Fatalf("sbx run: %d %s", res.Code, res.Stderr)
	}
	sandboxed := parse(res.Stdout)
	for _, k := range []string{"pty-4k-roundtrip", "inotify-write-event"} {
		b.ReportMetric(sandboxed[k], k+"-sbx-ns/op")
		b.ReportMetric(native[k], k+"-native-ns/op")
		if native[k] > 0 {
			b.ReportMetric(sandboxed[k]/native[k], k+"-ratio")
		}
	}
	rounds := 20
	if b.N == 1 {
		rounds = 3
	}
	watched := filepath.Join(dir, "rw")
	os.Mkdir(watched, 0o777)
	file := filepath.Join(watched, "f")
	os.WriteFile(file, nil, 0o666)
	hostLatency := func(argv ...string) time.Duration {
		cmd := exec.Command(argv[0], argv[1:]...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer cmd.Wait()
		defer cmd.Process.Kill()
		lines := bufio.NewScanner(out)
		if !lines.Scan() || lines.Text() != "ready" {
			b.Fatalf("%v: no ready line", argv)
		}
		var total time.Duration
		for i := 0; i < rounds; i++ {
			start := time.Now()
			f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				b.Fatal(err)
			}
			f.Write([]byte("x"))
			f.Close()
			if !lines.Scan() {
				b.Fatalf("%v: the event never came", argv)
			}
			total += time.Since(start)
			time.Sleep(20 * time.Millisecond)
		}
		return total / time.Duration(rounds)
	}
	n := strconv.Itoa(rounds)
	nat := hostLatency(exe, n, "hostwatch", file)
	sbx := hostLatency(sbxtest.Binary(b), "run", "--ro", dir, "--rw", watched, "--", exe, n, "hostwatch", file)
	b.ReportMetric(float64(sbx.Microseconds()), "inotify-host-change-sbx-µs")
	b.ReportMetric(float64(nat.Microseconds()), "inotify-host-change-native-µs")
	if nat > 0 {
		b.ReportMetric(float64(sbx)/float64(nat), "inotify-host-change-ratio")
	}
}
