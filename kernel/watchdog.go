package kernel

import (
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/kernel/vfs"
)

// The blocked-task watchdog (sbx run --debug): a task that stays in one system call
// longer than Config.BlockedReport is reported with the call, its arguments and what it
// waits on, so a hang shows where it is. Bookkeeping happens only when the watchdog is on.

// inCall is what a task is doing in the kernel, for the watchdog.
type inCall struct {
	nr    uint64
	args  SyscallArgs
	start time.Time
	// waitOn says what the task sleeps on (a file, a futex, ...). atomic
	waitOn atomic.Pointer[string]
	// reported is when the call was last reported (zero: not yet).
	reported time.Time
}

// noteWait records what the task is about to wait on (watchdog on only).
func (t *Task) noteWait(what func() string) {
	if t.k.BlockedReport <= 0 {
		return
	}
	if c := t.call.Load(); c != nil {
		s := what()
		c.waitOn.Store(&s)
	}
}

func fileWaitName(fd *vfs.FileDescription) func() string {
	return func() string {
		if vd := fd.VirtualDentry(); vd.Ok() {
			return vd.Path()
		}
		return fd.Name()
	}
}

// watchdog reports blocked tasks until the kernel is done.
func (k *Kernel) watchdog() {
	period := min(k.BlockedReport/2, time.Second)
	tick := time.NewTicker(max(period, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-k.done:
			return
		case now := <-tick.C:
			for _, line := range k.blockedLines(now) {
				k.debugf("%s", line)
			}
		}
	}
}

// blockedLines describes the tasks blocked longer than BlockedReport that were not
// reported in the last BlockedReport, in TID order.
func (k *Kernel) blockedLines(now time.Time) []string {
	k.mu.Lock()
	tasks := make([]*Task, 0, len(k.tasks))
	for _, t := range k.tasks {
		tasks = append(tasks, t)
	}
	k.mu.Unlock()
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].TID < tasks[j].TID })
	var lines []string
	for _, t := range tasks {
		c := t.call.Load()
		if c == nil || now.Sub(c.start) < k.BlockedReport || (!c.reported.IsZero() && now.Sub(c.reported) < k.BlockedReport) {
			continue
		}
		c.reported = now // only this goroutine reads or writes it
		what := "running in the kernel"
		if w := c.waitOn.Load(); w != nil && t.sleeping.Load() {
			what = "waiting on " + *w
		}
		lines = append(lines, fmt.Sprintf("task %d (%s) blocked %s in %s(%#x, %#x, %#x, %#x, %#x, %#x), %s",
			t.TID, t.Name(), now.Sub(c.start).Truncate(time.Second), k.Syscalls.Name(c.nr),
			c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5], what))
	}
	return lines
}
