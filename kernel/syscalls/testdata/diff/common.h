/* Shared helpers for sbx's differential tests: every check prints one line with the
 * call, its result and errno name, so native and sandboxed runs can be diffed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static const char *errname(int e) {
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EBADF: return "EBADF";
	case EACCES: return "EACCES"; case EEXIST: return "EEXIST"; case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR"; case EINVAL: return "EINVAL"; case EMFILE: return "EMFILE";
	case ENOSPC: return "ENOSPC"; case ESPIPE: return "ESPIPE"; case EROFS: return "EROFS";
	case EPIPE: return "EPIPE"; case ERANGE: return "ERANGE"; case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS"; case ENOTEMPTY: return "ENOTEMPTY"; case ELOOP: return "ELOOP";
	case EFAULT: return "EFAULT"; case ENOMEM: return "ENOMEM"; case EAGAIN: return "EAGAIN";
	case EXDEV: return "EXDEV"; case ENXIO: return "ENXIO"; case ENOTTY: return "ENOTTY";
	case EBUSY: return "EBUSY"; case ECHILD: return "ECHILD"; case ESRCH: return "ESRCH";
	case EOPNOTSUPP: return "EOPNOTSUPP"; case E2BIG: return "E2BIG"; case ENOEXEC: return "ENOEXEC";
	case EFBIG: return "EFBIG"; case EOVERFLOW: return "EOVERFLOW"; case ENODEV: return "ENODEV";
	case EINTR: return "EINTR"; case EDOM: return "EDOM"; case ENOPROTOOPT: return "ENOPROTOOPT";
	case ENOTCONN: return "ENOTCONN"; case EISCONN: return "EISCONN"; case ENODATA: return "ENODATA";
	case ENOTSOCK: return "ENOTSOCK"; case ECONNREFUSED: return "ECONNREFUSED"; case EMSGSIZE: return "EMSGSIZE";
	case ETIMEDOUT: return "ETIMEDOUT"; case EOWNERDEAD: return "EOWNERDEAD"; case EDEADLK: return "EDEADLK";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE"; case EADDRINUSE: return "EADDRINUSE";
	}
	static char buf[32];
	snprintf(buf, sizeof buf, "E%d", e);
	return buf;
}

#define CHECK(expr) do { errno = 0; long _r = (long)(expr); int _e = errno; \
	printf("%-60s = %ld %s\n", #expr, _r < 0 ? -1L : _r, _r < 0 ? errname(_e) : "OK"); } while (0)

/* CHECK0 prints only success/failure, for calls whose value differs between runs. */
#define CHECK0(expr) do { errno = 0; long _r = (long)(expr); int _e = errno; \
	printf("%-60s = %s %s\n", #expr, _r < 0 ? "-1" : "ok", _r < 0 ? errname(_e) : "OK"); } while (0)

/* workdir makes and enters a fresh directory under /tmp (a unique one: native runs leave
 * theirs behind, and PIDs repeat). */
static void workdir(const char *name) {
	char path[256];
	snprintf(path, sizeof path, "/tmp/sbxdiff-%s-XXXXXX", name);
	if (mkdtemp(path) == NULL || chmod(path, 0755) != 0 || chdir(path) != 0) { perror("workdir"); exit(2); }
}

/* write_ctl writes s to the control file p (/proc/self/uid_map and the like): 0 or -1. */
static inline int write_ctl(const char *p, const char *s) {
	int fd = open(p, O_WRONLY);
	if (fd < 0) return -1;
	int r = write(fd, s, strlen(s));
	close(fd);
	return r < 0 ? -1 : 0;
}

/* enter_userns unshares a new user namespace and the namespaces in flags (CLONE_NEW*),
 * mapping the caller to root inside, as `unshare -r` does: 0 or -1. */
static inline int enter_userns(int flags) {
	uid_t uid = geteuid(); gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER | flags) < 0) return -1;
	char buf[64];
	write_ctl("/proc/self/setgroups", "deny");
	snprintf(buf, sizeof buf, "0 %d 1\n", uid);
	if (write_ctl("/proc/self/uid_map", buf) < 0) return -1;
	snprintf(buf, sizeof buf, "0 %d 1\n", gid);
	return write_ctl("/proc/self/gid_map", buf);
}
