package tty

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// Control is a terminal's job-control state: the session it is the controlling terminal of
// and that session's foreground process group (0: none).
type Control struct {
	mu sync.Mutex
	// sid and pgrp: protected by mu
	sid, pgrp int32
	// jc is the kernel, told about hangups and signal characters. Set at creation.
	jc JobControl
	// name is the terminal's path inside the sandbox (/dev/pts/3, /dev/console).
	name string
	// reopen opens the terminal again (/dev/tty).
	reopen func(flags int) (vfs.File, error)
	// Major and Minor are the terminal's device number (for /proc/PID/stat's tty_nr).
	Major, Minor uint32
}

// NewControl returns the state of a terminal not controlling any session; reopen opens the
// terminal again, for /dev/tty.
func NewControl(jc JobControl, name string, reopen func(flags int) (vfs.File, error)) *Control {
	return &Control{jc: jc, name: name, reopen: reopen}
}

// Reopen opens the terminal again (what opening /dev/tty gives its controlling process).
func (c *Control) Reopen(flags int) (vfs.File, error) {
	if c.reopen == nil {
		return nil, unix.ENXIO
	}
	return c.reopen(flags)
}

// Name is the terminal's path inside the sandbox.
func (c *Control) Name() string { return c.name }

// Session returns the session the terminal controls and its foreground group.
func (c *Control) Session() (sid, pgrp int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid, c.pgrp
}

// SetSession makes the terminal the controlling terminal of sid with foreground pgrp (0, 0
// detaches it).
func (c *Control) SetSession(sid, pgrp int32) {
	c.mu.Lock()
	c.sid, c.pgrp = sid, pgrp
	c.mu.Unlock()
}

// SetForeground changes the foreground process group.
func (c *Control) SetForeground(pgrp int32) {
	c.mu.Lock()
	c.pgrp = pgrp
	c.mu.Unlock()
}

// SignalForeground sends sig to the foreground process group, if there is one (a signal
// character typed, a window size change).
func (c *Control) SignalForeground(sig unix.Signal) {
	_, pgrp := c.Session()
	if pgrp != 0 && c.jc != nil {
		c.jc.SignalProcessGroup(pgrp, sig)
	}
}

// Hangup tells the session the terminal controls that it is gone: its leader gets SIGHUP
// and SIGCONT and the session loses its controlling terminal (tty_vhangup).
func (c *Control) Hangup() {
	c.mu.Lock()
	sid := c.sid
	c.sid, c.pgrp = 0, 0
	c.mu.Unlock()
	if sid != 0 && c.jc != nil {
		c.jc.TerminalHungUp(c, sid)
	}
}

// JobControl is what terminals need from the kernel.
type JobControl interface {
	// SignalProcessGroup sends sig to every process of group pgrp.
	SignalProcessGroup(pgrp int32, sig unix.Signal)
	// TerminalHungUp detaches c from session sid and sends its leader SIGHUP and SIGCONT.
	TerminalHungUp(c *Control, sid int32)
}

// Terminal is implemented by files that are terminals a session can own: pseudo-terminal
// slaves and the host terminal. Reads, writes and some ioctls on them are subject to job
// control.
type Terminal interface {
	TTY() *Control
}

// MasterTerminal is implemented by pseudo-terminal masters: job-control ioctls on them
// refer to their slave.
type MasterTerminal interface {
	SlaveTTY() *Control
}

// CurrentTerminal is what opening /dev/tty gives before the open path swaps in the caller's
// controlling terminal.
type CurrentTerminal interface {
	vfs.File
	CurrentTerminal()
}
