package syscalls

import (
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// System V message queues (msgget(2), msgsnd(2), msgrcv(2), msgctl(2)) in the sandbox's
// own IPC namespace.

// Limits, as Linux's defaults (MSGMAX, MSGMNB, MSGMNI).
const (
	msgMax = 8192
	msgMnb = 16384
	msgMni = 32000
)

// msgrcv flags and msgctl commands x/sys/unix lacks.
const (
	msgNoError = 0o10000
	msgExcept  = 0o20000
	msgCopy    = 0o40000
	msgStat    = 11
	msgInfo    = 12
)

type message struct {
	mtype int64
	text  []byte
}

type msgQueue struct {
	ipcPerm
	id                  int32
	msgs                []message
	bytes, qbytes       int
	stime, rtime, ctime int64
	lspid, lrpid        int32
	removed             bool
	queue               waiter.Queue
}

// msgTable is an IPC namespace's message queues.
type msgTable struct {
	mu sync.Mutex
	// byID and byKey index the queues; nextID is the next identifier. protected by mu
	byID   map[int32]*msgQueue
	byKey  map[int32]*msgQueue
	nextID int32
}

// Msgget implements msgget(2).
func Msgget(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	msgq := &ipcOf(t).msg
	key, flags := int32(a[0]), uint32(a[1])
	msgq.mu.Lock()
	defer msgq.mu.Unlock()
	old := msgq.byKey[key]
	var perm *ipcPerm
	if old != nil {
		perm = &old.ipcPerm
	}
	found, err := ipcLookup(t, key, flags, perm, func() error { return nil })
	if err != nil {
		return 0, err
	}
	if found {
		return uint64(old.id), nil
	}
	if len(msgq.byID) >= msgMni {
		return 0, unix.ENOSPC
	}
	q := &msgQueue{ipcPerm: newIPCPerm(t, key, flags), id: msgq.nextID, qbytes: msgMnb, ctime: time.Now().Unix()}
	msgq.nextID++
	msgq.byID[q.id] = q
	if key != unix.IPC_PRIVATE {
		msgq.byKey[key] = q
	}
	return uint64(q.id), nil
}

// msgWait sleeps until the queue changes (or is removed: EIDRM). Locks: msgq.mu held on
// entry and exit.
func msgWait(t *kernel.Task, q *msgQueue) error {
	msgq := &ipcOf(t).msg
	e := &waiter.Entry{Mask: waiter.EventIn, Callback: func(uint32) { t.Wake() }}
	q.queue.EventRegister(e)
	msgq.mu.Unlock()
	err := t.Block(time.Time{})
	q.queue.EventUnregister(e)
	msgq.mu.Lock()
	if q.removed {
		return unix.EIDRM
	}
	return err
}

// Msgsnd implements msgsnd(2).
func Msgsnd(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	msgq := &ipcOf(t).msg
	id, addr, size, flags := int32(a[0]), a[1], int64(a[2]), int(a[3])
	if size < 0 || size > msgMax {
		return 0, unix.EINVAL
	}
	b := make([]byte, 8+size)
	if _, err := t.CopyIn(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	m := message{mtype: int64(abi.U64(b)), text: b[8:]} // struct msgbuf: long mtype, then the text
	if m.mtype < 1 {
		return 0, unix.EINVAL
	}
	msgq.mu.Lock()
	defer msgq.mu.Unlock()
	q := msgq.byID[id]
	if q == nil {
		return 0, unix.EINVAL
	}
	if !q.access(t.Creds(), 2) {
		return 0, unix.EACCES
	}
	for q.bytes+int(size) > q.qbytes {
		if flags&unix.IPC_NOWAIT != 0 {
			return 0, unix.EAGAIN
		}
		if err := msgWait(t, q); err != nil {
			return 0, err
		}
	}
	q.msgs = append(q.msgs, m)
	q.bytes += int(size)
	q.stime, q.lspid = time.Now().Unix(), t.Group().PID
	q.queue.Notify(waiter.EventIn)
	return 0, nil
}

// pick returns the index of the message msgrcv(typ, flags) takes, or -1.
func (q *msgQueue) pick(typ int64, flags int) int {
	best := -1
	for i, m := range q.msgs {
		switch {
		case typ == 0:
			return i
		case typ > 0 && flags&msgExcept == 0:
			if m.mtype == typ {
				return i
			}
		case typ > 0:
			if m.mtype != typ {
				return i
			}
		default: // the lowest type at most -typ, first of its kind
			if m.mtype <= -typ && (best < 0 || m.mtype < q.msgs[best].mtype) {
				best = i
			}
		}
	}
	return best
}

// Msgrcv implements msgrcv(2).
func Msgrcv(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	msgq := &ipcOf(t).msg
	id, addr, size, typ, flags := int32(a[0]), a[1], int64(a[2]), int64(a[3]), int(a[4])
	if size < 0 {
		return 0, unix.EINVAL
	}
	copyMsg := flags&msgCopy != 0
	if copyMsg && (flags&msgExcept != 0 || flags&unix.IPC_NOWAIT == 0) {
		return 0, unix.EINVAL // MSG_COPY peeks, without waiting
	}
	msgq.mu.Lock()
	defer msgq.mu.Unlock()
	q := msgq.byID[id]
	if q == nil {
		return 0, unix.EINVAL
	}
	if !q.access(t.Creds(), 4) {
		return 0, unix.EACCES
	}
	if copyMsg {
		// MSG_COPY: a copy of message number typ (from 0), which stays queued.
		if typ < 0 || typ >= int64(len(q.msgs)) {
			return 0, unix.ENOMSG
		}
		return copyOutMsg(t, addr, q.msgs[typ], size, flags)
	}
	for {
		if i := q.pick(typ, flags); i >= 0 {
			m := q.msgs[i]
			n, err := copyOutMsg(t, addr, m, size, flags)
			if err != nil {
				return 0, err
			}
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			q.bytes -= len(m.text)
			q.rtime, q.lrpid = time.Now().Unix(), t.Group().PID
			q.queue.Notify(waiter.EventIn)
			return n, nil
		}
		if flags&unix.IPC_NOWAIT != 0 {
			return 0, unix.ENOMSG
		}
		if err := msgWait(t, q); err != nil {
			return 0, err
		}
	}
}

// copyOutMsg writes m as a struct msgbuf (its type, then its text cut to size) to addr and
// returns the text's length: E2BIG when the text is longer than size without MSG_NOERROR.
func copyOutMsg(t *kernel.Task, addr uint64, m message, size int64, flags int) (uint64, error) {
	if int64(len(m.text)) > size && flags&msgNoError == 0 {
		return 0, unix.E2BIG
	}
	text := m.text[:min(int64(len(m.text)), size)]
	b := make([]byte, 8+len(text))
	abi.PutU64(b, uint64(m.mtype))
	copy(b[8:], text)
	if _, err := t.CopyOut(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(text)), nil
}

// Msgctl implements msgctl(2): IPC_STAT, MSG_STAT, IPC_SET, IPC_RMID, IPC_INFO, MSG_INFO.
func Msgctl(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	msgq := &ipcOf(t).msg
	id, cmd, buf := int32(a[0]), int(a[1])&^0x100, a[2]
	c := t.Creds()
	msgq.mu.Lock()
	defer msgq.mu.Unlock()
	switch cmd {
	case ipcInfo, msgInfo:
		// msgctl_info: the limits, and for MSG_INFO the queues, messages and bytes in use
		// where IPC_INFO gives MSGPOOL, MSGMAP and MSGTQL.
		info := abi.Msginfo{Msgpool: msgMni * msgMnb / 1024, Msgmap: msgMnb, Msgmax: msgMax, Msgmnb: msgMnb,
			Msgmni: msgMni, Msgssz: 16, Msgtql: msgMnb, Msgseg: 0xffff}
		if cmd == msgInfo {
			info.Msgpool, info.Msgmap, info.Msgtql = int32(len(msgq.byID)), 0, 0
			for _, q := range msgq.byID {
				info.Msgmap += int32(len(q.msgs))
				info.Msgtql += int32(q.bytes)
			}
		}
		b := make([]byte, abi.SizeofMsginfo)
		info.Encode(b)
		if _, err := t.CopyOut(buf, b); err != nil {
			return 0, unix.EFAULT
		}
		maxID := int32(0)
		for i := range msgq.byID {
			maxID = max(maxID, i)
		}
		return uint64(maxID), nil
	}
	q := msgq.byID[id]
	if q == nil {
		return 0, unix.EINVAL
	}
	switch cmd {
	case unix.IPC_STAT, msgStat:
		if !q.access(c, 4) {
			return 0, unix.EACCES
		}
		ds := abi.MsqidDS{Perm: q.ipcPerm.perm64(0), Stime: q.stime, Rtime: q.rtime, Ctime: q.ctime, Cbytes: uint64(q.bytes),
			Qnum: uint64(len(q.msgs)), Qbytes: uint64(q.qbytes), Lspid: int32(q.lspid), Lrpid: int32(q.lrpid)}
		b := make([]byte, abi.SizeofMsqidDS)
		ds.Encode(b)
		return statReply(t, buf, b, cmd == msgStat, q.id)
	case unix.IPC_SET:
		if !q.owner(c) {
			return 0, unix.EPERM
		}
		b := make([]byte, abi.SizeofMsqidDS)
		if _, err := t.CopyIn(buf, b); err != nil {
			return 0, unix.EFAULT
		}
		var ds abi.MsqidDS
		ds.Decode(b)
		qbytes := int(ds.Qbytes)
		if qbytes > msgMnb && c.EUID != 0 {
			return 0, unix.EPERM
		}
		q.set(b)
		q.qbytes = qbytes
		q.ctime = time.Now().Unix()
		q.queue.Notify(waiter.EventIn)
		return 0, nil
	case unix.IPC_RMID:
		if !q.owner(c) {
			return 0, unix.EPERM
		}
		q.removed = true
		delete(msgq.byID, q.id)
		if msgq.byKey[q.key] == q {
			delete(msgq.byKey, q.key)
		}
		q.queue.Notify(waiter.EventIn)
		return 0, nil
	}
	return 0, unix.EINVAL
}
