package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/tty"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Terminals in the I/O paths: job control on the caller's controlling terminal, VMIN/VTIME
// reads, whole blocking writes.

// timedReader files decide themselves when a blocked read returns (a terminal's VMIN and
// VTIME).
type timedReader interface {
	ReadReady(want int) bool
	ReadDeadline(start time.Time) time.Time
	ReadExpired(fd *vfs.FileDescription, dst [][]byte) (int64, error)
}

// tostopper terminals report whether TOSTOP is set (background writes stop the writer).
type tostopper interface{ TOSTOP() bool }

// terminalOf returns the job-control state of a terminal file (nil for other files) and
// whether fd is a pty master.
func terminalOf(fd *vfs.FileDescription) (*tty.Control, bool) {
	switch f := fd.Impl().(type) {
	case tty.Terminal:
		return f.TTY(), false
	case tty.MasterTerminal:
		return f.SlaveTTY(), true
	}
	return nil, false
}

// ttyReadCheck stops a background process group reading its controlling terminal.
func ttyReadCheck(t *kernel.Task, fd *vfs.FileDescription) error {
	if c, master := terminalOf(fd); c != nil && !master {
		return t.TTYCheck(c, unix.SIGTTIN)
	}
	return nil
}

// ttyWriteCheck stops a background process group writing its controlling terminal when
// TOSTOP is set.
func ttyWriteCheck(t *kernel.Task, fd *vfs.FileDescription) error {
	if c, master := terminalOf(fd); c != nil && !master {
		if ts, ok := fd.Impl().(tostopper); ok && ts.TOSTOP() {
			return t.TTYCheck(c, unix.SIGTTOU)
		}
	}
	return nil
}

// ttyWait blocks a read that found no data: a terminal's reads wait for what VMIN asks, with
// VTIME until its deadline, after which expired reports it ran out.
func ttyWait(t *kernel.Task, fd *vfs.FileDescription, dst [][]byte, start time.Time) (expired bool, err error) {
	tr := fd.Impl().(timedReader)
	p := fd.Impl().(vfs.Pollable)
	e := &waiter.Entry{Mask: waiter.EventIn | waiter.EventHUp, Callback: func(uint32) { t.Wake() }}
	p.EventRegister(e)
	defer p.EventUnregister(e)
	var want int
	for _, b := range dst {
		want += len(b)
	}
	if tr.ReadReady(want) {
		return false, nil
	}
	err = t.Block(tr.ReadDeadline(start))
	if err == unix.ETIMEDOUT {
		return true, nil
	}
	return false, err
}

// isTerminalFile reports files whose blocking writes complete in full, as n_tty_write does.
func isTerminalFile(fd *vfs.FileDescription) bool {
	switch fd.Impl().(type) {
	case *tty.Slave, *tty.Master:
		return true
	}
	return false
}

// ttyIoctl handles the ioctls of terminal files that need the kernel: job control, the
// SIGTTOU check on changing settings, and TIOCGPTPEER. handled is false for the rest.
func ttyIoctl(t *kernel.Task, fd *vfs.FileDescription, cmd uint32, arg uint64) (bool, uint64, error) {
	c, master := terminalOf(fd)
	if c == nil {
		return false, 0, nil
	}
	if h, ok := fd.Impl().(interface{ HungUp() bool }); ok && h.HungUp() {
		// A hung-up terminal answers only ENOTTY to TIOCSPGRP and EIO to the rest.
		if cmd == tty.TIOCSPGRP {
			return true, 0, unix.ENOTTY
		}
		return true, 0, unix.EIO
	}
	if handled, r, err := t.TTYIoctl(c, master, fd.Readable(), cmd, arg); handled {
		return true, r, err
	}
	switch cmd {
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF, tty.TCFLSH, tty.TCXONC:
		if err := t.TTYCheck(c, unix.SIGTTOU); err != nil {
			return true, 0, err
		}
	case tty.TIOCGPTPEER:
		m, ok := fd.Impl().(*tty.Master)
		if !ok || m.OpenPeer == nil {
			return true, 0, unix.ENOTTY
		}
		flags := int(arg)
		f, in, err := m.OpenPeer()
		if err != nil {
			return true, 0, err
		}
		if flags&unix.O_NOCTTY == 0 {
			t.AcquireTerminal(c)
		}
		peer := vfs.NewAnonFileDescription(f, c.Name(), flags&^(unix.O_NOCTTY|unix.O_CLOEXEC))
		peer.SetInode(in)
		defer peer.DecRef()
		n, err := t.FDs().Install(peer, 0, flags&unix.O_CLOEXEC != 0, nofile(t))
		if err != nil {
			return true, 0, err
		}
		return true, uint64(n), nil
	}
	return false, 0, nil
}
