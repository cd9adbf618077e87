package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestListCPUTimeAddsUp is issue 9's item 14: the CPU time sbx list (and sbx top) shows is
// the sandbox's processes' own time plus their reaped children's, each counted once, as
// Linux counts it. A shell runs a hundred short children and prints `times`; the sandbox's
// total must then equal the shell's own time plus its children's, and can never exceed the
// wall-clock time on every CPU (before, every child also counted the whole history of the
// host thread that traced it: minutes of CPU after seconds).
func TestListCPUTimeAddsUp(t *testing.T) {
	bin := sbxtest.Binary(t)
	rt := t.TempDir()
	os.Chmod(rt, 0o700)
	start := time.Now()
	c := exec.Command(bin, "run", "--", "/bin/sh", "-c",
		`i=0; while [ $i -lt 100 ]; do /bin/ls /usr >/dev/null; i=$((i+1)); done; times; echo ready; exec /bin/sleep 30`)
	c.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Process.Kill(); c.Wait() }()
	var inside time.Duration
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
		for _, f := range strings.Fields(sc.Text()) { // dash: "0m0.004000s 0m0.012000s"
			m, s, ok := strings.Cut(strings.TrimSuffix(f, "s"), "m")
			mins, err1 := strconv.Atoi(m)
			secs, err2 := strconv.ParseFloat(s, 64)
			if !ok || err1 != nil || err2 != nil {
				t.Fatalf("cannot parse times output %q; stderr: %s", sc.Text(), stderr.String())
			}
			inside += time.Duration(mins)*time.Minute + time.Duration(secs*float64(time.Second))
		}
	}
	if inside == 0 {
		t.Fatalf("no times output; stderr: %s", stderr.String())
	}
	list, err := exec.Command("env", "XDG_RUNTIME_DIR="+rt, bin, "list", "--json").Output()
	wall := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		Stats struct {
			CPUNanos int64 `json:"cpu_ns"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(list, &rows); err != nil || len(rows) != 1 {
		t.Fatalf("sbx list --json = %s (%v), want one sandbox", list, err)
	}
	total := time.Duration(rows[0].Stats.CPUNanos)
	if limit := wall * time.Duration(runtime.NumCPU()); total > limit {
		t.Errorf("sbx list shows %v of CPU after %v of wall-clock time on %d CPUs", total, wall, runtime.NumCPU())
	}
	// The shell's and sleep's own time after `times` ran is small: allow 20% and 200ms.
	if total < inside*9/10 || total > inside*6/5+200*time.Millisecond {
		t.Errorf("sbx list shows %v of CPU; the shell's own and its children's times add up to %v", total, inside)
	}
}
