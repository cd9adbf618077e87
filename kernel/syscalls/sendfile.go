package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// copyChunk bounds one read-then-write step of sendfile and copy_file_range.
const copyChunk = 64 << 10

// copyEnds returns the source and destination of a copying call (sendfile, splice, tee,
// copy_file_range), readable and writable, with a release function for both.
func copyEnds(t *kernel.Task, inFD, outFD uint64) (in, out *vfs.FileDescription, release func(), err error) {
	if in, err = getIOFD(t, inFD); err != nil {
		return nil, nil, nil, err
	}
	if out, err = getIOFD(t, outFD); err != nil {
		in.DecRef()
		return nil, nil, nil, err
	}
	release = func() { in.DecRef(); out.DecRef() }
	if !in.Readable() || !out.Writable() {
		release()
		return nil, nil, nil, unix.EBADF
	}
	return in, out, release, nil
}

// Sendfile implements sendfile(2): count bytes from in (at *offset, which is updated, or at
// in's file position) to out, through the kernel. in must be seekable; out may be anything
// writable. A short read ends the copy.
func Sendfile(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	in, out, release, err := copyEnds(t, a[1], a[0])
	if err != nil {
		return 0, err
	}
	defer release()
	if in.IsStream() {
		return 0, unix.EINVAL
	}
	if err := checkFileType(in); err != nil {
		return 0, unix.EINVAL
	}
	if out.StatusFlags()&unix.O_APPEND != 0 {
		return 0, unix.EINVAL
	}
	count := int64(a[3])
	if count < 0 {
		return 0, unix.EINVAL
	}
	var off int64
	useOff := a[2] != 0
	if useOff {
		var b [8]byte
		if _, err := t.CopyIn(a[2], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		if off = int64(abi.U64(b[:])); off < 0 {
			return 0, unix.EINVAL
		}
	}
	buf := make([]byte, min(count, copyChunk))
	var done int64
	var copyErr error
	for done < count {
		chunk := buf[:min(count-done, int64(len(buf)))]
		var n int64
		if useOff {
			n, err = in.PRead([][]byte{chunk}, off+done)
		} else {
			n, err = in.Read([][]byte{chunk})
		}
		if err != nil || n == 0 {
			copyErr = err
			break
		}
		// RLIMIT_FSIZE cuts the write (what it does not take goes back to the input).
		room, err := fsizeRoomLoop(t, out, -1, n, true)
		if err != nil {
			copyErr = err
			if !useOff {
				in.Seek(-n, unix.SEEK_CUR)
			}
			break
		}
		w, err := doWrite(t, out, [][]byte{chunk[:room]}, out.Write)
		done += int64(w)
		if err != nil || int64(w) < n {
			copyErr = err
			if !useOff && int64(w) < n {
				in.Seek(int64(w)-n, unix.SEEK_CUR) // give back what was read but not written
			}
			break
		}
	}
	if useOff {
		if err := putU64(t, a[2], uint64(off+done)); err != nil {
			return 0, err
		}
	}
	if done == 0 && copyErr != nil {
		return 0, copyErr
	}
	return uint64(done), nil
}

// CopyFileRange implements copy_file_range(2) between regular files, through the kernel.
func CopyFileRange(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	if a[5] != 0 {
		return 0, unix.EINVAL
	}
	// Linux's order (generic_file_rw_checks): directories, then other non-regular files,
	// then the access modes.
	in, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := getIOFD(t, a[2])
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	if err := checkFileType(in); err != nil {
		return 0, err
	}
	if err := checkFileType(out); err != nil {
		return 0, err
	}
	for _, fd := range []*vfs.FileDescription{in, out} {
		if fd.IsStream() {
			return 0, unix.EINVAL
		}
		if fin := fd.Inode(); fin != nil {
			if fa, err := fin.Stat(); err == nil && fa.Type() != unix.S_IFREG {
				return 0, unix.EINVAL // only regular files (generic_file_rw_checks)
			}
		}
	}
	if !in.Readable() || !out.Writable() || out.StatusFlags()&unix.O_APPEND != 0 {
		return 0, unix.EBADF
	}
	// Between filesystems only filesystems with a copy_file_range of their own copy
	// (generic_copy_file_checks, after the file checks); none here has one: another
	// superblock is EXDEV, whatever the offsets and count.
	if in.Inode() != nil && out.Inode() != nil {
		ia, ierr := in.Inode().Stat()
		oa, oerr := out.Inode().Stat()
		if ierr == nil && oerr == nil && ia.Dev != oa.Dev {
			return 0, unix.EXDEV
		}
	}
	readOff := func(addr uint64, fdOff int64) (int64, error) {
		if addr == 0 {
			return fdOff, nil
		}
		var b [8]byte
		if _, err := t.CopyIn(addr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return int64(abi.U64(b[:])), nil
	}
	inOff, err := readOff(a[1], in.Offset())
	if err != nil {
		return 0, err
	}
	outOff, err := readOff(a[3], out.Offset())
	if err != nil {
		return 0, err
	}
	// Offsets must not wrap (unsigned, as Linux adds a size_t): a negative one with a
	// count is EOVERFLOW, without one EINVAL.
	if uint64(inOff)+a[4] < uint64(inOff) || uint64(outOff)+a[4] < uint64(outOff) {
		return 0, unix.EOVERFLOW
	}
	if inOff < 0 || outOff < 0 {
		return 0, unix.EINVAL
	}
	count := int64(min(a[4], maxRW))
	// generic_copy_file_checks: the copy is cut at the source's end, then by RLIMIT_FSIZE
	// (EFBIG at or past it, even for nothing to copy), then one file's ranges must not
	// overlap.
	if in.Inode() != nil {
		if ia, err := in.Inode().Stat(); err == nil {
			if inOff >= ia.Size {
				count = 0
			} else {
				count = min(count, ia.Size-inOff)
			}
		}
	}
	if count, err = fsizeRoom(t, out, outOff, count); err != nil {
		return 0, err
	}
	if in.Inode() != nil && in.Inode() == out.Inode() && outOff+count > inOff && outOff < inOff+count {
		return 0, unix.EINVAL // overlapping ranges of one file
	}
	if count == 0 {
		return 0, nil
	}
	buf := make([]byte, min(count, copyChunk))
	var done int64
	var copyErr error
	for done < count {
		chunk := buf[:min(count-done, int64(len(buf)))]
		n, err := in.PRead([][]byte{chunk}, inOff+done)
		if err != nil || n == 0 {
			copyErr = err
			break
		}
		w, err := out.PWrite([][]byte{chunk[:n]}, outOff+done)
		done += w
		if err != nil || w < n {
			copyErr = err
			break
		}
	}
	if done == 0 && copyErr != nil {
		return 0, copyErr
	}
	if a[1] != 0 {
		if err := putU64(t, a[1], uint64(inOff+done)); err != nil {
			return 0, err
		}
	} else {
		in.Seek(inOff+done, unix.SEEK_SET)
	}
	if a[3] != 0 {
		if err := putU64(t, a[3], uint64(outOff+done)); err != nil {
			return 0, err
		}
	} else {
		out.Seek(outOff+done, unix.SEEK_SET)
	}
	return uint64(done), nil
}
