package syscalls

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel"
	"golang.org/x/sys/unix"
)

// schedOther is SCHED_OTHER (SCHED_NORMAL).
const schedOther = 0

// schedState is a kernel's nice values by thread group: the sandbox keeps them for
// getpriority; the host scheduler never sees them (the app's threads are the kernel's to
// schedule). A process's value is dropped when it exits.
type schedState struct {
	nices sync.Map // *kernel.ThreadGroup -> int
}

func schedOf(k *kernel.Kernel) *schedState {
	return kernel.StateOf(k, func(k *kernel.Kernel) *schedState {
		s := &schedState{}
		k.OnProcessExit(func(tg *kernel.ThreadGroup) { s.nices.Delete(tg) })
		return s
	})
}

// setNice records tg's nice value in t's kernel.
func setNice(t *kernel.Task, tg *kernel.ThreadGroup, nice int) {
	schedOf(t.Kernel()).nices.Store(tg, nice)
}

// priorityTargets resolves getpriority/setpriority's (which, who) to thread groups.
func priorityTargets(t *kernel.Task, which, who int32) ([]*kernel.ThreadGroup, error) {
	switch which {
	case unix.PRIO_PROCESS:
		if who == 0 {
			return []*kernel.ThreadGroup{t.Group()}, nil
		}
		if tg := t.GroupByPID(who); tg != nil {
			return []*kernel.ThreadGroup{tg}, nil
		}
		return nil, unix.ESRCH
	case unix.PRIO_PGRP, unix.PRIO_USER:
		// Every process in the sandbox shares the caller's user; process groups are
		// matched on the caller's own group only.
		pgid, _ := t.Group().IDs()
		if who == 0 || (which == unix.PRIO_PGRP && who == pgid) || (which == unix.PRIO_USER && uint32(who) == t.Creds().UID) {
			return []*kernel.ThreadGroup{t.Group()}, nil
		}
		return nil, unix.ESRCH
	}
	return nil, unix.EINVAL
}

func niceOf(t *kernel.Task, tg *kernel.ThreadGroup) int {
	if v, ok := schedOf(t.Kernel()).nices.Load(tg); ok {
		return v.(int)
	}
	return 0
}

// Getpriority implements getpriority(2): the raw syscall returns 20 - nice.
func Getpriority(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tgs, err := priorityTargets(t, int32(a[0]), int32(a[1]))
	if err != nil {
		return 0, err
	}
	return uint64(20 - niceOf(t, tgs[0])), nil
}

// Setpriority implements setpriority(2): raising priority (lower nice) needs root.
func Setpriority(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tgs, err := priorityTargets(t, int32(a[0]), int32(a[1]))
	if err != nil {
		return 0, err
	}
	nice := min(max(int(int32(a[2])), -20), 19)
	for _, tg := range tgs {
		if nice < niceOf(t, tg) && t.Creds().EUID != 0 {
			return 0, unix.EACCES
		}
		setNice(t, tg, nice)
	}
	return 0, nil
}

// schedTarget checks a sched_* pid argument.
func schedTarget(t *kernel.Task, pid int32) error {
	if pid < 0 {
		return unix.EINVAL
	}
	if pid != 0 && t.GroupByPID(pid) == nil && t.TaskByTID(pid) == nil {
		return unix.ESRCH
	}
	return nil
}

// schedTask returns the thread a sched_* pid argument names.
func schedTask(t *kernel.Task, pid int32) (*kernel.Task, error) {
	if err := schedTarget(t, pid); err != nil {
		return nil, err
	}
	if pid == 0 {
		return t, nil
	}
	if x := t.TaskByTID(pid); x != nil {
		return x, nil
	}
	return t.GroupByPID(pid).Leader(), nil
}

// SchedGetscheduler implements sched_getscheduler(2): the policy last set (SCHED_OTHER,
// BATCH or IDLE, with SCHED_RESET_ON_FORK).
func SchedGetscheduler(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	x, err := schedTask(t, int32(a[0]))
	if err != nil {
		return 0, err
	}
	return uint64(x.SchedPolicy()), nil
}

// SchedSetscheduler implements sched_setscheduler(2): SCHED_OTHER, BATCH and IDLE with
// priority 0 are kept (the sandbox's threads are all scheduled alike); real-time policies
// need a privilege the sandbox never has. As on Linux, leaving SCHED_IDLE or dropping
// SCHED_RESET_ON_FORK takes CAP_SYS_NICE, or for the former an RLIMIT_NICE that allows
// the thread's nice value.
func SchedSetscheduler(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[2] == 0 {
		return 0, unix.EINVAL
	}
	prio, err := getU32(t, a[2])
	if err != nil {
		return 0, err
	}
	x, err := schedTask(t, int32(a[0]))
	if err != nil {
		return 0, err
	}
	resetOnFork := int32(a[1])&unix.SCHED_RESET_ON_FORK != 0
	switch policy := int32(a[1]) &^ unix.SCHED_RESET_ON_FORK; policy {
	case schedOther, unix.SCHED_BATCH, unix.SCHED_IDLE:
		if prio != 0 {
			return 0, unix.EINVAL
		}
		cur := x.SchedPolicy()
		privileged := t.Creds().EUID == 0 && t.Kernel().Caps[0]&(1<<unix.CAP_SYS_NICE) != 0
		if !privileged {
			nice, _ := t.Limit(unix.RLIMIT_NICE)
			if cur&^unix.SCHED_RESET_ON_FORK == unix.SCHED_IDLE && policy != unix.SCHED_IDLE &&
				nice < uint64(20-niceOf(t, x.Group())) {
				return 0, unix.EPERM
			}
			if cur&unix.SCHED_RESET_ON_FORK != 0 && !resetOnFork {
				return 0, unix.EPERM
			}
		}
		if resetOnFork {
			policy |= unix.SCHED_RESET_ON_FORK
		}
		x.SetSchedPolicy(policy)
		return 0, nil
	case unix.SCHED_FIFO, unix.SCHED_RR:
		if prio < 1 || prio > 99 {
			return 0, unix.EINVAL
		}
		return 0, unix.EPERM
	}
	return 0, unix.EINVAL
}

// SchedGetparam implements sched_getparam(2).
func SchedGetparam(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[1] == 0 || int32(a[0]) < 0 {
		return 0, unix.EINVAL
	}
	if err := schedTarget(t, int32(a[0])); err != nil {
		return 0, err
	}
	return 0, putU32(t, a[1], 0)
}

// SchedSetparam implements sched_setparam(2) for SCHED_OTHER (priority must be 0).
func SchedSetparam(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[1] == 0 || int32(a[0]) < 0 {
		return 0, unix.EINVAL
	}
	prio, err := getU32(t, a[1])
	if err != nil {
		return 0, err
	}
	if err := schedTarget(t, int32(a[0])); err != nil {
		return 0, err
	}
	if prio != 0 {
		return 0, unix.EINVAL
	}
	return 0, nil
}

// SchedGetPriorityMax implements sched_get_priority_max(2).
func SchedGetPriorityMax(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	switch int32(a[0]) {
	case unix.SCHED_FIFO, unix.SCHED_RR:
		return 99, nil
	case schedOther, unix.SCHED_BATCH, unix.SCHED_IDLE, 6: // 6: SCHED_DEADLINE
		return 0, nil
	}
	return 0, unix.EINVAL
}

// SchedGetPriorityMin implements sched_get_priority_min(2).
func SchedGetPriorityMin(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	switch int32(a[0]) {
	case unix.SCHED_FIFO, unix.SCHED_RR:
		return 1, nil
	case schedOther, unix.SCHED_BATCH, unix.SCHED_IDLE, 6:
		return 0, nil
	}
	return 0, unix.EINVAL
}

// Membarrier implements membarrier(2)'s query: no command is offered (the app's threads
// stop in the kernel at every syscall, but an expedited barrier would have to interrupt all
// of them, which the sandbox does not do).
func Membarrier(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[0] == 0 && a[1] == 0 { // MEMBARRIER_CMD_QUERY
		return 0, nil
	}
	return 0, unix.EINVAL
}
