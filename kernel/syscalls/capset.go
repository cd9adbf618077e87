package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// capSets returns the effective, permitted and inheritable sets of credentials c: those
// capset chose, or, without one, the launching user's for root and none otherwise. Losing
// root (all user IDs non-zero, or the effective one) drops them as Linux does on setuid.
func capSets(t *kernel.Task, c *vfs.Creds) [3]uint64 {
	var caps [3]uint64
	if !t.Group().UserNS().IsRoot() {
		if c.Caps != nil {
			caps = *c.Caps // IDs inside a user namespace do not change them here
		}
		return caps
	}
	if c.Caps != nil {
		caps = *c.Caps
	} else if c.EUID == 0 {
		caps = t.Kernel().Caps
	}
	if c.EUID != 0 {
		caps[0] = 0
	}
	if c.UID != 0 && c.EUID != 0 && c.SUID != 0 {
		caps[0], caps[1] = 0, 0
	}
	return caps
}

const capSetPCap = 8 // CAP_SETPCAP

// Capset implements capset(2): a thread may drop capabilities from its effective and
// permitted sets and move them in its inheritable set within the rules of
// capabilities(7); it can never gain one it does not hold.
func Capset(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	words, err := capWords(t, a[0])
	if err != nil {
		return 0, err
	}
	if words == 0 {
		return 0, unix.EINVAL
	}
	pid, err := capHeaderPID(t, a[0])
	if err != nil {
		return 0, err
	}
	if pid != 0 && pid != t.VisibleTID() {
		return 0, unix.EPERM // only a thread's own sets can change
	}
	b := make([]byte, abi.SizeofCapUserData*words)
	if _, err := t.CopyIn(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	var nw [3]uint64 // effective, permitted, inheritable
	for i := range words {
		var d abi.CapUserData
		d.Decode(b[abi.SizeofCapUserData*i:])
		for j, w := range [3]uint32{d.Effective, d.Permitted, d.Inheritable} {
			nw[j] |= uint64(w) << (32 * i)
		}
	}
	c := t.Creds()
	old := capSets(t, c)
	switch {
	case nw[2]&^(old[2]|old[1]) != 0 && old[0]&(1<<capSetPCap) == 0:
		return 0, unix.EPERM // inheritable beyond inheritable ∪ permitted needs CAP_SETPCAP
	case nw[1]&^old[1] != 0:
		return 0, unix.EPERM // permitted may only shrink
	case nw[0]&^nw[1] != 0:
		return 0, unix.EPERM // effective within permitted
	}
	c.Caps = &nw
	t.SetCreds(*c)
	return 0, nil
}

// capWords reads the version of the capability header at hdr and returns how many 32-bit
// words each set has in it; for an unknown version it writes the preferred one back, as
// Linux does, and returns 0.
func capWords(t *kernel.Task, hdr uint64) (int, error) {
	version, err := getU32(t, hdr)
	if err != nil {
		return 0, err
	}
	switch version {
	case capV1:
		return 1, nil
	case capV2, capV3:
		return 2, nil
	}
	return 0, putU32(t, hdr, capV3)
}

// capHeaderPID reads the header at hdr (its version known good) and returns its pid.
func capHeaderPID(t *kernel.Task, hdr uint64) (int32, error) {
	b := make([]byte, abi.SizeofCapUserHeader)
	if _, err := t.CopyIn(hdr, b); err != nil {
		return 0, unix.EFAULT
	}
	var h abi.CapUserHeader
	h.Decode(b)
	return h.PID, nil
}

// Capability header versions (linux/capability.h).
const (
	capV1 = 0x19980330
	capV2 = 0x20071026
	capV3 = 0x20080522
)

// Capget implements capget(2): root in the sandbox reports the capabilities of the user
// who started the sandbox (which it never holds on the host), anyone else none. An
// unknown header version is answered with the preferred one.
func Capget(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	words, err := capWords(t, a[0])
	if err != nil {
		return 0, err
	}
	if words == 0 {
		if a[1] == 0 {
			return 0, nil
		}
		return 0, unix.EINVAL
	}
	pid, err := capHeaderPID(t, a[0])
	if err != nil {
		return 0, err
	}
	if pid < 0 {
		return 0, unix.EINVAL
	}
	c := t.Creds()
	if pid != 0 {
		tg := t.GroupByPID(pid)
		if tg == nil {
			return 0, unix.ESRCH
		}
		tc := tg.Creds()
		c = &tc
	}
	if a[1] == 0 {
		return 0, nil
	}
	caps := capSets(t, c)
	b := make([]byte, abi.SizeofCapUserData*words)
	for i := range words {
		d := abi.CapUserData{Effective: uint32(caps[0] >> (32 * i)), Permitted: uint32(caps[1] >> (32 * i)), Inheritable: uint32(caps[2] >> (32 * i))}
		d.Encode(b[abi.SizeofCapUserData*i:])
	}
	if _, err := t.CopyOut(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}
