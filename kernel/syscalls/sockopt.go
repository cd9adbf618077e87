package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/fs/sock"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// SOL_SOCKET options of AF_UNIX sockets, as net/core/sock.c answers them.

// Options missing from x/sys/unix's list.
const (
	soBufLock        = 72
	soNetnsCookie    = 71
	soPreferBusyPoll = 69
	soBusyPollBudget = 70
	soRcvMark        = 75
	soReserveMem     = 73
	soTxRehash       = 74
	soPeerPidfd      = 77
	soRcvPriority    = 82
	soPassRights     = 83
	soInq            = 84
	soMeminfo        = 55
	soPeerGroups     = 59
	soTxTime         = 61
	soDetachFilter   = 27
	soTimestampNew   = 63
	soTimestampNSNew = 64
	soTimestampingN  = 65
	soRcvTimeoNew    = 66
	soSndTimeoNew    = 67
	sofTimestampMask = 0x3ffff // SOF_TIMESTAMPING_LAST<<1 - 1 (Linux 6.18)
	sofBindPHC       = 1 << 15
	sofOptStats      = 1 << 12
	sofOptTSOnly     = 1 << 11
	capNetAdmin      = 12
	capSysResource   = 24
	capNetRaw        = 13
)

// flagOpts are the options that store a boolean (read back as 0 or 1).
var flagOpts = map[int]bool{
	unix.SO_REUSEADDR: true, unix.SO_KEEPALIVE: true, unix.SO_DONTROUTE: true,
	unix.SO_BROADCAST: true, unix.SO_OOBINLINE: true, unix.SO_NO_CHECK: true, unix.SO_PASSCRED: true,
	unix.SO_PASSSEC: true, unix.SO_RXQ_OVFL: true, unix.SO_WIFI_STATUS: true, unix.SO_NOFCS: true,
	unix.SO_SELECT_ERR_QUEUE: true, unix.SO_LOCK_FILTER: true, soRcvMark: true, unix.SO_PASSPIDFD: true,
	soRcvPriority: true, soPassRights: true,
}

// capable reports whether the caller holds capability c (root with it in its set).
// Capabilities held in a nested user namespace do not count here: they act on that
// namespace's objects only (kernel.Task.NSCapable).
func capable(t *kernel.Task, c uint) bool {
	return t.Group().UserNS().IsRoot() && t.Creds().EUID == 0 && t.Kernel().Caps[0]&(1<<c) != 0
}

// unixSetsockopt sets a SOL_SOCKET option on an AF_UNIX socket.
func unixSetsockopt(t *kernel.Task, s *sock.Socket, opt int, addr, length uint64) error {
	if opt == unix.SO_BINDTODEVICE {
		return bindToDevice(t, s, addr, length)
	}
	if int32(length) < 4 {
		return unix.EINVAL
	}
	raw := make([]byte, min(length, 16))
	if _, err := t.CopyIn(addr, raw); err != nil {
		return unix.EFAULT
	}
	val := int32(abi.U32(raw)) // an int option (or a structure's first int)
	b := int32(0)
	if val != 0 {
		b = 1
	}
	if flagOpts[opt] {
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = b; return nil })
	}
	switch opt {
	case unix.SO_REUSEPORT:
		if val != 0 {
			return unix.EOPNOTSUPP // inet sockets only
		}
		return nil
	case unix.SO_ZEROCOPY, soTxRehash:
		return unix.EOPNOTSUPP // inet sockets only
	case soDetachFilter:
		return unix.ENOENT // no filter is attached
	case soInq:
		return nil // accepted; AF_UNIX does not report it through getsockopt
	case soReserveMem:
		if val < 0 {
			return unix.EINVAL
		}
		return unix.EOPNOTSUPP // AF_UNIX memory is not accounted per socket
	case soTxTime:
		if length != 8 {
			return unix.EINVAL
		}
		var txt abi.SockTxtime
		txt.Decode(raw)
		clock, tflags := txt.Clockid, int32(txt.Flags)
		if uint32(tflags)&^3 != 0 {
			return unix.EINVAL
		}
		if clock != unix.CLOCK_MONOTONIC && !capable(t, capNetAdmin) {
			return unix.EPERM
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[soTxTime], o.Ints[soTxTime+1000] = clock, tflags; return nil })
	case unix.SO_MAX_PACING_RATE:
		return s.UpdateOptions(func(o *sock.Opts) error {
			o.Pacing = uint64(uint32(val))
			if uint32(val) == ^uint32(0) {
				o.Pacing = ^uint64(0)
			}
			if length >= 8 {
				o.Pacing = abi.U64(raw)
			}
			return nil
		})
	case unix.SO_DEBUG:
		if val != 0 && !capable(t, capNetAdmin) {
			return unix.EACCES
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = b; return nil })
	case unix.SO_SNDBUF, unix.SO_RCVBUF, unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE:
		base := opt
		if opt == unix.SO_SNDBUFFORCE || opt == unix.SO_RCVBUFFORCE {
			if !capable(t, capNetAdmin) {
				return unix.EPERM
			}
			base = unix.SO_SNDBUF
			if opt == unix.SO_RCVBUFFORCE {
				base = unix.SO_RCVBUF
			}
			val = max(val, 0)
		}
		size, err := sock.HostBufSize(base, int(val))
		if err != nil {
			return err
		}
		return s.UpdateOptions(func(o *sock.Opts) error {
			if base == unix.SO_SNDBUF {
				o.SndBuf = size
			} else {
				o.RcvBuf = size
			}
			o.Ints[soBufLock] |= map[bool]int32{true: 1, false: 2}[base == unix.SO_SNDBUF]
			return nil
		})
	case unix.SO_PRIORITY:
		if (val < 0 || val > 6) && !capable(t, capNetRaw) && !capable(t, capNetAdmin) {
			return unix.EPERM
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = val; return nil })
	case unix.SO_MARK:
		if !capable(t, capNetRaw) && !capable(t, capNetAdmin) {
			return unix.EPERM
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = val; return nil })
	case unix.SO_LINGER:
		if length < 8 {
			return unix.EINVAL
		}
		return s.UpdateOptions(func(o *sock.Opts) error {
			var lg abi.Linger
			lg.Decode(raw)
			o.Linger = [2]int32{b, lg.Linger}
			if b == 0 {
				o.Linger[1] = 0
			}
			return nil
		})
	case unix.SO_BSDCOMPAT, unix.SO_CNX_ADVICE:
		return nil
	case unix.SO_TIMESTAMP, unix.SO_TIMESTAMPNS, soTimestampNew, soTimestampNSNew:
		// Linux keeps three flags: receive timestamps, in nanoseconds, as the _NEW
		// (64-bit time) layout.
		return s.UpdateOptions(func(o *sock.Opts) error {
			o.Ints[unix.SO_TIMESTAMP], o.Ints[unix.SO_TIMESTAMPNS] = 0, 0
			if b != 0 {
				o.Ints[unix.SO_TIMESTAMP] = 1
				o.Ints[soTimestampNew] = 0
				if opt == soTimestampNew || opt == soTimestampNSNew {
					o.Ints[soTimestampNew] = 1
				}
				if opt == unix.SO_TIMESTAMPNS || opt == soTimestampNSNew {
					o.Ints[unix.SO_TIMESTAMPNS] = 1
				}
			}
			return nil
		})
	case unix.SO_TIMESTAMPING, soTimestampingN:
		if uint32(val)&^sofTimestampMask != 0 || val&sofOptStats != 0 && val&sofOptTSOnly == 0 {
			return unix.EINVAL
		}
		if val&sofBindPHC != 0 {
			return unix.EOPNOTSUPP // binding to a PTP clock needs a network device
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[unix.SO_TIMESTAMPING] = val; return nil })
	case unix.SO_RCVLOWAT:
		if val < 0 {
			val = 1<<31 - 1
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = max(val, 1); return nil })
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO, soRcvTimeoNew, soSndTimeoNew:
		if length < 16 {
			return unix.EINVAL
		}
		atv := abi.DecodeTimeval(raw)
		tv := unix.Timeval{Sec: atv.Sec, Usec: atv.Usec}
		base := unix.SO_RCVTIMEO
		if opt == unix.SO_SNDTIMEO || opt == soSndTimeoNew {
			base = unix.SO_SNDTIMEO
		}
		d, err := sock.HostTimeout(base, tv)
		if err != nil {
			return err
		}
		return s.UpdateOptions(func(o *sock.Opts) error {
			if base == unix.SO_RCVTIMEO {
				o.RcvTimeo = d
			} else {
				o.SndTimeo = d
			}
			return nil
		})
	case unix.SO_PEEK_OFF:
		return s.UpdateOptions(func(o *sock.Opts) error { o.PeekOff = val; return nil })
	case unix.SO_BUSY_POLL:
		if val < 0 {
			return unix.EINVAL
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = val; return nil })
	case soPreferBusyPoll:
		if b != 0 && !capable(t, capNetAdmin) {
			return unix.EPERM
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = b; return nil })
	case soBusyPollBudget:
		if val > s.Options().Ints[opt] && !capable(t, capNetAdmin) {
			return unix.EPERM
		}
		if val < 0 || val > 0xffff {
			return unix.EINVAL
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = val; return nil })
	case unix.SO_INCOMING_CPU:
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = val; return nil })
	case unix.SO_BINDTOIFINDEX:
		return setBoundDev(t, s, val, false)
	case soBufLock:
		if uint32(val)&^3 != 0 {
			return unix.EINVAL
		}
		return s.UpdateOptions(func(o *sock.Opts) error { o.Ints[opt] = val; return nil })
	}
	return unix.ENOPROTOOPT
}

// The sandbox's network namespace has only its loopback interface.
const loIndex = 1

// bindToDevice implements SO_BINDTODEVICE: an interface name (empty: unbind).
func bindToDevice(t *kernel.Task, s *sock.Socket, addr, length uint64) error {
	if int32(length) < 0 {
		return unix.EINVAL
	}
	n := min(length, unix.IFNAMSIZ-1)
	name := make([]byte, n)
	if _, err := t.CopyIn(addr, name); err != nil {
		return unix.EFAULT
	}
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	idx := int32(0)
	if len(name) > 0 {
		if string(name) != "lo" {
			return unix.ENODEV
		}
		idx = loIndex
	}
	return setBoundDev(t, s, idx, true)
}

// setBoundDev binds the socket to interface idx: changing an existing binding needs
// CAP_NET_RAW. Linux checks that an index exists only when it comes from a name.
func setBoundDev(t *kernel.Task, s *sock.Socket, idx int32, named bool) error {
	return s.UpdateOptions(func(o *sock.Opts) error {
		if o.BindDev != 0 && o.BindDev != idx && !capable(t, capNetRaw) {
			return unix.EPERM
		}
		if idx < 0 {
			return unix.EINVAL
		}
		if named && idx != 0 && idx != loIndex {
			return unix.ENODEV
		}
		o.BindDev = idx
		return nil
	})
}

// unixGetsockopt answers getsockopt(SOL_SOCKET) on an AF_UNIX socket.
func unixGetsockopt(t *kernel.Task, s *sock.Socket, opt int, addr, lenAddr uint64) error {
	l, err := getU32(t, lenAddr)
	if err != nil {
		return err
	}
	if int32(l) < 0 {
		return unix.EINVAL
	}
	o := s.Options()
	i32 := func(v int32) []byte { return abi.AppendU32(nil, uint32(v)) }
	enc := func(v interface{ Encode([]byte) }, n int) []byte { b := make([]byte, n); v.Encode(b); return b }
	var v []byte
	switch {
	case flagOpts[opt] || opt == unix.SO_DEBUG || opt == unix.SO_PRIORITY || opt == unix.SO_MARK ||
		opt == unix.SO_RCVLOWAT || opt == unix.SO_REUSEPORT || opt == unix.SO_SNDLOWAT || opt == unix.SO_BUSY_POLL || opt == soPreferBusyPoll ||
		opt == unix.SO_INCOMING_CPU || opt == soBufLock:
		v = i32(o.Ints[opt])
	case opt == unix.SO_TIMESTAMP || opt == soTimestampNew:
		isNew := map[bool]int32{true: 1}[opt == soTimestampNew]
		v = i32(o.Ints[unix.SO_TIMESTAMP] &^ o.Ints[unix.SO_TIMESTAMPNS] & ^(o.Ints[soTimestampNew] ^ isNew))
	case opt == unix.SO_TIMESTAMPNS || opt == soTimestampNSNew:
		isNew := map[bool]int32{true: 1}[opt == soTimestampNSNew]
		v = i32(o.Ints[unix.SO_TIMESTAMPNS] & ^(o.Ints[soTimestampNew] ^ isNew))
	case opt == unix.SO_TIMESTAMPING || opt == soTimestampingN:
		v = enc(&abi.SoTimestamping{Flags: o.Ints[unix.SO_TIMESTAMPING]}, abi.SizeofSoTimestamping)
	case opt == unix.SO_TYPE:
		v = i32(int32(s.Type))
	case opt == unix.SO_PROTOCOL:
		v = i32(0)
	case opt == unix.SO_DOMAIN:
		v = i32(unix.AF_UNIX)
	case opt == unix.SO_ERROR, opt == unix.SO_BSDCOMPAT, opt == unix.SO_ZEROCOPY, opt == unix.SO_INCOMING_NAPI_ID:
		v = i32(0)
	case opt == unix.SO_ACCEPTCONN:
		v = i32(map[bool]int32{true: 1}[s.Listening()])
	case opt == unix.SO_SNDBUF:
		v = i32(o.SndBuf)
	case opt == unix.SO_RCVBUF:
		v = i32(o.RcvBuf)
	case opt == unix.SO_LINGER:
		v = enc(&abi.Linger{Onoff: o.Linger[0], Linger: o.Linger[1]}, abi.SizeofLinger)
	case opt == unix.SO_RCVTIMEO || opt == soRcvTimeoNew:
		v = sock.PutTimeval(o.RcvTimeo)
	case opt == unix.SO_SNDTIMEO || opt == soSndTimeoNew:
		v = sock.PutTimeval(o.SndTimeo)
	case opt == unix.SO_PEEK_OFF:
		v = i32(o.PeekOff)
	case opt == soReserveMem:
		v = i32(0)
	case opt == soTxRehash:
		return unix.EOPNOTSUPP
	case opt == soTxTime:
		v = enc(&abi.SockTxtime{Clockid: o.Ints[soTxTime], Flags: uint32(o.Ints[soTxTime+1000])}, abi.SizeofSockTxtime)
	case opt == soMeminfo:
		v = make([]byte, 4*abi.SK_MEMINFO_VARS) // only the buffer sizes are not zero here
		abi.PutU32(v[4*abi.SK_MEMINFO_RCVBUF:], uint32(o.RcvBuf))
		abi.PutU32(v[4*abi.SK_MEMINFO_SNDBUF:], uint32(o.SndBuf))
	case opt == soNetnsCookie:
		if l != 8 {
			return unix.EINVAL
		}
		v = abi.AppendU64(nil, 1) // the sandbox has one network namespace
	case opt == soPeerGroups || opt == soPeerPidfd:
		c, _ := s.PeerCred()
		var tg *kernel.ThreadGroup
		if s.Connected() && c != nil && c.Pid > 0 {
			tg = t.Kernel().GroupByPID(c.Pid) // sockets keep root namespace numbers
		}
		if tg == nil {
			return unix.ENODATA // no peer, or one outside the sandbox or gone
		}
		if opt == soPeerPidfd {
			n, err := installAnon(t, &pidFD{tg: tg}, "anon_inode:[pidfd]", unix.O_RDWR, true)
			if err != nil {
				return err
			}
			v = i32(int32(n))
			break
		}
		for _, g := range tg.Creds().Groups {
			v = abi.AppendU32(v, g)
		}
		if int(l) < len(v) {
			putU32(t, lenAddr, uint32(len(v)))
			return unix.ERANGE
		}
	case opt == unix.SO_BINDTOIFINDEX:
		v = i32(o.BindDev)
	case opt == unix.SO_BINDTODEVICE:
		if o.BindDev == 0 {
			return putU32(t, lenAddr, 0)
		}
		if o.BindDev != loIndex {
			return unix.ENXIO // an index without a device has no name
		}
		if l < unix.IFNAMSIZ {
			return unix.EINVAL
		}
		if _, err := t.CopyOut(addr, []byte("lo\x00")); err != nil {
			return unix.EFAULT
		}
		return putU32(t, lenAddr, 3)
	case opt == unix.SO_COOKIE:
		v = abi.AppendU64(nil, s.Cookie(unixNames(t.Kernel())))
	case opt == unix.SO_MAX_PACING_RATE:
		v = abi.AppendU64(nil, o.Pacing)
		if l < 8 {
			v = i32(int32(min(o.Pacing, uint64(^uint32(0)))))
		}
	case opt == unix.SO_GET_FILTER:
		return putU32(t, lenAddr, 0) // no filter attached
	case opt == unix.SO_BPF_EXTENSIONS:
		v = i32(64) // SKF_AD_MAX
	case opt == unix.SO_PEERCRED:
		pc, err := s.PeerCred()
		if err != nil {
			return err
		}
		c := seenCred(t, *pc)
		v = enc(&abi.Ucred{PID: c.Pid, UID: c.Uid, GID: c.Gid}, abi.SizeofUcred)
	case opt == unix.SO_PEERNAME:
		_, peer := s.Names()
		if !s.Connected() {
			return unix.ENOTCONN
		}
		sa := sockaddrUn(peer)
		if len(sa) < int(l) {
			return unix.EINVAL
		}
		v = sa
	default:
		return unix.ENOPROTOOPT
	}
	if int(l) < len(v) {
		v = v[:l]
	}
	if _, err := t.CopyOut(addr, v); err != nil {
		return unix.EFAULT
	}
	return putU32(t, lenAddr, uint32(len(v)))
}

// sockaddrUn encodes an AF_UNIX address as getsockname shows it.
func sockaddrUn(p string) []byte {
	b := make([]byte, 2)
	abi.PutSockaddrFamily(b, unix.AF_UNIX)
	switch {
	case p == "":
	case p[0] == 0:
		b = append(b, p...)
	default:
		b = append(append(b, p...), 0)
	}
	return b
}

// sockWaiter waits for a socket to become ready within its SO_RCVTIMEO/SO_SNDTIMEO: the
// deadline is taken once, when the call starts.
type sockWaiter struct {
	deadline time.Time
	timed    bool
	never    bool // a negative timeout: the call does not wait at all
}

func newSockWaiter(s *sock.Socket, write bool) sockWaiter {
	d := s.Timeout(write)
	switch {
	case d == sock.Immediate:
		return sockWaiter{never: true, timed: true}
	case d > 0:
		return sockWaiter{deadline: time.Now().Add(d), timed: true}
	}
	return sockWaiter{}
}

// fileWaiter is the waiter for read(2)/write(2) on fd: a socket's timeouts apply to them.
func fileWaiter(fd *vfs.FileDescription, write bool) sockWaiter {
	if s, ok := fd.Impl().(*sock.Socket); ok {
		return newSockWaiter(s, write)
	}
	return sockWaiter{}
}

// wait blocks until fd is ready for mask. At the timeout it returns EAGAIN; a signal
// interrupting a call with a timeout gives EINTR even under SA_RESTART (signal(7)).
func (w sockWaiter) wait(t *kernel.Task, fd *vfs.FileDescription, mask uint32) error {
	if w.never {
		return unix.EAGAIN
	}
	err := t.WaitFile(fd, mask, w.deadline)
	switch {
	case err == unix.ETIMEDOUT:
		return unix.EAGAIN
	case err == unix.EINTR && w.timed:
		return kernel.ErrInterruptedNoRestart
	}
	return err
}

// block sleeps until a wake-up or the given time, within the socket's timeout.
func (w sockWaiter) block(t *kernel.Task, until time.Time) error {
	if w.never {
		return unix.EAGAIN
	}
	if w.timed && w.deadline.Before(until) {
		until = w.deadline
	}
	err := t.Block(until)
	switch {
	case err == unix.ETIMEDOUT:
		if w.timed && !time.Now().Before(w.deadline) {
			return unix.EAGAIN
		}
		return nil
	case err == unix.EINTR && w.timed:
		return kernel.ErrInterruptedNoRestart
	}
	return err
}
