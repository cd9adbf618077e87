package sandbox

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel"
)

// writeSyscallSummary prints the table `sbx run --strace=summary` ends with: per syscall,
// the share of the time spent in the kernel's handlers, that time, its mean per call,
// the calls and the failed ones, most time first, as `strace -c -w` lays it out. The time
// is wall time in the handler, blocking included (a futex wait counts as long as it
// waits); what trapping into the kernel costs is not in it.
func writeSyscallSummary(w io.Writer, s kernel.Stats) {
	type row struct {
		name   string
		t      time.Duration
		calls  uint64
		errors uint64
	}
	var rows []row
	var total row
	for name, n := range s.PerSyscall {
		r := row{name, s.PerSyscallTime[name], n, s.PerSyscallErrors[name]}
		rows = append(rows, r)
		total.t += r.t
		total.calls += r.calls
		total.errors += r.errors
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].t != rows[j].t {
			return rows[i].t > rows[j].t
		}
		return rows[i].name < rows[j].name
	})
	fmt.Fprintf(w, "%% time     seconds  usecs/call     calls    errors syscall\n")
	fmt.Fprintf(w, "------ ----------- ----------- --------- --------- ----------------\n")
	line := func(r row) {
		share := 0.0
		if total.t > 0 {
			share = 100 * float64(r.t) / float64(total.t)
		}
		per := int64(0)
		if r.calls > 0 {
			per = r.t.Microseconds() / int64(r.calls)
		}
		errs := ""
		if r.errors > 0 {
			errs = fmt.Sprint(r.errors)
		}
		fmt.Fprintf(w, "%6.2f %11.6f %11d %9d %9s %s\n", share, r.t.Seconds(), per, r.calls, errs, r.name)
	}
	for _, r := range rows {
		line(r)
	}
	fmt.Fprintf(w, "------ ----------- ----------- --------- --------- ----------------\n")
	total.name = "total"
	line(total)
}

// writeGoferSummary precedes the syscall table with the gofer requests the run made, per op
// (most time first): the round trips behind host-file syscalls.
func writeGoferSummary(w io.Writer, ops []gofer.OpCount) {
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Time != ops[j].Time {
			return ops[i].Time > ops[j].Time
		}
		return ops[i].Op < ops[j].Op
	})
	var total gofer.OpCount
	fmt.Fprintf(w, "   seconds  usecs/call     calls    errors gofer request\n")
	fmt.Fprintf(w, "---------- ----------- --------- --------- ----------------\n")
	line := func(c gofer.OpCount, name string) {
		per := int64(0)
		if c.Calls > 0 {
			per = c.Time.Microseconds() / int64(c.Calls)
		}
		errs := ""
		if c.Errors > 0 {
			errs = fmt.Sprint(c.Errors)
		}
		fmt.Fprintf(w, "%10.6f %11d %9d %9s %s\n", c.Time.Seconds(), per, c.Calls, errs, name)
	}
	for _, c := range ops {
		line(c, c.Op.String())
		total.Calls += c.Calls
		total.Errors += c.Errors
		total.Time += c.Time
	}
	fmt.Fprintf(w, "---------- ----------- --------- --------- ----------------\n")
	line(total, "total")
	fmt.Fprintln(w)
}
