package syscalls

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/sock"
	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/net/netlink"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// POSIX message queues (mq_overview(7)): named queues of prioritized messages in the
// sandbox's IPC namespace, opened as pollable descriptors.

// The defaults and limits of /proc/sys/fs/mqueue, and Linux's hard ceilings for callers with
// CAP_SYS_RESOURCE.
const (
	mqQueuesMax      = 256
	mqMsgMax         = 10
	mqMsgsizeMax     = 8192
	mqMsgDefault     = 10
	mqMsgsizeDefault = 8192
	mqHardMsgMax     = 65536
	mqHardMsgsizeMax = 16 << 20
	mqPrioMax        = 32768
	siMesgq          = -3
)

type mqMsg struct {
	prio uint32
	text []byte
}

// mqNotify is a process's mq_notify registration. SIGEV_THREAD's is a netlink socket and
// the cookie sent to it (glibc's helper thread reads it there and starts the function).
type mqNotify struct {
	owner  *kernel.ThreadGroup
	notify int32
	signo  int32
	value  uint64
	sock   *netlink.Socket
	cookie []byte
}

// Cookie markers in the last byte of a SIGEV_THREAD notification (ipc/mqueue.c).
const (
	mqCookieLen     = 32
	mqNotifyWokenUp = 1
	mqNotifyRemoved = 2
)

// sendCookie sends the SIGEV_THREAD socket its cookie marked with what happened.
func (n *mqNotify) sendCookie(what byte) {
	b := append([]byte(nil), n.cookie...)
	b[mqCookieLen-1] = what
	n.sock.Deliver(b)
}

// exited reports whether the registered process is gone (its descriptors, and with them
// its registration, closed on Linux).
func (n *mqNotify) exited() bool {
	select {
	case <-n.owner.Exited():
		return true
	default:
		return false
	}
}

// mqueue is one queue; its fields are protected by the namespace's mu.
type mqueue struct {
	ns              *mqNamespace
	mode, uid, gid  uint32
	maxmsg, msgsize int64
	msgs            []mqMsg // highest priority first, FIFO within a priority
	bytes           int64
	receivers       int
	notify          *mqNotify
	queue           waiter.Queue
	// opens counts the open descriptions; linked is false once the name is gone. The
	// queue's RLIMIT_MSGQUEUE charge (charge bytes of user chargeUID) is returned when
	// both are over, as Linux's mqueue_evict_inode.
	opens     int
	linked    bool
	charge    int64
	chargeUID uint32
}

// mqNamespace is the sandbox's set of named queues (/dev/mqueue).
type mqNamespace struct {
	mu     sync.Mutex
	byName map[string]*mqueue
	// userBytes is each user's RLIMIT_MSGQUEUE use. protected by mu
	userBytes map[uint32]int64
}

// Sizes Linux charges a queue with against RLIMIT_MSGQUEUE: struct msg_msg and struct
// posix_msg_tree_node on x86-64.
const (
	mqMsgMsgSize   = 48
	mqTreeNodeSize = 48
)

// mqCharge is what a queue costs its creator (mq_open's mq_bytes).
func mqCharge(maxmsg, msgsize int64) int64 {
	return maxmsg*mqMsgMsgSize + min(maxmsg, mqPrioMax)*mqTreeNodeSize + maxmsg*msgsize
}

// releaseLocked returns the queue's charge once nothing refers to it. Preconditions:
// ns.mu held.
func (q *mqueue) releaseLocked() {
	if q.opens == 0 && !q.linked && q.charge != 0 {
		q.ns.userBytes[q.chargeUID] -= q.charge
		q.charge = 0
	}
}

func mqueues(t *kernel.Task) *mqNamespace { return ipcOf(t).mq }

// mqFile is an open queue descriptor. Reading it gives the queue's status line, as on Linux.
type mqFile struct{ q *mqueue }

var _ vfs.Pollable = (*mqFile)(nil)

func (f *mqFile) status() string {
	ns := f.q.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var notify, signo, pid int32
	if n := f.q.notify; n != nil {
		notify, pid = n.notify, n.owner.PID
		if n.notify == sigevSignal {
			signo = n.signo
		}
	}
	return fmt.Sprintf("QSIZE:%-10d NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", f.q.bytes, notify, signo, pid)
}

// Read implements vfs.File.
func (f *mqFile) Read(_ *vfs.FileDescription, dst [][]byte, off int64) (int64, error) {
	s := f.status()
	if off >= int64(len(s)) {
		return 0, nil
	}
	src := []byte(s[off:])
	n := int64(0)
	for _, d := range dst {
		c := copy(d, src)
		src, n = src[c:], n+int64(c)
	}
	return n, nil
}

// Write implements vfs.File: queue files have no write operation.
func (*mqFile) Write(*vfs.FileDescription, [][]byte, int64) (int64, error) { return 0, unix.EINVAL }

// Release implements vfs.File.
func (f *mqFile) Release() {
	ns := f.q.ns
	ns.mu.Lock()
	f.q.opens--
	f.q.releaseLocked()
	ns.mu.Unlock()
}

// Readiness implements vfs.Pollable.
func (f *mqFile) Readiness(mask uint32) uint32 {
	ns := f.q.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var r uint32
	if len(f.q.msgs) > 0 {
		r |= waiter.EventIn | waiter.EventRdNorm
	}
	if int64(len(f.q.msgs)) < f.q.maxmsg {
		r |= waiter.EventOut | 0x100 // POLLWRNORM
	}
	return r & mask
}

// EventRegister implements vfs.Pollable.
func (f *mqFile) EventRegister(e *waiter.Entry) { f.q.queue.EventRegister(e) }

// EventUnregister implements vfs.Pollable.
func (f *mqFile) EventUnregister(e *waiter.Entry) { f.q.queue.EventUnregister(e) }

// mqName checks the name the mq_open/mq_unlink syscalls get (glibc strips the leading '/').
func mqName(t *kernel.Task, addr uint64) (string, error) {
	name, err := copyInPath(t, addr)
	if err != nil {
		return "", err
	}
	switch {
	case name == "":
		return "", unix.ENOENT
	case len(name) > 255:
		return "", unix.ENAMETOOLONG
	case strings.Contains(name, "/") || name == "." || name == "..":
		return "", unix.EACCES
	}
	return name, nil
}

// mqAccess reports whether creds may open q for the access mode.
func (q *mqueue) access(c *vfs.Creds, acc uint32) bool {
	if c.EUID == 0 {
		return true
	}
	perm := q.mode & 7
	if c.EUID == q.uid {
		perm = q.mode >> 6 & 7
	} else if c.InGroup(q.gid) {
		perm = q.mode >> 3 & 7
	}
	want := uint32(4)
	switch acc {
	case unix.O_WRONLY:
		want = 2
	case unix.O_RDWR, 3:
		want = 6
	}
	return perm&want == want
}

// MqOpen implements mq_open(2).
func MqOpen(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	flags, mode := int(a[1]), uint32(a[2])
	name, err := mqName(t, a[0])
	if err != nil {
		return 0, err
	}
	maxmsg, msgsize := int64(mqMsgDefault), int64(mqMsgsizeDefault)
	if flags&unix.O_CREAT != 0 && a[3] != 0 {
		b := make([]byte, 64)
		if _, err := t.CopyIn(a[3], b); err != nil {
			return 0, unix.EFAULT
		}
		maxmsg, msgsize = int64(binary.LittleEndian.Uint64(b[8:])), int64(binary.LittleEndian.Uint64(b[16:]))
		if maxmsg <= 0 || msgsize <= 0 {
			return 0, unix.EINVAL
		}
		limMsg, limSize := int64(mqMsgMax), int64(mqMsgsizeMax)
		if capable(t, capSysResource) {
			limMsg, limSize = mqHardMsgMax, mqHardMsgsizeMax
		}
		if maxmsg > limMsg || msgsize > limSize {
			return 0, unix.EINVAL
		}
	}
	ns := mqueues(t)
	ns.mu.Lock()
	q := ns.byName[name]
	acc := uint32(flags & unix.O_ACCMODE)
	switch {
	case q != nil && flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL:
		err = unix.EEXIST
	case q != nil && acc == 3:
		err = unix.EINVAL
	case q != nil && !q.access(t.Creds(), acc):
		err = unix.EACCES
	case q == nil && flags&unix.O_CREAT == 0:
		err = unix.ENOENT
	case q == nil && len(ns.byName) >= mqQueuesMax && !capable(t, capSysResource):
		err = unix.ENOSPC
	case q == nil:
		c := t.Creds()
		charge := mqCharge(maxmsg, msgsize)
		if limit, _ := t.Limit(unix.RLIMIT_MSGQUEUE); uint64(ns.userBytes[c.UID]+charge) > limit {
			err = unix.EMFILE
			break
		}
		ns.userBytes[c.UID] += charge
		q = &mqueue{ns: ns, mode: mode &^ t.Umask(false, 0) & 0o777, uid: c.EUID, gid: c.EGID, maxmsg: maxmsg, msgsize: msgsize,
			linked: true, charge: charge, chargeUID: c.UID}
		ns.byName[name] = q
	}
	if err == nil {
		q.opens++
	}
	ns.mu.Unlock()
	if err != nil {
		return 0, err
	}
	fd := vfs.NewAnonFileDescription(&mqFile{q: q}, "/"+name, flags&(unix.O_ACCMODE|unix.O_NONBLOCK))
	defer fd.DecRef()
	n, err := t.FDs().Install(fd, 0, flags&unix.O_CLOEXEC != 0, nofile(t))
	return uint64(n), err
}

// MqUnlink implements mq_unlink(2): the name goes, open descriptors keep the queue.
func MqUnlink(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	name, err := mqName(t, a[0])
	if err != nil {
		return 0, err
	}
	ns := mqueues(t)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	q := ns.byName[name]
	if q == nil {
		return 0, unix.ENOENT
	}
	// /dev/mqueue is a sticky, world-writable directory.
	if c := t.Creds(); c.EUID != 0 && c.EUID != q.uid {
		return 0, unix.EPERM
	}
	delete(ns.byName, name)
	q.linked = false
	q.releaseLocked()
	return 0, nil
}

// mqFD returns the queue behind a descriptor (EBADF for anything else).
func mqFD(t *kernel.Task, n uint64) (*vfs.FileDescription, *mqueue, error) {
	fd, err := getFD(t, n)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	f, ok := fd.Impl().(*mqFile)
	if !ok {
		fd.DecRef()
		return nil, nil, unix.EBADF
	}
	return fd, f.q, nil
}

// mqDeadline reads an absolute CLOCK_REALTIME timeout (zero time: none).
func mqDeadline(t *kernel.Task, addr uint64) (time.Time, error) {
	if addr == 0 {
		return time.Time{}, nil
	}
	ts, err := getTimespec(t, addr)
	if err != nil {
		return time.Time{}, err
	}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return time.Time{}, unix.EINVAL
	}
	d := time.Unix(ts.Sec, ts.Nsec)
	if !d.After(time.Now()) {
		d = time.Unix(0, 1) // already past: time out at once
	}
	return d, nil
}

// mqWait sleeps until the queue changes. Locks: ns.mu held on entry and exit.
func mqWait(t *kernel.Task, q *mqueue, deadline time.Time) error {
	e := &waiter.Entry{Mask: waiter.EventIn | waiter.EventOut, Callback: func(uint32) { t.Wake() }}
	q.queue.EventRegister(e)
	q.ns.mu.Unlock()
	err := t.Block(deadline)
	q.queue.EventUnregister(e)
	q.ns.mu.Lock()
	return err
}

// MqTimedsend implements mq_timedsend(2).
func MqTimedsend(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	addr, size, prio := a[1], a[2], a[3]
	deadline, err := mqDeadline(t, a[4])
	if err != nil {
		return 0, err
	}
	if prio >= mqPrioMax {
		return 0, unix.EINVAL
	}
	fd, q, err := mqFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.Writable() {
		return 0, unix.EBADF
	}
	if size > uint64(q.msgsize) {
		return 0, unix.EMSGSIZE
	}
	text := make([]byte, size)
	if _, err := t.CopyIn(addr, text); err != nil {
		return 0, unix.EFAULT
	}
	ns := q.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for int64(len(q.msgs)) >= q.maxmsg {
		if fd.StatusFlags()&unix.O_NONBLOCK != 0 {
			return 0, unix.EAGAIN
		}
		if err := mqWait(t, q, deadline); err != nil {
			return 0, err
		}
	}
	i := sort.Search(len(q.msgs), func(i int) bool { return q.msgs[i].prio < uint32(prio) })
	q.msgs = append(q.msgs, mqMsg{})
	copy(q.msgs[i+1:], q.msgs[i:])
	q.msgs[i] = mqMsg{prio: uint32(prio), text: text}
	q.bytes += int64(size)
	if n := q.notify; n != nil && len(q.msgs) == 1 && q.receivers == 0 {
		q.notify = nil
		switch n.notify {
		case sigevSignal:
			t.Kernel().SignalGroupInfo(n.owner, unix.Signal(n.signo), kernel.SigInfo{Code: siMesgq,
				PID: t.Group().PID, UID: t.Creds().UID, Value: n.value})
		case sigevThread:
			n.sendCookie(mqNotifyWokenUp)
		}
	}
	q.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	return 0, nil
}

// MqTimedreceive implements mq_timedreceive(2).
func MqTimedreceive(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	addr, size, prioAddr := a[1], a[2], a[3]
	deadline, err := mqDeadline(t, a[4])
	if err != nil {
		return 0, err
	}
	fd, q, err := mqFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.Readable() {
		return 0, unix.EBADF
	}
	if size < uint64(q.msgsize) {
		return 0, unix.EMSGSIZE
	}
	ns := q.ns
	ns.mu.Lock()
	for len(q.msgs) == 0 {
		if fd.StatusFlags()&unix.O_NONBLOCK != 0 {
			ns.mu.Unlock()
			return 0, unix.EAGAIN
		}
		q.receivers++
		err := mqWait(t, q, deadline)
		q.receivers--
		if err != nil {
			ns.mu.Unlock()
			return 0, err
		}
	}
	m := q.msgs[0]
	q.msgs = q.msgs[1:]
	q.bytes -= int64(len(m.text))
	ns.mu.Unlock()
	q.queue.Notify(waiter.EventOut | 0x100)
	if _, err := t.CopyOut(addr, m.text); err != nil {
		return 0, unix.EFAULT
	}
	if prioAddr != 0 {
		if err := putU32(t, prioAddr, m.prio); err != nil {
			return 0, err
		}
	}
	return uint64(len(m.text)), nil
}

// MqNotify implements mq_notify(2). SIGEV_THREAD names a netlink socket (sigev_signo) and
// a 32-byte cookie (sigev_value) sent to it on notification, and on removal.
func MqNotify(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	var n *mqNotify
	if a[1] != 0 {
		b := make([]byte, 16) // sigev_value, sigev_signo, sigev_notify
		if _, err := t.CopyIn(a[1], b); err != nil {
			return 0, unix.EFAULT
		}
		n = &mqNotify{owner: t.Group(), value: binary.LittleEndian.Uint64(b), signo: int32(binary.LittleEndian.Uint32(b[8:])),
			notify: int32(binary.LittleEndian.Uint32(b[12:]))}
		switch n.notify {
		case sigevNone:
		case sigevSignal:
			if n.signo < 0 || n.signo > 64 {
				return 0, unix.EINVAL
			}
		case sigevThread:
			n.cookie = make([]byte, mqCookieLen)
			if _, err := t.CopyIn(n.value, n.cookie); err != nil {
				return 0, unix.EFAULT
			}
			sfd, err := getFD(t, uint64(uint32(n.signo)))
			if err != nil {
				return 0, unix.EBADF
			}
			impl := sfd.Impl()
			sfd.DecRef()
			switch s := impl.(type) {
			case *netlink.Socket:
				n.sock = s
			case *sock.Socket, *inet.Socket:
				return 0, unix.EINVAL // a socket, not a netlink one
			default:
				return 0, unix.ENOTSOCK
			}
		default:
			return 0, unix.EINVAL
		}
	}
	fd, q, err := mqFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	q.ns.mu.Lock()
	defer q.ns.mu.Unlock()
	switch {
	case n == nil:
		if o := q.notify; o != nil && o.owner == t.Group() {
			q.notify = nil
			if o.notify == sigevThread {
				o.sendCookie(mqNotifyRemoved)
			}
		}
	case q.notify != nil && !q.notify.exited():
		return 0, unix.EBUSY
	default:
		q.notify = n
	}
	return 0, nil
}

// MqGetsetattr implements mq_getsetattr(2): only O_NONBLOCK can change.
func MqGetsetattr(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	var newFlags uint64
	if a[1] != 0 {
		b := make([]byte, 64)
		if _, err := t.CopyIn(a[1], b); err != nil {
			return 0, unix.EFAULT
		}
		newFlags = binary.LittleEndian.Uint64(b)
		if newFlags&^unix.O_NONBLOCK != 0 {
			return 0, unix.EINVAL
		}
	}
	fd, q, err := mqFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	q.ns.mu.Lock()
	old := make([]byte, 64)
	le := binary.LittleEndian
	le.PutUint64(old[0:], uint64(fd.StatusFlags()&unix.O_NONBLOCK))
	le.PutUint64(old[8:], uint64(q.maxmsg))
	le.PutUint64(old[16:], uint64(q.msgsize))
	le.PutUint64(old[24:], uint64(len(q.msgs)))
	q.ns.mu.Unlock()
	if a[1] != 0 {
		fd.SetStatusFlags(fd.StatusFlags()&^unix.O_NONBLOCK | uint32(newFlags))
	}
	if a[2] != 0 {
		if _, err := t.CopyOut(a[2], old); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, nil
}
