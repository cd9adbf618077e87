package kernel

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestBlockedLines checks what the debug watchdog reports: a task blocked past the limit,
// once per period, with its call and what it waits on; never a task that is not in a call
// or not there long.
func TestBlockedLines(t *testing.T) {
	st := &SyscallTable{}
	st.Entries[0].Name = "read"
	st.Entries[35].Name = "nanosleep"
	k := &Kernel{Config: Config{Syscalls: st, Debug: io.Discard, BlockedReport: 10 * time.Second}, tasks: make(map[int32]*Task)}
	start := time.Now()
	mk := func(tid int32, name string, nr uint64, since time.Duration, wait string) {
		task := &Task{k: k, TID: tid, name: name}
		if nr != ^uint64(0) {
			c := &inCall{nr: nr, args: SyscallArgs{3, 0x1000, 64}, start: start.Add(-since)}
			if wait != "" {
				c.waitOn.Store(&wait)
				task.sleeping.Store(true)
			}
			task.call.Store(c)
		}
		k.tasks[tid] = task
	}
	mk(2, "cat", 0, 12*time.Second, "pipe:[7]")
	mk(3, "sleep", 35, 3*time.Second, "the clock")
	mk(4, "idle", ^uint64(0), 0, "")
	mk(5, "busy", 0, 11*time.Second, "")
	got := k.blockedLines(start)
	want := []string{
		"task 2 (cat) blocked 12s in read(0x3, 0x1000, 0x40, 0x0, 0x0, 0x0), waiting on pipe:[7]",
		"task 5 (busy) blocked 11s in read(0x3, 0x1000, 0x40, 0x0, 0x0, 0x0), running in the kernel",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("blockedLines() = %q; want %q", got, want)
	}
	if again := k.blockedLines(start.Add(time.Second)); len(again) != 0 {
		t.Errorf("blockedLines a second later = %q; want nothing (reported once per period)", again)
	}
	if later := k.blockedLines(start.Add(10 * time.Second)); len(later) != 3 {
		t.Errorf("blockedLines a period later = %q; want the two again and the sleeper, now past the limit", later)
	}
}
