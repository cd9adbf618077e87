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

// BenchmarkSandbox runs testdata/bench/bench.c natively and under sbx and reports ns/op of
// each, and their ratio, as custom metrics; plus the wall time of `sbx run -- /bin/true`.
// With -benchtime=1x (CI) the loops are short: the point there is that it keeps working.
func BenchmarkSandbox(b *testing.B) {
	if _, err := exec.LookPath("gcc"); err != nil {
		b.Skip("gcc is not installed")
	}
	dir, err := os.MkdirTemp("", "sbx-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "bench")
	if out, err := exec.Command("gcc", "-O2", "-o", exe, "testdata/bench/bench.c").CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
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
	res := sbxtest.Sbx(b, u, "run", "--ro", dir, "--", exe, iters)
	if res.Code != 0 {
		b.Fatalf("sbx run: %d %s", res.Code, res.Stderr)
	}
	sandboxed := parse(res.Stdout)
	for _, k := range []string{"getpid", "open-read-close", "mmap-munmap-64k", "fork-exec-wait"} {
		b.ReportMetric(sandboxed[k], k+"-sbx-ns/op")
		b.ReportMetric(native[k], k+"-native-ns/op")
		if native[k] > 0 {
			b.ReportMetric(sandboxed[k]/native[k], k+"-ratio")
		}
	}
	start := time.Now()
	runs := 5
	if b.N == 1 {
		runs = 1
	}
	for i := 0; i < runs; i++ {
		if r := sbxtest.Sbx(b, u, "run", "--", "/bin/true"); r.Code != 0 {
			b.Fatalf("sbx run -- /bin/true: %d %s", r.Code, r.Stderr)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(runs), "run-true-ms")
}
