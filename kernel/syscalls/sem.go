package syscalls

import (
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// System V semaphores (semget(2), semop(2), semtimedop(2), semctl(2)) in the sandbox's own
// IPC namespace. A set's operations are atomic under sem.mu; waiters sleep on the set's
// queue and retry after every change. SEM_UNDO adjustments are applied when the process
// exits.

// Limits, as Linux's defaults (SEMMSL, SEMMNI, SEMOPM, SEMVMX).
const (
	semMsl = 32000
	semMni = 32000
	semOpm = 500
	semVmx = 32767
)

// semctl commands (linux/sem.h) beyond IPC_*.
const (
	semGetPID  = 11
	semGetVal  = 12
	semGetAll  = 13
	semGetNCnt = 14
	semGetZCnt = 15
	semSetVal  = 16
	semSetAll  = 17
	semStat    = 18
	semInfo    = 19
)

type semaphore struct {
	val, pid   int32
	ncnt, zcnt int
}

type semSet struct {
	ipcPerm
	id           int32
	sems         []semaphore
	otime, ctime int64
	removed      bool
	queue        waiter.Queue
}

// semTable is an IPC namespace's semaphore sets.
type semTable struct {
	mu sync.Mutex
	// byID and byKey index the sets; nextID is the next identifier. protected by mu
	byID   map[int32]*semSet
	byKey  map[int32]*semSet
	nextID int32
	// undo holds each process's SEM_UNDO adjustments: set id -> semaphore -> value.
	// protected by mu
	undo map[*kernel.ThreadGroup]map[int32]map[uint16]int32
}

// Semget implements semget(2).
func Semget(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	sem := &ipcOf(t).sem
	key, nsems, flags := int32(a[0]), int32(a[1]), uint32(a[2])
	if nsems < 0 || nsems > semMsl {
		return 0, unix.EINVAL
	}
	sem.mu.Lock()
	defer sem.mu.Unlock()
	old := sem.byKey[key]
	var perm *ipcPerm
	if old != nil {
		perm = &old.ipcPerm
	}
	found, err := ipcLookup(t, key, flags, perm, func() error {
		if int(nsems) > len(old.sems) {
			return unix.EINVAL
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if found {
		return uint64(old.id), nil
	}
	if nsems == 0 {
		return 0, unix.EINVAL
	}
	if len(sem.byID) >= semMni {
		return 0, unix.ENOSPC
	}
	s := &semSet{ipcPerm: newIPCPerm(t, key, flags), id: sem.nextID, sems: make([]semaphore, nsems), ctime: time.Now().Unix()}
	sem.nextID++
	sem.byID[s.id] = s
	if key != unix.IPC_PRIVATE {
		sem.byKey[key] = s
	}
	return uint64(s.id), nil
}

type sembuf struct {
	num  uint16
	op   int16
	flag int16
}

// Semop implements semop(2).
func Semop(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return semop(t, int32(a[0]), a[1], a[2], 0)
}

// Semtimedop implements semtimedop(2).
func Semtimedop(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return semop(t, int32(a[0]), a[1], a[2], a[3])
}

func semop(t *kernel.Task, id int32, sopsAddr, nsops, timeoutAddr uint64) (uint64, error) {
	sem := &ipcOf(t).sem
	if nsops == 0 {
		return 0, unix.EINVAL
	}
	if nsops > semOpm {
		return 0, unix.E2BIG
	}
	b := make([]byte, abi.SizeofSembuf*nsops)
	if _, err := t.CopyIn(sopsAddr, b); err != nil {
		return 0, unix.EFAULT
	}
	ops := make([]sembuf, nsops)
	alter := false
	for i := range ops {
		var sb abi.Sembuf
		sb.Decode(b[abi.SizeofSembuf*i:])
		ops[i] = sembuf{sb.Num, sb.Op, sb.Flg}
		alter = alter || ops[i].op != 0
	}
	var deadline time.Time
	if timeoutAddr != 0 {
		ts, err := getTimespec(t, timeoutAddr)
		if err != nil {
			return 0, err
		}
		if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
			return 0, unix.EINVAL
		}
		deadline = time.Now().Add(time.Duration(ts.Nano()))
	}
	var waited *semSet // the set slept on: removed meanwhile means EIDRM
	for {
		sem.mu.Lock()
		s := sem.byID[id]
		if waited != nil && (waited.removed || s != waited) {
			sem.mu.Unlock()
			return 0, unix.EIDRM
		}
		if s == nil || s.removed {
			sem.mu.Unlock()
			return 0, unix.EINVAL
		}
		want := uint32(4)
		if alter {
			want = 2
		}
		if !s.access(t.Creds(), want) {
			sem.mu.Unlock()
			return 0, unix.EACCES
		}
		blockedOn := -1
		for i, o := range ops {
			if int(o.num) >= len(s.sems) {
				sem.mu.Unlock()
				return 0, unix.EFBIG
			}
			v := s.sems[o.num].val
			if o.op < 0 && v+int32(o.op) < 0 || o.op == 0 && v != 0 {
				blockedOn = i
				break
			}
		}
		if blockedOn < 0 {
			// Apply, checking the upper bound (ERANGE) before changing anything.
			vals := make([]int32, len(s.sems))
			for i := range s.sems {
				vals[i] = s.sems[i].val
			}
			for _, o := range ops {
				vals[o.num] += int32(o.op)
				if vals[o.num] > semVmx {
					sem.mu.Unlock()
					return 0, unix.ERANGE
				}
			}
			pid := t.Group().PID
			for _, o := range ops {
				s.sems[o.num].val += int32(o.op)
				s.sems[o.num].pid = pid
				if o.flag&0x1000 != 0 && o.op != 0 { // SEM_UNDO
					semAddUndo(sem, t.Group(), s.id, o.num, -int32(o.op))
				}
			}
			s.otime = time.Now().Unix()
			sem.mu.Unlock()
			s.queue.Notify(waiter.EventIn)
			return 0, nil
		}
		o := ops[blockedOn]
		if o.flag&unix.IPC_NOWAIT != 0 {
			sem.mu.Unlock()
			return 0, unix.EAGAIN
		}
		cnt := &s.sems[o.num].ncnt
		if o.op == 0 {
			cnt = &s.sems[o.num].zcnt
		}
		*cnt++
		e := &waiter.Entry{Mask: waiter.EventIn, Callback: func(uint32) { t.Wake() }}
		s.queue.EventRegister(e)
		sem.mu.Unlock()
		waited = s
		err := t.Block(deadline)
		s.queue.EventUnregister(e)
		sem.mu.Lock()
		*cnt--
		sem.mu.Unlock()
		switch err {
		case nil:
		case unix.ETIMEDOUT:
			return 0, unix.EAGAIN
		default:
			return 0, err
		}
	}
}

// semAddUndo records an adjustment to apply when the process exits. Locks: sem.mu.
func semAddUndo(sem *semTable, tg *kernel.ThreadGroup, id int32, num uint16, adj int32) {
	m := sem.undo[tg]
	if m == nil {
		m = make(map[int32]map[uint16]int32)
		sem.undo[tg] = m
	}
	if m[id] == nil {
		m[id] = make(map[uint16]int32)
	}
	m[id][num] += adj
}

// semExit applies a process's SEM_UNDO adjustments, clamped to the semaphores' range.
func semExit(sem *semTable, tg *kernel.ThreadGroup) {
	sem.mu.Lock()
	m := sem.undo[tg]
	delete(sem.undo, tg)
	var touched []*semSet
	for id, adjs := range m {
		s := sem.byID[id]
		if s == nil || s.removed {
			continue
		}
		for num, adj := range adjs {
			if int(num) < len(s.sems) {
				s.sems[num].val = min(max(s.sems[num].val+adj, 0), semVmx)
				s.sems[num].pid = tg.PID
			}
		}
		touched = append(touched, s)
	}
	sem.mu.Unlock()
	for _, s := range touched {
		s.queue.Notify(waiter.EventIn)
	}
}

// Semctl implements semctl(2).
func Semctl(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	sem := &ipcOf(t).sem
	id, num, cmd, arg := int32(a[0]), int(int32(a[1])), int(a[2])&^0x100, a[3]
	c := t.Creds()
	sem.mu.Lock()
	defer sem.mu.Unlock()
	switch cmd {
	case ipcInfo, semInfo:
		// semctl_info: the limits (SEMMNU and SEMMAP are SEMMNS, SEMUME is SEMOPM), and for
		// SEM_INFO the sets and semaphores in use where IPC_INFO gives SEMUSZ and SEMAEM.
		info := abi.Seminfo{Semmap: semMni * semMsl, Semmni: semMni, Semmns: semMni * semMsl, Semmnu: semMni * semMsl,
			Semmsl: semMsl, Semopm: semOpm, Semume: semOpm, Semusz: 20, Semvmx: semVmx, Semaem: semVmx}
		if cmd == semInfo {
			info.Semusz, info.Semaem = int32(len(sem.byID)), 0
			for _, s := range sem.byID {
				info.Semaem += int32(len(s.sems))
			}
		}
		b := make([]byte, abi.SizeofSeminfo)
		info.Encode(b)
		if _, err := t.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		maxID := int32(0)
		for i := range sem.byID {
			maxID = max(maxID, i)
		}
		return uint64(maxID), nil
	}
	s := sem.byID[id]
	if s == nil || s.removed {
		return 0, unix.EINVAL
	}
	owner := s.owner(c)
	checkNum := func() error {
		if num < 0 || num >= len(s.sems) {
			return unix.EINVAL
		}
		return nil
	}
	read := func() error {
		if !s.access(c, 4) {
			return unix.EACCES
		}
		return nil
	}
	changed := func() {
		s.ctime = time.Now().Unix()
		for _, adjs := range sem.undo {
			delete(adjs, s.id) // setting values clears undo records, as Linux does
		}
		go s.queue.Notify(waiter.EventIn)
	}
	switch cmd {
	case unix.IPC_STAT, semStat:
		if err := read(); err != nil {
			return 0, err
		}
		ds := abi.SemidDS{Perm: s.ipcPerm.perm64(0), Otime: s.otime, Ctime: s.ctime, Nsems: uint64(len(s.sems))}
		b := make([]byte, abi.SizeofSemidDS)
		ds.Encode(b)
		return statReply(t, arg, b, cmd == semStat, s.id)
	case unix.IPC_SET:
		if err := s.setFrom(t, arg); err != nil {
			return 0, err
		}
		s.ctime = time.Now().Unix()
		return 0, nil
	case unix.IPC_RMID:
		if !owner {
			return 0, unix.EPERM
		}
		s.removed = true
		delete(sem.byID, s.id)
		if sem.byKey[s.key] == s {
			delete(sem.byKey, s.key)
		}
		go s.queue.Notify(waiter.EventIn) // waiters see EIDRM
		return 0, nil
	case semGetVal, semGetPID, semGetNCnt, semGetZCnt:
		if err := read(); err != nil {
			return 0, err
		}
		if err := checkNum(); err != nil {
			return 0, err
		}
		x := s.sems[num]
		return map[int]uint64{semGetVal: uint64(x.val), semGetPID: uint64(x.pid), semGetNCnt: uint64(x.ncnt),
			semGetZCnt: uint64(x.zcnt)}[cmd], nil
	case semGetAll:
		if err := read(); err != nil {
			return 0, err
		}
		b := make([]byte, 2*len(s.sems))
		for i, x := range s.sems {
			abi.PutU16(b[2*i:], uint16(x.val)) // unsigned short array[]
		}
		if _, err := t.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case semSetVal:
		if !s.access(c, 2) {
			return 0, unix.EACCES
		}
		if err := checkNum(); err != nil {
			return 0, err
		}
		v := int32(arg)
		if v < 0 || v > semVmx {
			return 0, unix.ERANGE
		}
		s.sems[num].val, s.sems[num].pid = v, t.Group().PID
		changed()
		return 0, nil
	case semSetAll:
		if !s.access(c, 2) {
			return 0, unix.EACCES
		}
		b := make([]byte, 2*len(s.sems))
		if _, err := t.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		for i := range s.sems {
			if v := abi.U16(b[2*i:]); v > semVmx {
				return 0, unix.ERANGE
			}
		}
		for i := range s.sems {
			s.sems[i].val, s.sems[i].pid = int32(abi.U16(b[2*i:])), t.Group().PID
		}
		changed()
		return 0, nil
	}
	return 0, unix.EINVAL
}
