package syscalls

import (
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Calls that had no handler, answering as Linux does on a one-node machine without a
// kernel log of its own: syslog, sched_rr_get_interval, ioprio_get/set, the removexattr
// family, sched_setattr/getattr, get_mempolicy/set_mempolicy/mbind, name_to_handle_at.

const (
	capSyslog   = 34
	capSysNice  = 23
	capSysAdmin = 21
	capSetuid   = 7
	capSetgid   = 6
)

// Syslog implements syslog(2) (klogctl): the sandbox's kernel log is empty. Reading it
// needs CAP_SYSLOG (kernel.dmesg_restrict is 1).
func Syslog(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	typ, buf, n := int32(a[0]), a[1], int32(a[2])
	if !capable(t, capSyslog) {
		return 0, unix.EPERM
	}
	if typ < 0 || typ > 10 {
		return 0, unix.EINVAL
	}
	switch typ {
	case 2, 3, 4: // READ, READ_ALL, READ_CLEAR
		if buf == 0 || n < 0 {
			return 0, unix.EINVAL
		}
		if n == 0 {
			return 0, nil
		}
		if typ == 2 {
			// Nothing will ever be logged: wait like Linux for a message, until a signal.
			for {
				if err := t.Block(time.Time{}); err != nil {
					return 0, err
				}
			}
		}
		return 0, nil
	case 8: // CONSOLE_LEVEL
		if n < 1 || n > 8 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case 9: // SIZE_UNREAD
		return 0, nil
	case 10: // SIZE_BUFFER
		return 1 << 17, nil
	}
	return 0, nil // CLOSE, OPEN, CLEAR, CONSOLE_OFF, CONSOLE_ON
}

// SchedRRGetInterval implements sched_rr_get_interval(2): SCHED_OTHER tasks report no
// fixed time slice (0), as Linux's fair scheduler does.
func SchedRRGetInterval(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if err := schedTarget(t, int32(a[0])); err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(a[1], make([]byte, 16)); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// procPolicies are a kernel's per-process I/O priorities (ioprio_set(2), kept for
// ioprio_get; nothing schedules I/O by them here) and memory policies (set_mempolicy(2),
// kept for get_mempolicy). A process's values are dropped when it exits.
type procPolicies struct {
	ioprios     sync.Map // *kernel.ThreadGroup -> uint32
	mempolicies sync.Map // *kernel.ThreadGroup -> int32
}

func policiesOf(k *kernel.Kernel) *procPolicies {
	return kernel.StateOf(k, func(k *kernel.Kernel) *procPolicies {
		p := &procPolicies{}
		k.OnProcessExit(func(tg *kernel.ThreadGroup) {
			p.ioprios.Delete(tg)
			p.mempolicies.Delete(tg)
		})
		return p
	})
}

const (
	ioprioWhoProcess = 1
	ioprioWhoPgrp    = 2
	ioprioWhoUser    = 3
)

// ioprioTargets resolves (which, who) to processes.
func ioprioTargets(t *kernel.Task, which, who int32) ([]*kernel.ThreadGroup, error) {
	k := t.Kernel()
	var out []*kernel.ThreadGroup
	switch which {
	case ioprioWhoProcess:
		if who == 0 {
			return []*kernel.ThreadGroup{t.Group()}, nil
		}
		if task := k.TaskByTID(who); task != nil {
			return []*kernel.ThreadGroup{task.Group()}, nil
		}
	case ioprioWhoPgrp:
		pgid, _ := t.Group().IDs()
		if who != 0 {
			pgid = who
		}
		for _, tg := range k.Groups() {
			if g, _ := tg.IDs(); g == pgid && !tg.Zombie() {
				out = append(out, tg)
			}
		}
	case ioprioWhoUser:
		uid := uint32(who)
		if who == 0 {
			uid = t.Creds().UID
		}
		for _, tg := range k.Groups() {
			if tg.Creds().UID == uid && !tg.Zombie() {
				out = append(out, tg)
			}
		}
	default:
		return nil, unix.EINVAL
	}
	if len(out) == 0 {
		return nil, unix.ESRCH
	}
	return out, nil
}

func ioprioOf(t *kernel.Task, tg *kernel.ThreadGroup) uint32 {
	if v, ok := policiesOf(t.Kernel()).ioprios.Load(tg); ok {
		return v.(uint32)
	}
	return 0 // IOPRIO_CLASS_NONE: follows the CPU nice value
}

// IoprioGet implements ioprio_get(2): for several processes, the highest priority.
func IoprioGet(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	tgs, err := ioprioTargets(t, int32(a[0]), int32(a[1]))
	if err != nil {
		return 0, err
	}
	best := ioprioOf(t, tgs[0])
	for _, tg := range tgs[1:] {
		if p := ioprioOf(t, tg); p != 0 && (best == 0 || p < best) {
			best = p
		}
	}
	return uint64(best), nil
}

// IoprioSet implements ioprio_set(2): the real-time class needs CAP_SYS_NICE or
// CAP_SYS_ADMIN; best effort takes levels 0-7; changing another user's process needs
// CAP_SYS_NICE.
func IoprioSet(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	prio := uint32(a[2])
	class, data := prio>>13, prio&0x1fff
	switch class {
	case 1: // RT
		if !capable(t, capSysNice) && !capable(t, capSysAdmin) {
			return 0, unix.EPERM
		}
		fallthrough
	case 2, 3: // BE, IDLE: a level (3 bits) and a hint
	case 0: // NONE
		if data != 0 {
			return 0, unix.EINVAL
		}
	default:
		return 0, unix.EINVAL
	}
	tgs, err := ioprioTargets(t, int32(a[0]), int32(a[1]))
	if err != nil {
		return 0, err
	}
	c := t.Creds()
	for _, tg := range tgs {
		tc := tg.Creds()
		if tc.UID != c.EUID && tc.UID != c.UID && !capable(t, capSysNice) {
			return 0, unix.EPERM
		}
		policiesOf(t.Kernel()).ioprios.Store(tg, prio)
	}
	return 0, nil
}

func removexattr(t *kernel.Task, a kernel.SyscallArgs, byFD, follow bool) (uint64, error) {
	in, name, err := xattrAccess(t, a, byFD, follow, true)
	if err != nil {
		return 0, err
	}
	if r, ok := in.(vfs.XattrRemover); ok {
		return 0, r.Removexattr(name)
	}
	if x, ok := in.(vfs.Xattrer); ok {
		if _, err := x.Getxattr(name); err != nil {
			return 0, err
		}
	}
	return 0, unix.EOPNOTSUPP
}

// Removexattr, Lremovexattr, Fremovexattr implement removexattr(2).
func Removexattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return removexattr(t, a, false, true)
}
func Lremovexattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return removexattr(t, a, false, false)
}
func Fremovexattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return removexattr(t, a, true, false)
}

// struct sched_attr sizes.
const (
	schedAttrVer0 = abi.SCHED_ATTR_SIZE_VER0
	schedAttrSize = abi.SizeofSchedAttr // with util_min/util_max
	schedFlagAll  = 0x7f
)

// SchedGetattr implements sched_getattr(2): every task runs SCHED_OTHER at its nice value.
func SchedGetattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	pid, usize, flags := int32(a[0]), uint32(a[2]), a[3]
	if a[1] == 0 || pid < 0 || flags != 0 || usize < schedAttrVer0 || usize > mm.PageSize {
		return 0, unix.EINVAL
	}
	if err := schedTarget(t, pid); err != nil {
		return 0, err
	}
	tg := t.Group()
	if pid != 0 {
		if task := t.TaskByTID(pid); task != nil {
			tg = task.Group()
		}
	}
	size := min(usize, schedAttrSize)
	attr := abi.SchedAttr{Size: size, Nice: int32(niceOf(t, tg))}
	if size >= schedAttrSize {
		attr.UtilMax = 1024 // SCHED_CAPACITY_SCALE
	}
	b := make([]byte, abi.SizeofSchedAttr)
	attr.Encode(b)
	if _, err := t.CopyOut(a[1], b[:size]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// SchedSetattr implements sched_setattr(2) with the policies sched_setscheduler offers.
func SchedSetattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	pid, flags := int32(a[0]), a[2]
	if a[1] == 0 || pid < 0 || flags != 0 {
		return 0, unix.EINVAL
	}
	size, err := getU32(t, a[1])
	if err != nil {
		return 0, err
	}
	tooBig := func() (uint64, error) {
		putU32(t, a[1], schedAttrSize)
		return 0, unix.E2BIG
	}
	if size == 0 {
		size = schedAttrVer0
	}
	if size < schedAttrVer0 || size > mm.PageSize {
		return tooBig()
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	for _, c := range b[min(size, schedAttrSize):] {
		if c != 0 {
			return tooBig()
		}
	}
	var attr abi.SchedAttr
	attr.Decode(b)
	policy, aflags, nice, prio := int32(attr.Policy), attr.Flags, attr.Nice, attr.Priority
	if policy < 0 {
		return 0, unix.EINVAL
	}
	if err := schedTarget(t, pid); err != nil {
		return 0, err
	}
	if aflags&^schedFlagAll != 0 {
		return 0, unix.EINVAL
	}
	switch policy {
	case schedOther, unix.SCHED_BATCH, unix.SCHED_IDLE:
		if prio != 0 {
			return 0, unix.EINVAL
		}
	case unix.SCHED_FIFO, unix.SCHED_RR:
		if prio < 1 || prio > 99 {
			return 0, unix.EINVAL
		}
		return 0, unix.EPERM
	case 6: // SCHED_DEADLINE
		return 0, unix.EPERM
	default:
		return 0, unix.EINVAL
	}
	tg := t.Group()
	if pid != 0 {
		if task := t.TaskByTID(pid); task != nil {
			tg = task.Group()
		}
	}
	nice = min(max(nice, -20), 19)
	if int(nice) < niceOf(t, tg) && t.Creds().EUID != 0 {
		return 0, unix.EPERM
	}
	setNice(t, tg, int(nice))
	return 0, nil
}

// NUMA memory policy: the sandbox is one node (node 0); policies are validated and
// remembered for get_mempolicy, and every one of them places memory on node 0.
const (
	mpolDefault   = 0
	mpolLocal     = 4
	mpolMax       = 7
	mpolModeFlags = 1<<15 | 1<<14 | 1<<13 // STATIC_NODES, RELATIVE_NODES, NUMA_BALANCING
	mpolFNode     = 1
	mpolFAddr     = 2
	mpolFAllowed  = 4
	mpolMFValid   = 1<<0 | 1<<1 | 1<<2 // MPOL_MF_STRICT, MOVE, MOVE_ALL
)

// readNodes reads a nodemask of maxnode bits: whether it is empty, and EINVAL when it
// names a node other than 0.
func readNodes(t *kernel.Task, addr, maxnode uint64) (empty bool, err error) {
	if addr == 0 || maxnode == 0 {
		return true, nil
	}
	maxnode-- // Linux ignores the last bit
	if maxnode > mm.PageSize*8 {
		return false, unix.EINVAL
	}
	b := make([]byte, (maxnode+63)/64*8)
	if _, err := t.CopyIn(addr, b); err != nil {
		return false, unix.EFAULT
	}
	for i := uint64(0); i < maxnode; i++ {
		if b[i/8]&(1<<(i%8)) != 0 {
			if i != 0 {
				return false, unix.EINVAL
			}
			empty = false
			continue
		}
	}
	return b[0]&1 == 0, nil
}

// checkPolicy validates a mode and its nodes as mpol_new does.
func checkPolicy(mode uint64, empty bool) error {
	m := mode &^ mpolModeFlags
	if m >= mpolMax || mode&(1<<15) != 0 && mode&(1<<14) != 0 {
		return unix.EINVAL
	}
	switch m {
	case mpolDefault, mpolLocal:
		if !empty {
			return unix.EINVAL
		}
	case 1: // PREFERRED: an empty mask means local
	default:
		if empty {
			return unix.EINVAL
		}
	}
	return nil
}

// SetMempolicy implements set_mempolicy(2).
func SetMempolicy(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	empty, err := readNodes(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	if err := checkPolicy(a[0], empty); err != nil {
		return 0, err
	}
	policiesOf(t.Kernel()).mempolicies.Store(t.Group(), int32(a[0]&^mpolModeFlags))
	return 0, nil
}

// GetMempolicy implements get_mempolicy(2).
func GetMempolicy(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	modeAddr, maskAddr, maxnode, addr, flags := a[0], a[1], a[2], a[3], a[4]
	if flags&^(mpolFNode|mpolFAddr|mpolFAllowed) != 0 || flags&mpolFAllowed != 0 && flags&(mpolFNode|mpolFAddr) != 0 {
		return 0, unix.EINVAL
	}
	if maskAddr != 0 && maxnode < 1 {
		return 0, unix.EINVAL
	}
	mode := int32(mpolDefault)
	if v, ok := policiesOf(t.Kernel()).mempolicies.Load(t.Group()); ok && flags&mpolFAddr == 0 {
		mode = v.(int32)
	}
	switch {
	case flags&mpolFAllowed != 0:
	case flags&mpolFAddr != 0:
		if t.MM().CheckMapped(addr&^(mm.PageSize-1), 1) != nil {
			return 0, unix.EFAULT
		}
		if flags&mpolFNode != 0 {
			mode = 0 // the node the page is on
		}
	case flags&mpolFNode != 0:
		if mode != 3 { // only an interleave policy names a next node
			return 0, unix.EINVAL
		}
		mode = 0
	case addr != 0:
		return 0, unix.EINVAL
	}
	if modeAddr != 0 {
		if err := putU32(t, modeAddr, uint32(mode)); err != nil {
			return 0, err
		}
	}
	if maskAddr != 0 {
		n := (maxnode - 1 + 63) / 64 * 8
		if n > mm.PageSize {
			return 0, unix.EINVAL
		}
		b := make([]byte, n)
		if flags&mpolFAllowed != 0 || mode != mpolDefault && mode != mpolLocal {
			if len(b) > 0 {
				b[0] = 1
			}
		}
		if _, err := t.CopyOut(maskAddr, b); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, nil
}

// Mbind implements mbind(2): the range must be page-aligned and mapped.
func Mbind(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	addr, length, mode, flags := a[0], a[1], a[2], a[5]
	if addr%mm.PageSize != 0 || flags&^mpolMFValid != 0 {
		return 0, unix.EINVAL
	}
	empty, err := readNodes(t, a[3], a[4])
	if err != nil {
		return 0, err
	}
	if err := checkPolicy(mode, empty); err != nil {
		return 0, err
	}
	if length == 0 {
		return 0, nil
	}
	if addr+length < addr {
		return 0, unix.EINVAL
	}
	// EFAULT only when nothing in the range is mapped (Linux skips holes).
	m := t.MM()
	for a := addr; a < addr+length && a-addr < 1<<32; a += mm.PageSize {
		if m.CheckMapped(a, 1) == nil {
			return 0, nil
		}
	}
	return 0, unix.EFAULT
}
