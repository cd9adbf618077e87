package main

import (
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// BenchmarkStartup times `sbx run -- /bin/true` on the trap and ptrace platforms against
// /bin/true run natively and under bubblewrap (`bwrap --dev-bind / / /bin/true`, when it is
// installed): the median of rounds that run each in turn, so that a change in the machine's
// load touches all of them alike. It reports each median in ms and sbx's ratio to native.
// The breakdown of one run is `sbx run --debug -- /bin/true`.
func BenchmarkStartup(b *testing.B) {
	sbx := sbxtest.Binary(b)
	cases := []struct {
		name string
		argv []string
	}{
		{"native", []string{"/bin/true"}},
		{"trap", []string{sbx, "run", "--platform", "trap", "--", "/bin/true"}},
		{"ptrace", []string{sbx, "run", "--platform", "ptrace", "--", "/bin/true"}},
	}
	if bwrap, err := exec.LookPath("bwrap"); err == nil {
		cases = append(cases, struct {
			name string
			argv []string
		}{"bwrap", []string{bwrap, "--dev-bind", "/", "/", "/bin/true"}})
	}
	rounds := 20
	if b.N == 1 {
		rounds = 3
	}
	times := make([][]time.Duration, len(cases))
	for range rounds {
		for i, c := range cases {
			start := time.Now()
			if out, err := exec.Command(c.argv[0], c.argv[1:]...).CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", c.name, err, out)
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2]) / float64(time.Millisecond)
	}
	native := median(times[0])
	for i, c := range cases {
		m := median(times[i])
		b.ReportMetric(m, c.name+"-ms")
		if i > 0 && native > 0 {
			b.ReportMetric(m/native, c.name+"-ratio")
		}
	}
}
