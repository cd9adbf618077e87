#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* pidfds: open, poll for exit, signal, waitid(P_PIDFD), and the errors. */

#include <fcntl.h>
#include <sched.h>
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
	return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

int main(void) {
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	int pfd = pidfd_open(c, 0);
	CHECK(pfd >= 0);
	struct pollfd p = {pfd, POLLIN, 0};
	CHECK(poll(&p, 1, 50));
	CHECK(pidfd_send_signal(pfd, SIGTERM, NULL, 0));
	CHECK(poll(&p, 1, 30000));
	printf("revents %x\n", p.revents & POLLIN);
	siginfo_t si = {0};
	CHECK(waitid(P_PIDFD, pfd, &si, WEXITED));
	printf("code %d status %d pid ok %d\n", si.si_code, si.si_status, si.si_pid == c);
	CHECK(pidfd_send_signal(pfd, SIGTERM, NULL, 0));
	CHECK(waitid(P_PIDFD, pfd, &si, WEXITED));
	/* Non-blocking pidfd: a wait that would block says EAGAIN. */
	int go[2];
	pipe(go);
	c = fork();
	if (c == 0) {
		char x;
		read(go[0], &x, 1); /* runs until the parent has checked the waits that would block */
		_exit(4);
	}
	int nb = pidfd_open(c, PIDFD_NONBLOCK);
	CHECK(waitid(P_PIDFD, nb, &si, WEXITED));
	CHECK(waitid(P_PIDFD, nb, &si, WEXITED | WNOHANG));
	write(go[1], "x", 1);
	p.fd = nb;
	CHECK(poll(&p, 1, 30000));
	CHECK(waitid(P_PIDFD, nb, &si, WEXITED));
	printf("exit status %d\n", si.si_status);
	CHECK(pidfd_open(999999, 0));
	CHECK(pidfd_open(getpid(), 0x1234));
	CHECK(pidfd_send_signal(0, SIGTERM, NULL, 0));
	CHECK(pidfd_send_signal(pfd, SIGTERM, NULL, 1));
	CHECK(waitid(P_PIDFD, 999, &si, WEXITED));
	/* clone(CLONE_PIDFD) hands the parent a pidfd for its new child. */
	int cpfd = -1;
	pid_t cc = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &cpfd, 0, 0);
	if (cc == 0)
		_exit(9);
	p.fd = cpfd;
	CHECK(poll(&p, 1, 30000));
	CHECK(waitid(P_PIDFD, cpfd, &si, WEXITED));
	printf("clone pidfd: status %d pid ok %d cloexec %d\n", si.si_status, si.si_pid == cc, fcntl(cpfd, F_GETFD));
	CHECK(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &cpfd, 0, 0));
	int self = pidfd_open(getpid(), 0);
	CHECK(waitid(P_PIDFD, self, &si, WEXITED | WNOHANG));
	return 0;
}
