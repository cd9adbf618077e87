package kernel

import (
	"github.com/sbx-dev/sbx/kernel/tty"
	"github.com/sbx-dev/sbx/kernel/vfs"

	"golang.org/x/sys/unix"
)

// Controlling terminals and terminal job control (drivers/tty/tty_jobctrl.c). A session has
// at most one controlling terminal, kept in Kernel.ctty by session ID; the terminal's
// tty.Control names the session and its foreground process group.

var _ tty.JobControl = (*Kernel)(nil)

// SignalProcessGroup implements tty.JobControl: sig from the kernel to every process of
// pgrp (a signal character, SIGWINCH, a hangup).
func (k *Kernel) SignalProcessGroup(pgrp int32, sig unix.Signal) {
	for _, tg := range k.Groups() {
		if g, _ := tg.IDs(); g == pgrp && !tg.Zombie() {
			k.SignalGroupInfo(tg, sig, SigInfo{Code: SIKernel})
		}
	}
}

// TerminalHungUp implements tty.JobControl: the terminal c went away (its master closed);
// session sid loses it and its leader gets SIGHUP and SIGCONT.
func (k *Kernel) TerminalHungUp(c *tty.Control, sid int32) {
	k.mu.Lock()
	if k.ctty[sid] == c {
		delete(k.ctty, sid)
	}
	k.mu.Unlock()
	if leader := k.GroupByPID(sid); leader != nil && !leader.Zombie() {
		if _, s := leader.IDs(); s == sid {
			k.SignalGroupInfo(leader, unix.SIGHUP, SigInfo{Code: SIKernel})
			k.SignalGroupInfo(leader, unix.SIGCONT, SigInfo{Code: SIKernel})
		}
	}
}

// SetControllingTerminal makes c the controlling terminal of session sid with foreground
// group pgrp (the sandbox's first session and the user's terminal).
func (k *Kernel) SetControllingTerminal(sid, pgrp int32, c *tty.Control) {
	k.mu.Lock()
	k.ctty[sid] = c
	k.mu.Unlock()
	c.SetSession(sid, pgrp)
}

// ForegroundOf returns c's foreground process group (0: none).
func (k *Kernel) ForegroundOf(c *tty.Control) int32 {
	_, pgrp := c.Session()
	return pgrp
}

// ControllingTerminal returns the caller's controlling terminal, nil when it has none.
func (t *Task) ControllingTerminal() *tty.Control { return t.tg.ControllingTerminal() }

// TerminalIDs returns what /proc/PID/stat shows of the process's controlling terminal: its
// device number (Linux's encoding; 0 for none) and foreground process group (-1 for none).
func (tg *ThreadGroup) TerminalIDs() (ttyNr uint32, tpgid int32) {
	c := tg.ControllingTerminal()
	if c == nil || c.Major == 0 {
		return 0, -1
	}
	_, fg := c.Session()
	if fg == 0 {
		fg = -1
	}
	return c.Minor&0xff | c.Major<<8 | (c.Minor&^0xff)<<12, fg
}

// ControllingTerminal returns the process's controlling terminal, nil when it has none.
func (tg *ThreadGroup) ControllingTerminal() *tty.Control {
	tg.mu.Lock()
	sid, dropped := tg.sid, tg.noCtty
	tg.mu.Unlock()
	if dropped {
		return nil
	}
	k := tg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ctty[sid]
}

// signalIgnoredOrBlocked reports whether the caller blocks or ignores sig (is_ignored).
func (t *Task) signalIgnoredOrBlocked(sig unix.Signal) bool {
	if t.sigMask.Load()&(1<<(sig-1)) != 0 {
		return true
	}
	s := t.tg.signals()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.actions[sig].Handler == SigIgn
}

// TTYCheck is the job-control check for a terminal access (read: SIGTTIN; write with
// TOSTOP, settings: SIGTTOU) by a process not in the foreground group of its controlling
// terminal c: the process group gets sig and the call restarts once it continues; EIO when
// the signal could never stop it (SIGTTIN ignored or blocked, an orphaned group).
func (t *Task) TTYCheck(c *tty.Control, sig unix.Signal) error {
	if c == nil || t.ControllingTerminal() != c {
		return nil
	}
	_, fg := c.Session()
	pgid, _ := t.tg.IDs()
	if fg == 0 || fg == pgid {
		return nil
	}
	if t.signalIgnoredOrBlocked(sig) {
		if sig == unix.SIGTTIN {
			return unix.EIO
		}
		return nil
	}
	if t.k.pgrpOrphaned(pgid, nil) {
		return unix.EIO
	}
	t.k.SignalProcessGroup(pgid, sig)
	// ERESTARTSYS: the call runs again once the group continues, unless a handler without
	// SA_RESTART runs first.
	s := t.tg.signals()
	s.mu.Lock()
	handled := s.actions[sig].Handler != SigDfl
	s.mu.Unlock()
	if handled {
		return unix.EINTR
	}
	return ErrRestart
}

// AcquireTerminal makes c the caller's controlling terminal when the caller is a session
// leader without one and c controls no session (opening a terminal without O_NOCTTY).
func (t *Task) AcquireTerminal(c *tty.Control) {
	tg := t.tg
	tg.mu.Lock()
	sid, pgid, leader := tg.sid, tg.pgid, tg.sid == tg.PID
	tg.mu.Unlock()
	if !leader {
		return
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ctty[sid] != nil {
		return
	}
	if s, _ := c.Session(); s != 0 {
		return
	}
	k.ctty[sid] = c
	c.SetSession(sid, pgid)
}

// openedTerminal finishes opening a terminal: /dev/tty becomes the caller's controlling
// terminal (ENXIO without one), and a session leader without a controlling terminal gets
// the terminal it opened without O_NOCTTY.
func (t *Task) openedTerminal(f vfs.File, flags int) (vfs.File, error) {
	if _, ok := f.(tty.CurrentTerminal); ok {
		f.Release()
		c := t.ControllingTerminal()
		if c == nil {
			return nil, unix.ENXIO
		}
		return c.Reopen(flags)
	}
	if term, ok := f.(tty.Terminal); ok && flags&unix.O_NOCTTY == 0 {
		if c := term.TTY(); c != nil {
			t.AcquireTerminal(c)
		}
	}
	return f, nil
}

// TTYIoctl handles the job-control ioctls of terminal c (TIOCSCTTY, TIOCNOTTY,
// TIOCGPGRP, TIOCSPGRP, TIOCGSID); master is set when the call is on a pty master (c is
// its slave's). handled is false for other commands.
func (t *Task) TTYIoctl(c *tty.Control, master, readable bool, cmd uint32, arg uint64) (handled bool, ret uint64, err error) {
	k := t.k
	mine := t.ControllingTerminal() == c
	switch cmd {
	case tty.TIOCSCTTY:
		tg := t.tg
		tg.mu.Lock()
		sid, pgid, leader := tg.sid, tg.pgid, tg.sid == tg.PID
		tg.mu.Unlock()
		if leader && mine {
			return true, 0, nil
		}
		if !leader || t.ControllingTerminal() != nil {
			return true, 0, unix.EPERM
		}
		if !readable && !t.hasCapSysAdmin() {
			return true, 0, unix.EPERM
		}
		if s, _ := c.Session(); s != 0 {
			if arg != 1 || !t.hasCapSysAdmin() {
				return true, 0, unix.EPERM
			}
			k.mu.Lock()
			delete(k.ctty, s)
			k.mu.Unlock()
		}
		k.mu.Lock()
		k.ctty[sid] = c
		k.mu.Unlock()
		tg.mu.Lock()
		tg.noCtty = false
		tg.mu.Unlock()
		c.SetSession(sid, pgid)
		return true, 0, nil
	case tty.TIOCNOTTY:
		if master || !mine {
			return true, 0, unix.ENOTTY
		}
		tg := t.tg
		tg.mu.Lock()
		sid, leader := tg.sid, tg.sid == tg.PID
		if !leader {
			tg.noCtty = true
		}
		tg.mu.Unlock()
		if leader {
			k.disassociate(sid, c, false)
		}
		return true, 0, nil
	case tty.TIOCGPGRP:
		if !master && !mine {
			return true, 0, unix.ENOTTY
		}
		_, pgrp := c.Session()
		return true, 0, t.putU32(arg, uint32(pgrp))
	case tty.TIOCGSID:
		if !master && !mine {
			return true, 0, unix.ENOTTY
		}
		sid, _ := c.Session()
		if sid == 0 {
			return true, 0, unix.ENOTTY
		}
		return true, 0, t.putU32(arg, uint32(sid))
	case tty.TIOCSPGRP:
		if err := t.TTYCheck(c, unix.SIGTTOU); err != nil {
			if err == unix.EIO {
				return true, 0, unix.ENOTTY
			}
			return true, 0, err
		}
		_, mysid := t.tg.IDs()
		if s, _ := c.Session(); !mine || s != mysid {
			return true, 0, unix.ENOTTY
		}
		var b [4]byte
		if _, err := t.CopyIn(arg, b[:]); err != nil {
			return true, 0, unix.EFAULT
		}
		pgrp := int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
		if pgrp < 0 {
			return true, 0, unix.EINVAL
		}
		found, sameSession := false, false
		for _, tg := range k.Groups() {
			if g, s := tg.IDs(); g == pgrp && !tg.Zombie() {
				found = true
				if s == mysid {
					sameSession = true
				}
			}
		}
		if !found {
			return true, 0, unix.ESRCH
		}
		if !sameSession {
			return true, 0, unix.EPERM
		}
		c.SetForeground(pgrp)
		return true, 0, nil
	}
	return false, 0, nil
}

func (t *Task) putU32(addr uint64, v uint32) error {
	b := []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	if _, err := t.CopyOut(addr, b); err != nil {
		return unix.EFAULT
	}
	return nil
}

// hasCapSysAdmin reports CAP_SYS_ADMIN in the caller's effective set.
func (t *Task) hasCapSysAdmin() bool {
	return t.Creds().EUID == 0 && t.k.Caps[0]&(1<<unix.CAP_SYS_ADMIN) != 0
}

// disassociate ends session sid's hold on its controlling terminal c (the session leader
// exits or gives it up): the foreground group gets SIGHUP (and SIGCONT when the leader gave
// it up), and nobody's terminal it is any more (disassociate_ctty).
func (k *Kernel) disassociate(sid int32, c *tty.Control, onExit bool) {
	_, fg := c.Session()
	k.mu.Lock()
	if k.ctty[sid] == c {
		delete(k.ctty, sid)
	}
	k.mu.Unlock()
	c.SetSession(0, 0)
	if fg != 0 {
		k.SignalProcessGroup(fg, unix.SIGHUP)
		if !onExit {
			k.SignalProcessGroup(fg, unix.SIGCONT)
		}
	}
}

// pgrpOrphaned reports whether process group pgid is orphaned: no member (other than
// gone, which is exiting) has a parent in another group of the same session. The sandbox's
// first process counts as having one (the launcher stands where its parent would be).
func (k *Kernel) pgrpOrphaned(pgid int32, gone *ThreadGroup) bool {
	members := 0
	for _, tg := range k.Groups() {
		if tg == gone || tg.Zombie() {
			continue
		}
		g, s := tg.IDs()
		if g != pgid {
			continue
		}
		members++
		tg.mu.Lock()
		parent := tg.parent
		tg.mu.Unlock()
		if parent == nil {
			return false
		}
		if parent == gone || parent.Zombie() {
			continue
		}
		if pg, ps := parent.IDs(); pg != pgid && ps == s {
			return false
		}
	}
	return members > 0
}

// ttyExit runs when a process exits: a session leader's exit takes the session's terminal
// away (SIGHUP to its foreground group), and process groups the exit orphans that have
// stopped members get SIGHUP and SIGCONT (kill_orphaned_pgrp).
func (k *Kernel) ttyExit(tg *ThreadGroup) {
	pgid, sid := tg.IDs()
	if sid == tg.PID {
		k.mu.Lock()
		c := k.ctty[sid]
		k.mu.Unlock()
		if c != nil {
			k.disassociate(sid, c, true)
		}
	}
	candidates := map[int32]bool{pgid: true}
	for _, g := range k.Groups() {
		g.mu.Lock()
		child := g.parent == tg
		g.mu.Unlock()
		if child {
			cp, _ := g.IDs()
			candidates[cp] = true
		}
	}
	for p := range candidates {
		if !k.pgrpOrphaned(p, tg) {
			continue
		}
		stopped := false
		for _, g := range k.Groups() {
			if gp, _ := g.IDs(); gp == p && g != tg && g.Stopped() {
				stopped = true
			}
		}
		if stopped {
			k.SignalProcessGroup(p, unix.SIGHUP)
			k.SignalProcessGroup(p, unix.SIGCONT)
		}
	}
}
