package vfs

import (
	"io"

	"golang.org/x/sys/unix"
)

// PreadFull reads len(p) bytes of host FD fd at off, retrying short reads and EINTR; it
// returns io.EOF with what it read when the file ends first.
func PreadFull(fd int, p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Pread(fd, p[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}
