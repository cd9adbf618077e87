package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Signal-driven I/O: F_SETOWN/F_GETOWN(_EX), F_SETSIG/F_GETSIG and O_ASYNC (fcntl(2)).
// A file description with O_ASYNC and an owner sends the owner SIGIO (or the F_SETSIG
// signal, with si_band and si_fd) when it becomes readable or writable.

const (
	fOwnerTID  = 0
	fOwnerPID  = 1
	fOwnerPGRP = 2
	fSetownEx  = 15
	fGetownEx  = 16
	siKernel   = 0x80
)

// ownerExists checks an F_SETOWN target (0: none).
func ownerExists(t *kernel.Task, typ, id int32) error {
	if id == 0 {
		return nil
	}
	k := t.Kernel()
	switch typ {
	case fOwnerTID:
		if k.TaskByTID(id) != nil {
			return nil
		}
	case fOwnerPID:
		if k.GroupByPID(id) != nil || k.TaskByTID(id) != nil {
			return nil
		}
	case fOwnerPGRP:
		for _, tg := range k.Groups() {
			if g, _ := tg.IDs(); g == id {
				return nil
			}
		}
	}
	return unix.ESRCH
}

// fcntlOwner implements the F_*OWN* and F_*SIG commands.
func fcntlOwner(t *kernel.Task, fd *vfs.FileDescription, cmd int, arg uint64) (uint64, error) {
	switch cmd {
	case unix.F_GETOWN:
		typ, id := fd.Owner()
		if typ == fOwnerPGRP {
			id = -id
		}
		return uint64(int64(id)), nil
	case unix.F_SETOWN:
		id, typ := int32(arg), int32(fOwnerPID)
		if id < 0 {
			id, typ = -id, fOwnerPGRP
		}
		if err := ownerExists(t, typ, id); err != nil {
			return 0, err
		}
		fd.SetOwner(typ, id)
		urgentUpdate(t.Kernel(), fd)
		return 0, nil
	case fGetownEx:
		typ, id := fd.Owner()
		if id == 0 {
			typ = fOwnerPID // an unset owner reads as F_OWNER_PID 0
		}
		b := make([]byte, abi.SizeofFOwnerEx)
		o := abi.FOwnerEx{Type: int32(typ), PID: int32(id)}
		o.Encode(b)
		if _, err := t.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case fSetownEx:
		b := make([]byte, abi.SizeofFOwnerEx)
		if _, err := t.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		var o abi.FOwnerEx
		o.Decode(b)
		typ, id := o.Type, o.PID
		if typ < fOwnerTID || typ > fOwnerPGRP {
			return 0, unix.EINVAL
		}
		if err := ownerExists(t, typ, id); err != nil {
			return 0, err
		}
		fd.SetOwner(typ, id)
		urgentUpdate(t.Kernel(), fd)
		return 0, nil
	case unix.F_GETSIG:
		return uint64(fd.AsyncSig()), nil
	case unix.F_SETSIG:
		if arg > 64 {
			return 0, unix.EINVAL
		}
		fd.SetAsyncSig(int32(arg))
		return 0, nil
	}
	return 0, unix.EINVAL
}

// asyncUpdate starts or stops signal-driven I/O after O_ASYNC changed on fd (number fdn).
func asyncUpdate(t *kernel.Task, fd *vfs.FileDescription, fdn int32) {
	if fd.StatusFlags()&unix.O_ASYNC == 0 {
		fd.SetAsyncNotify(nil, 0)
		return
	}
	// A reader hears of data, a writer of room (a pipe's ends: Linux's fasync_readers
	// and fasync_writers).
	mask := waiter.EventHUp | waiter.EventErr
	if fd.Readable() {
		mask |= waiter.EventIn | waiter.EventRdNorm
	}
	if fd.Writable() {
		mask |= waiter.EventOut
	}
	k := t.Kernel()
	fd.SetAsyncNotify(func(ev uint32) { sigio(k, fd, fdn, ev) }, mask)
}

// sigio signals fd's owner that events ev happened on it.
func sigio(k *kernel.Kernel, fd *vfs.FileDescription, fdn int32, ev uint32) {
	typ, id := fd.Owner()
	if id == 0 {
		return
	}
	// Some files wake their waiters with every event that might have changed (a pty
	// wakes both sides on any input): only what the file shows now is news.
	if p, ok := fd.Impl().(vfs.Pollable); ok {
		if ev &= p.Readiness(ev) | waiter.EventRdNorm&ev; ev == 0 {
			return
		}
	}
	sig := unix.Signal(fd.AsyncSig())
	info := kernel.SigInfo{Code: siKernel}
	if sig == 0 {
		sig = unix.SIGIO
	} else {
		info = kernel.SigInfo{Poll: true, FD: fdn}
		switch {
		case ev&(waiter.EventHUp|waiter.EventErr) != 0:
			info.Code, info.Band = 6, int64(unix.POLLHUP|unix.POLLERR) // POLL_HUP
		case ev&(waiter.EventIn|waiter.EventRdNorm) != 0:
			info.Code, info.Band = 1, int64(unix.POLLIN|0x40) // POLLRDNORM // POLL_IN
		default:
			info.Code, info.Band = 2, int64(unix.POLLOUT|0x100|0x200) // POLLWRNORM, POLLWRBAND // POLL_OUT
		}
	}
	signalOwner(k, typ, id, sig, info)
}

// urgentUpdate starts or stops SIGURG for a TCP socket after its owner changed: Linux
// sends the owner SIGURG when urgent data arrives, with or without O_ASYNC.
func urgentUpdate(k *kernel.Kernel, fd *vfs.FileDescription) {
	if s, ok := fd.Impl().(*inet.Socket); !ok || s.Type != unix.SOCK_STREAM {
		return
	}
	if _, id := fd.Owner(); id == 0 {
		fd.SetUrgentNotify(nil)
		return
	}
	fd.SetUrgentNotify(func() {
		if typ, id := fd.Owner(); id != 0 {
			signalOwner(k, typ, id, unix.SIGURG, kernel.SigInfo{Code: siKernel})
		}
	})
}

// signalOwner sends sig to an F_SETOWN owner: a thread, a process or a process group.
func signalOwner(k *kernel.Kernel, typ, id int32, sig unix.Signal, info kernel.SigInfo) {
	switch typ {
	case fOwnerTID:
		if task := k.TaskByTID(id); task != nil {
			k.SignalThread(task, sig, info)
		}
	case fOwnerPID:
		if tg := k.GroupByPID(id); tg != nil {
			k.SignalGroupInfo(tg, sig, info)
		}
	case fOwnerPGRP:
		for _, tg := range k.Groups() {
			if g, _ := tg.IDs(); g == id {
				k.SignalGroupInfo(tg, sig, info)
			}
		}
	}
}
