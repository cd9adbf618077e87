/* 32-bit arguments ignore the upper half of their register, as Linux's syscall wrappers cast
 * each register to its C type: int and unsigned int arguments (flags, fds, modes, counts,
 * IDs) with garbage in bits 32-63 behave as their low half, and umode_t keeps 16 bits.
 * 64-bit arguments (sizes, offsets, pointers) are used whole. Firefox's content processes
 * pass such registers to memfd_create, eventfd2, pipe2 and epoll_create1. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

#define HI 0xdead000000000000UL
#define HI2 0x0000000100000000UL

static long sc(long nr, unsigned long a, unsigned long b, unsigned long c, unsigned long d) {
	return syscall(nr, a, b, c, d);
}

static void mode(const char *name) {
	struct stat st;
	if (stat(name, &st) != 0)
		printf("mode %s: %s\n", name, errname(errno));
	else
		printf("mode %s: %o\n", name, st.st_mode & 07777);
}

static void cloexec(const char *what, long fd) {
	if (fd < 0) {
		printf("%s: %s\n", what, errname(errno));
		return;
	}
	printf("%s: ok, cloexec %d\n", what, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	workdir("argwidth");
	umask(022);

	cloexec("memfd_create", sc(SYS_memfd_create, (unsigned long)"m", HI | MFD_CLOEXEC, 0, 0));
	cloexec("memfd_create hi2", sc(SYS_memfd_create, (unsigned long)"m", HI2 | MFD_ALLOW_SEALING, 0, 0));
	long e = sc(SYS_eventfd2, HI | 5, HI2 | EFD_CLOEXEC, 0, 0);
	cloexec("eventfd2", e);
	unsigned long long v = 0;
	CHECK(read(e, &v, 8));
	printf("eventfd counter %llu\n", v);
	int p[2] = {-1, -1};
	CHECK(sc(SYS_pipe2, (unsigned long)p, HI | O_CLOEXEC, 0, 0));
	cloexec("pipe2 read end", p[0]);
	cloexec("epoll_create1", sc(SYS_epoll_create1, HI | EPOLL_CLOEXEC, 0, 0, 0));
	cloexec("timerfd_create", sc(SYS_timerfd_create, HI | CLOCK_MONOTONIC, HI2 | TFD_CLOEXEC, 0, 0));
	cloexec("socket", sc(SYS_socket, HI | AF_UNIX, HI2 | SOCK_STREAM | SOCK_CLOEXEC, HI, 0));

	/* descriptors */
	CHECK(sc(SYS_dup3, HI | p[1], HI2 | 20, HI | O_CLOEXEC, 0));
	CHECK(sc(SYS_fcntl, HI | 20, HI2 | F_GETFD, 0, 0));
	CHECK(sc(SYS_write, HI | 20, (unsigned long)"abc", 3, 0));
	char buf[8] = {0};
	CHECK(sc(SYS_read, HI2 | p[0], (unsigned long)buf, 3, 0));
	CHECK(sc(SYS_close, HI | 20, 0, 0, 0));
	CHECK(fcntl(20, F_GETFD));
	/* a size_t count is used whole: the upper bits make it huge, not small */
	CHECK(sc(SYS_write, p[1], (unsigned long)"x", HI2 | 1, 0) > 1);

	/* paths, flags and modes */
	long fd = sc(SYS_openat, HI | (unsigned)AT_FDCWD, (unsigned long)"f", HI2 | O_CREAT | O_WRONLY, HI | 0x10644);
	CHECK(fd >= 0);
	mode("f");
	CHECK(sc(SYS_mkdir, (unsigned long)"d", HI | 0x30755, 0, 0));
	mode("d");
	CHECK(sc(SYS_chmod, (unsigned long)"f", HI2 | 0x70600, 0, 0));
	mode("f");
	CHECK(sc(SYS_fchmod, HI | fd, 0x10640, 0, 0));
	mode("f");
	CHECK(sc(SYS_lseek, HI2 | fd, 5, HI | SEEK_SET, 0));
	CHECK(sc(SYS_lseek, fd, HI2, SEEK_SET, 0) == (long)HI2);
	CHECK(sc(SYS_faccessat, HI | (unsigned)AT_FDCWD, (unsigned long)"f", HI2 | R_OK, 0));
	CHECK(sc(SYS_unlinkat, HI | (unsigned)AT_FDCWD, (unsigned long)"d", HI2 | AT_REMOVEDIR, 0));
	mode("d");
	CHECK(sc(SYS_umask, HI | 027, 0, 0, 0));
	CHECK(sc(SYS_umask, 022, 0, 0, 0));

	/* processes, signals, limits */
	CHECK(sc(SYS_kill, HI | getpid(), HI2 | 0, 0, 0));
	CHECK(sc(SYS_getpgid, HI | 0, 0, 0, 0) == getpgid(0));
	struct rlimit rl;
	CHECK(sc(SYS_getrlimit, HI | RLIMIT_NOFILE, (unsigned long)&rl, 0, 0));
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	CHECK(sc(SYS_poll, (unsigned long)&pf, HI | 1, HI2 | 0, 0));
	sigset_t set;
	sigemptyset(&set);
	CHECK(sc(SYS_rt_sigprocmask, HI | SIG_BLOCK, (unsigned long)&set, 0, 8));
	CHECK(sc(SYS_personality, HI | 0xffffffff, 0, 0, 0) >= 0);
	/* a negative int stays negative */
	CHECK(sc(SYS_kill, 0xffffffffUL, 0, 0, 0) == 0 || errno == ESRCH);
	CHECK(sc(SYS_close, 0xffffffffUL, 0, 0, 0));
	return 0;
}
