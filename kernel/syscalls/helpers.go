// Package syscalls implements the Linux x86-64 system call interface on top of the kernel's
// tasks, memory and VFS. One file per family; handlers decode arguments, reject unknown
// flags with EINVAL and call into kernel, mm and vfs. Table builds the syscall table.
package syscalls

import (
	"math/bits"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// maxRW is MAX_RW_COUNT: Linux clamps one read or write to this many bytes.
const maxRW = 0x7ffff000

// maxIov is UIO_MAXIOV.
const maxIov = 1024

func copyInPath(t *kernel.Task, addr uint64) (string, error) {
	if addr == 0 {
		return "", unix.EFAULT
	}
	s, err := t.CopyInString(addr, unix.PathMax-1)
	if err != nil {
		return "", err
	}
	return s, nil
}

func getFD(t *kernel.Task, fd uint64) (*vfs.FileDescription, error) {
	f, _, err := t.FDs().Get(int32(fd))
	return f, err
}

// getIOFD returns fd for I/O: O_PATH descriptors give EBADF.
func getIOFD(t *kernel.Task, fd uint64) (*vfs.FileDescription, error) {
	f, err := getFD(t, fd)
	if err != nil {
		return nil, err
	}
	if f.IsPath() {
		f.DecRef()
		return nil, unix.EBADF
	}
	return f, nil
}

// fieldAddr is the address of the field off bytes into the app's structure at base: EFAULT
// when it wraps around the address space (Linux's access_ok refuses such a range).
func fieldAddr(base, off uint64) (uint64, error) {
	a, carry := bits.Add64(base, off, 0)
	if carry != 0 {
		return 0, unix.EFAULT
	}
	return a, nil
}

// elemAddr is the address of element i of size bytes each of the app's array at base:
// EFAULT when it wraps around the address space.
func elemAddr(base, i, size uint64) (uint64, error) {
	hi, off := bits.Mul64(i, size)
	if hi != 0 {
		return 0, unix.EFAULT
	}
	return fieldAddr(base, off)
}

func putU32(t *kernel.Task, addr uint64, v uint32) error {
	var b [4]byte
	abi.PutU32(b[:], v)
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

func putU64(t *kernel.Task, addr uint64, v uint64) error {
	var b [8]byte
	abi.PutU64(b[:], v)
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

func getU32(t *kernel.Task, addr uint64) (uint32, error) {
	var b [4]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return abi.U32(b[:]), nil
}

func getU64(t *kernel.Task, addr uint64) (uint64, error) {
	var b [8]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return abi.U64(b[:]), nil
}

// iovec is struct iovec.
type iovec struct{ base, len uint64 }

func readIovecs(t *kernel.Task, addr uint64, n uint64) ([]iovec, error) {
	if n > maxIov {
		return nil, unix.EINVAL
	}
	if n == 0 {
		return nil, nil
	}
	b := make([]byte, abi.SizeofIovec*n)
	if _, err := t.CopyIn(addr, b); err != nil {
		return nil, unix.EFAULT
	}
	out := make([]iovec, n)
	for i := range out {
		var v abi.Iovec
		v.Decode(b[abi.SizeofIovec*i:])
		out[i] = iovec{v.Base, v.Len}
		if int64(out[i].len) < 0 {
			return nil, unix.EINVAL
		}
	}
	// Then every buffer must lie in the user address space (access_ok), or EFAULT. Linux
	// clamps the total to MAX_RW_COUNT (ranges does) rather than refusing a large sum.
	for _, v := range out {
		if v.len > taskSizeMax || v.base > taskSizeMax-v.len {
			return nil, unix.EFAULT
		}
	}
	return out, nil
}

// ranges returns the kernel views of the app buffers described by iovs, clamped to maxRW in
// total. A fault after the first byte shortens the transfer, as Linux does; a fault at the
// very start is EFAULT.
func ranges(t *kernel.Task, iovs []iovec, toApp bool) ([][]byte, error) {
	var out [][]byte
	var total uint64
	m := t.MM()
	for _, v := range iovs {
		l := v.len
		if total+l > maxRW {
			l = maxRW - total
		}
		if l == 0 {
			continue
		}
		rs, err := m.Ranges(v.base, int(l), toApp)
		out = append(out, rs...)
		if err != nil {
			if len(out) == 0 {
				return nil, unix.EFAULT
			}
			return out, nil
		}
		total += l
		if total >= maxRW {
			break
		}
	}
	return out, nil
}

// atTarget resolves a *at call's dirfd and path, honouring AT_SYMLINK_NOFOLLOW and
// AT_EMPTY_PATH; release drops the reference taken on an FD target.
func atTarget(t *kernel.Task, dirfd int32, pathAddr, flags uint64) (vfs.VirtualDentry, func(), error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return vfs.VirtualDentry{}, nil, err
	}
	vd, fd, err := t.FileOrPath(dirfd, path, flags&unix.AT_EMPTY_PATH != 0, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if err != nil {
		return vfs.VirtualDentry{}, nil, err
	}
	if fd != nil {
		return vd, fd.DecRef, nil
	}
	return vd, func() {}, nil
}

// copyOutSized copies v to buf unless size is 0 (a size query); ERANGE when it does not fit.
func copyOutSized(t *kernel.Task, buf, size uint64, v []byte) (uint64, error) {
	if size == 0 {
		return uint64(len(v)), nil
	}
	if uint64(len(v)) > size {
		return 0, unix.ERANGE
	}
	if _, err := t.CopyOut(buf, v); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(v)), nil
}
