package syscalls_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// BenchmarkSeccompFilter runs testdata/bench/seccomp.c natively and under sbx on each
// platform: ns per getppid without a seccomp filter and with a 100-instruction one, and the
// difference (what the filter adds per syscall), natively (the host's JIT-compiled BPF) and
// in sbx's kernel (its interpreter).
func BenchmarkSeccompFilter(b *testing.B) {
	dir, exe := sbxtest.BuildC(b, "testdata/bench/seccomp.c", "-O2")
	iters := "20000"
	if b.N == 1 {
		iters = "200"
	}
	parse := func(out string) (before, after float64) {
		m := map[string]float64{}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				m[f[0]], _ = strconv.ParseFloat(f[1], 64)
			}
		}
		return m["getppid"], m["getppid-filter100"]
	}
	u := sbxtest.Users()[0]
	res := sbxtest.Run(b, u, "", "", exe, iters)
	if res.Code != 0 {
		b.Fatalf("native: %d %s", res.Code, res.Stderr)
	}
	nb, na := parse(res.Stdout)
	b.ReportMetric(na-nb, "filter100-native-added-ns/call")
	for _, p := range benchPlatforms {
		res := sbxOn(b, u, p, "--ro", dir, "--", exe, iters)
		if res.Code != 0 {
			b.Fatalf("sbx run --platform %s: %d %s", p, res.Code, res.Stderr)
		}
		sb, sa := parse(res.Stdout)
		b.ReportMetric(sb, "getppid-"+p+"-ns/op")
		b.ReportMetric(sa-sb, "filter100-"+p+"-added-ns/call")
		if nb > 0 {
			b.ReportMetric(sa/nb, "filter100-"+p+"-ratio-vs-native-unfiltered")
		}
	}
}
