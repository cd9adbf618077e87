package syscalls_test

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/platform/kvm"
)

// benchPlatforms are the platforms every sandbox benchmark compares with native: kvm too
// where it can run.
var benchPlatforms = func() []string {
	ps := []string{"ptrace", "trap"}
	if kvm.Probe() == nil {
		ps = append(ps, "kvm")
	}
	return ps
}()

// sbxOn runs `sbx run --platform p args...` as u.
func sbxOn(b *testing.B, u sbxtest.User, p string, args ...string) sbxtest.Result {
	return sbxtest.Run(b, u, "", "", append([]string{sbxtest.Binary(b), "run", "--platform", p}, args...)...)
}

// BenchmarkSandbox runs testdata/bench/bench.c natively and under sbx on each platform and
// reports ns/op of each, and the ratios to native, as custom metrics; plus the wall time of
// `sbx run -- /bin/true`. With -benchtime=1x (CI) the loops are short: the point there is
// that it keeps working.
func BenchmarkSandbox(b *testing.B) {
	dir, exe := sbxtest.BuildC(b, "testdata/bench/bench.c", "-O2", "-pthread")
	iters := "20000"
	if b.N == 1 {
		iters = "200"
	}
	u := sbxtest.Users()[0]
	parse := func(out string) map[string]float64 {
		m := map[string]float64{}
		s := bufio.NewScanner(strings.NewReader(out))
		for s.Scan() {
			f := strings.Fields(s.Text())
			if len(f) == 2 {
				v, _ := strconv.ParseFloat(f[1], 64)
				m[f[0]] = v
			}
		}
		return m
	}
	native := parse(sbxtest.Run(b, u, "", "", exe, iters).Stdout)
	keys := []string{"getpid", "getppid-libc", "clock_gettime", "open-read-close", "mmap-munmap-64k", "pipe-ping-pong", "futex-ring", "fork-exec-wait"}
	for _, k := range keys {
		b.ReportMetric(native[k], k+"-native-ns/op")
	}
	for _, p := range benchPlatforms {
		n := iters
		if p == "kvm" && b.N > 1 {
			// A kvm round trip costs ~100 µs (more under load) where no VT-x/AMD-V is
			// there (PVM): a twentieth of the loop keeps the run within sbxtest's timeout.
			n = "1000"
		}
		res := sbxOn(b, u, p, "--ro", dir, "--", exe, n)
		if res.Code != 0 {
			b.Fatalf("sbx run --platform %s: %d %s", p, res.Code, res.Stderr)
		}
		sandboxed := parse(res.Stdout)
		for _, k := range keys {
			b.ReportMetric(sandboxed[k], k+"-"+p+"-ns/op")
			if native[k] > 0 {
				b.ReportMetric(sandboxed[k]/native[k], k+"-"+p+"-ratio")
			}
		}
	}
	runs := 5
	if b.N == 1 {
		runs = 1
	}
	for _, p := range benchPlatforms {
		start := time.Now()
		for i := 0; i < runs; i++ {
			if r := sbxOn(b, u, p, "--", "/bin/true"); r.Code != 0 {
				b.Fatalf("sbx run -- /bin/true: %d %s", r.Code, r.Stderr)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(runs), "run-true-"+p+"-ms")
	}
}

// BenchmarkCommands times whole programs natively and under sbx on each platform (the
// shortest of a few runs each) and reports the ratios: Python's json work, a shell running
// /bin/true 200 times, and tar of /usr/share/doc.
func BenchmarkCommands(b *testing.B) {
	u := sbxtest.Users()[0]
	cmds := []struct {
		name string
		argv []string
	}{
		{"python3-json", []string{"/usr/bin/python3", "-c",
			"import json\nd=[{'k%d'%i:[i,str(i),{'x':i*1.5}]} for i in range(2000)]\nfor _ in range(20): json.loads(json.dumps(d))"}},
		{"sh-200-true", []string{"/bin/sh", "-c", "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done"}},
		{"tar-usr-share-doc", []string{"/bin/sh", "-c", "tar cf - /usr/share/doc 2>/dev/null | wc -c >/dev/null"}},
	}
	runs := 3
	if b.N == 1 {
		runs = 1
	}
	best := func(f func() error) float64 {
		var min time.Duration
		for i := 0; i < runs; i++ {
			start := time.Now()
			if err := f(); err != nil {
				b.Fatal(err)
			}
			if d := time.Since(start); i == 0 || d < min {
				min = d
			}
		}
		return float64(min.Microseconds()) / 1000
	}
	for _, c := range cmds {
		if _, err := os.Stat(c.argv[0]); err != nil {
			b.Logf("%s: %s is not installed", c.name, c.argv[0])
			continue
		}
		native := best(func() error {
			if r := sbxtest.Run(b, u, "", "", c.argv...); r.Code != 0 {
				return fmt.Errorf("%s natively: %d %s", c.name, r.Code, r.Stderr)
			}
			return nil
		})
		b.ReportMetric(native, c.name+"-native-ms")
		for _, p := range benchPlatforms {
			ms := best(func() error {
				if r := sbxOn(b, u, p, append([]string{"--"}, c.argv...)...); r.Code != 0 {
					return fmt.Errorf("%s on %s: %d %s", c.name, p, r.Code, r.Stderr)
				}
				return nil
			})
			b.ReportMetric(ms, c.name+"-"+p+"-ms")
			b.ReportMetric(ms/native, c.name+"-"+p+"-ratio")
		}
	}
}
