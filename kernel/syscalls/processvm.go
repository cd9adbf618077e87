package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"golang.org/x/sys/unix"
)

// ProcessVMReadv implements process_vm_readv(2).
func ProcessVMReadv(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return processVM(t, a, false)
}

// ProcessVMWritev implements process_vm_writev(2).
func ProcessVMWritev(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return processVM(t, a, true)
}

// processVM moves bytes between the caller's local iovecs and another process's remote
// ones, in order, and stops at the first fault on either side: the bytes moved, or EFAULT
// when none were.
func processVM(t *kernel.Task, a kernel.SyscallArgs, write bool) (uint64, error) {
	pid, flags := int32(a[0]), a[5]
	if flags != 0 {
		return 0, unix.EINVAL
	}
	local, err := readIovecs(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	remote, err := readIovecs(t, a[3], a[4])
	if err != nil {
		return 0, err
	}
	var want uint64
	for _, l := range local {
		want = min(want+l.len, maxRW) // each length is below 2^63: the sum cannot wrap
	}
	if want == 0 {
		return 0, nil
	}
	tg := t.GroupByPID(pid)
	if tg == nil {
		return 0, unix.ESRCH
	}
	rm, err := t.AccessMM(tg)
	if err != nil {
		return 0, err
	}
	defer rm.DecUsers()
	lm := t.MM()
	buf := make([]byte, min(want, 1<<16))
	var done uint64
	li, loff := 0, uint64(0)
	for _, r := range remote {
		for roff := uint64(0); roff < r.len; {
			for li < len(local) && loff == local[li].len {
				li, loff = li+1, 0
			}
			if li == len(local) {
				return done, nil
			}
			n := min(r.len-roff, local[li].len-loff, uint64(len(buf)))
			src, dst := rm, lm
			from, to := r.base+roff, local[li].base+loff
			if write {
				src, dst, from, to = lm, rm, to, from
			}
			got, _ := src.CopyIn(from, buf[:n])
			put, _ := dst.CopyOut(to, buf[:got])
			done += uint64(put)
			if uint64(put) < n {
				if done == 0 {
					return 0, unix.EFAULT
				}
				return done, nil
			}
			roff += n
			loff += n
		}
	}
	return done, nil
}

// Memory protection keys: sbx answers as Linux on a CPU without PKU (pkeys(7)): no key
// can be allocated, none is valid, and pkey_mprotect with key -1 is mprotect.

// PkeyAlloc implements pkey_alloc(2).
func PkeyAlloc(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, unix.EINVAL
}

// PkeyFree implements pkey_free(2).
func PkeyFree(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	return 0, unix.EINVAL
}

// PkeyMprotect implements pkey_mprotect(2).
func PkeyMprotect(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if int32(a[3]) == -1 {
		return Mprotect(t, a)
	}
	// mprotect's own checks come first, then the key's.
	switch {
	case a[0]&4095 != 0:
		return 0, unix.EINVAL
	case a[1] == 0:
		return 0, nil
	case a[0]+(a[1]+4095)&^4095 <= a[0]:
		return 0, unix.ENOMEM
	}
	return 0, unix.EINVAL
}
