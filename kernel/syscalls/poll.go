package syscalls

import (
	"time"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

func pollCommon(t *kernel.Task, fdsAddr, nfds uint64, deadline time.Time, noWait bool) (uint64, error) {
	soft, _ := t.Limit(unix.RLIMIT_NOFILE)
	if nfds > soft && nfds > 1024 {
		return 0, unix.EINVAL
	}
	b := make([]byte, abi.SizeofPollfd*nfds)
	if nfds > 0 {
		if _, err := t.CopyIn(fdsAddr, b); err != nil {
			return 0, unix.EFAULT
		}
	}
	items := make([]kernel.PollItem, nfds)
	nval := 0
	fdt := t.FDs()
	pfds := make([]abi.Pollfd, nfds)
	for i := range items {
		pfds[i].Decode(b[abi.SizeofPollfd*i:])
		fdn, events := pfds[i].FD, uint32(uint16(pfds[i].Events))
		if fdn < 0 {
			continue
		}
		fd, _, err := fdt.Get(fdn)
		if err != nil {
			items[i].Revents = unix.POLLNVAL
			nval++
			continue
		}
		defer fd.DecRef()
		items[i].FD = fd
		items[i].Events = events
	}
	n := 0
	if nval > 0 {
		noWait = true
	}
	var err error
	saved := make([]uint32, len(items))
	for i := range items {
		saved[i] = items[i].Revents
	}
	n, err = t.Poll(items, deadline, noWait)
	if err != nil {
		return 0, err
	}
	for i := range items {
		rev := items[i].Revents
		if items[i].FD == nil {
			rev = saved[i]
		}
		pfds[i].Revents = int16(rev)
		pfds[i].Encode(b[abi.SizeofPollfd*i:])
	}
	if nfds > 0 {
		if _, err := t.CopyOut(fdsAddr, b); err != nil {
			return 0, unix.EFAULT
		}
	}
	return uint64(n + nval), nil
}

// Poll implements poll(2).
func Poll(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	timeout := int32(a[2])
	var deadline time.Time
	noWait := timeout == 0
	if timeout > 0 {
		deadline = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	return pollCommon(t, a[0], a[1], deadline, noWait)
}

// Ppoll implements ppoll(2) (the signal mask argument is validated; masks come with signals).
func Ppoll(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	deadline, noWait, err := timespecTimeout(t, a[2])
	if err != nil {
		return 0, err
	}
	return withWaitSigmask(t, a[3], a[4], func() (uint64, error) {
		return pollCommon(t, a[0], a[1], deadline, noWait)
	})
}

// withWaitSigmask runs the wait of ppoll, pselect6, epoll_pwait or epoll_pwait2 under the
// signal mask the app passed at addr (sizeof(sigset_t) is 8; addr 0: the task's own mask),
// as Linux's set_user_sigmask and restore_saved_sigmask_unless do.
func withWaitSigmask(t *kernel.Task, addr, size uint64, wait func() (uint64, error)) (uint64, error) {
	if addr == 0 {
		return wait()
	}
	if size != 8 {
		return 0, unix.EINVAL
	}
	mask, err := getU64(t, addr)
	if err != nil {
		return 0, unix.EFAULT
	}
	t.SetWaitSigmask(mask)
	n, err := wait()
	t.EndWaitSigmask(err)
	return n, err
}

// selectCommon implements select/pselect6 over fd_sets.
func selectCommon(t *kernel.Task, nfds uint64, rAddr, wAddr, eAddr uint64, deadline time.Time, noWait bool) (uint64, error) {
	if int64(int32(nfds)) < 0 {
		return 0, unix.EINVAL
	}
	// Linux silently ignores descriptors beyond the size of the FD table (64 slots, then
	// powers of two as it grows), so select on a never-opened high FD is not EBADF.
	if c := uint64(fdTableCapacity(t)); nfds > c {
		nfds = c
	}
	words := (nfds + 63) / 64
	read := func(addr uint64) ([]uint64, error) {
		if addr == 0 {
			return make([]uint64, words), nil
		}
		b := make([]byte, 8*words)
		if _, err := t.CopyIn(addr, b); err != nil {
			return nil, unix.EFAULT
		}
		out := make([]uint64, words)
		for i := range out {
			out[i] = abi.U64(b[8*i:])
		}
		return out, nil
	}
	rs, err := read(rAddr)
	if err != nil {
		return 0, err
	}
	ws, err := read(wAddr)
	if err != nil {
		return 0, err
	}
	es, err := read(eAddr)
	if err != nil {
		return 0, err
	}
	var items []kernel.PollItem
	var fdnums []int
	fdt := t.FDs()
	const in, out, pri = unix.POLLIN | pollRdNorm | pollRdBand | unix.POLLHUP | unix.POLLERR,
		unix.POLLOUT | pollWrNorm | pollWrBand | unix.POLLERR, unix.POLLPRI
	for fdn := range int(nfds) {
		w, bit := fdn/64, uint64(1)<<(fdn%64)
		var ev uint32
		if rs[w]&bit != 0 {
			ev |= unix.POLLIN | pollRdNorm
		}
		if ws[w]&bit != 0 {
			ev |= unix.POLLOUT | pollWrNorm
		}
		if es[w]&bit != 0 {
			ev |= unix.POLLPRI
		}
		if ev == 0 {
			continue
		}
		fd, _, err := fdt.Get(int32(fdn))
		if err != nil {
			return 0, unix.EBADF
		}
		defer fd.DecRef()
		items = append(items, kernel.PollItem{FD: fd, Events: ev})
		fdnums = append(fdnums, fdn)
	}
	if _, err := t.Poll(items, deadline, noWait); err != nil {
		return 0, err
	}
	clear(rs)
	clear(ws)
	clear(es)
	n := 0
	for i, it := range items {
		w, bit := fdnums[i]/64, uint64(1)<<(fdnums[i]%64)
		if it.Events&unix.POLLIN != 0 && it.Revents&in != 0 {
			rs[w] |= bit
			n++
		}
		if it.Events&unix.POLLOUT != 0 && it.Revents&out != 0 {
			ws[w] |= bit
			n++
		}
		if it.Events&unix.POLLPRI != 0 && it.Revents&pri != 0 {
			es[w] |= bit
			n++
		}
	}
	write := func(addr uint64, set []uint64) error {
		if addr == 0 {
			return nil
		}
		b := make([]byte, 8*len(set))
		for i, v := range set {
			abi.PutU64(b[8*i:], v)
		}
		if _, err := t.CopyOut(addr, b); err != nil {
			return unix.EFAULT
		}
		return nil
	}
	for _, p := range []struct {
		a uint64
		s []uint64
	}{{rAddr, rs}, {wAddr, ws}, {eAddr, es}} {
		if err := write(p.a, p.s); err != nil {
			return 0, err
		}
	}
	return uint64(n), nil
}

// Select implements select(2).
func Select(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	var deadline time.Time
	noWait := false
	var start time.Time
	if a[4] != 0 {
		b := make([]byte, abi.SizeofTimeval)
		if _, err := t.CopyIn(a[4], b); err != nil {
			return 0, unix.EFAULT
		}
		tv := abi.DecodeTimeval(b)
		sec, usec := tv.Sec, tv.Usec
		if sec < 0 || usec < 0 {
			return 0, unix.EINVAL
		}
		d := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
		noWait = d == 0
		start = time.Now()
		deadline = start.Add(d)
	}
	n, err := selectCommon(t, a[0], a[1], a[2], a[3], deadline, noWait)
	if a[4] != 0 && err == nil {
		left := max(time.Until(deadline), 0)
		b := make([]byte, abi.SizeofTimeval)
		abiTimeval(left).Encode(b)
		t.CopyOut(a[4], b)
	}
	return n, err
}

// Pselect6 implements pselect6(2).
func Pselect6(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	deadline, noWait, err := timespecTimeout(t, a[4])
	if err != nil {
		return 0, err
	}
	// The sixth argument points at { const sigset_t *ss; size_t ss_len; }.
	var maskAddr, maskSize uint64
	if a[5] != 0 {
		b := make([]byte, abi.SizeofSigsetArgpack)
		if _, err := t.CopyIn(a[5], b); err != nil {
			return 0, unix.EFAULT
		}
		var pack abi.SigsetArgpack
		pack.Decode(b)
		maskAddr, maskSize = pack.Set, pack.Size
	}
	return withWaitSigmask(t, maskAddr, maskSize, func() (uint64, error) {
		return selectCommon(t, a[0], a[1], a[2], a[3], deadline, noWait)
	})
}

// timespecTimeout reads the timeout of ppoll, pselect6 and epoll_pwait2: a struct timespec
// at addr, or none (wait forever) when addr is 0. A zero timeout means do not wait.
func timespecTimeout(t *kernel.Task, addr uint64) (deadline time.Time, noWait bool, err error) {
	if addr == 0 {
		return time.Time{}, false, nil
	}
	ts, err := getTimespec(t, addr)
	if err != nil {
		return time.Time{}, false, err
	}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return time.Time{}, false, unix.EINVAL
	}
	return time.Now().Add(time.Duration(ts.Nano())), ts.Sec == 0 && ts.Nsec == 0, nil
}

// poll bits not in x/sys/unix (include/uapi/asm-generic/poll.h).
const (
	pollRdNorm = 0x40
	pollRdBand = 0x80
	pollWrNorm = 0x100
	pollWrBand = 0x200
)

// fdTableCapacity approximates the size of Linux's FD table for the process: 64 slots
// (BITS_PER_LONG), doubled as higher descriptors are opened.
func fdTableCapacity(t *kernel.Task) int {
	nums := t.FDs().Numbers()
	highest := -1
	if len(nums) > 0 {
		highest = int(nums[len(nums)-1])
	}
	c := 64
	for c <= highest {
		c *= 2
	}
	return c
}
