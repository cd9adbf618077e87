package kernel

import (
	"fmt"

	"golang.org/x/sys/unix"
)

var errnoNames = map[unix.Errno]string{
	unix.EPERM: "EPERM", unix.ENOENT: "ENOENT", unix.ESRCH: "ESRCH", unix.EINTR: "EINTR", unix.EIO: "EIO",
	unix.ENXIO: "ENXIO", unix.E2BIG: "E2BIG", unix.ENOEXEC: "ENOEXEC", unix.EBADF: "EBADF", unix.ECHILD: "ECHILD",
	unix.EAGAIN: "EAGAIN", unix.ENOMEM: "ENOMEM", unix.EACCES: "EACCES", unix.EFAULT: "EFAULT", unix.EBUSY: "EBUSY",
	unix.EEXIST: "EEXIST", unix.EXDEV: "EXDEV", unix.ENODEV: "ENODEV", unix.ENOTDIR: "ENOTDIR", unix.EISDIR: "EISDIR",
	unix.EINVAL: "EINVAL", unix.ENFILE: "ENFILE", unix.EMFILE: "EMFILE", unix.ENOTTY: "ENOTTY", unix.EFBIG: "EFBIG",
	unix.ENOSPC: "ENOSPC", unix.ESPIPE: "ESPIPE", unix.EROFS: "EROFS", unix.EMLINK: "EMLINK", unix.EPIPE: "EPIPE",
	unix.ERANGE: "ERANGE", unix.ENAMETOOLONG: "ENAMETOOLONG", unix.ENOSYS: "ENOSYS", unix.ENOTEMPTY: "ENOTEMPTY",
	unix.ELOOP: "ELOOP", unix.ENODATA: "ENODATA", unix.ETIMEDOUT: "ETIMEDOUT", unix.EOPNOTSUPP: "EOPNOTSUPP",
	unix.ENOTSOCK: "ENOTSOCK", unix.EAFNOSUPPORT: "EAFNOSUPPORT", unix.ECONNREFUSED: "ECONNREFUSED",
	unix.EADDRINUSE: "EADDRINUSE", unix.ENOTCONN: "ENOTCONN", unix.EOVERFLOW: "EOVERFLOW",
}

func errnoName(e unix.Errno) string {
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return fmt.Sprintf("E%d", int(e))
}
