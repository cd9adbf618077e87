/* The signal-mask argument of pselect6, ppoll, epoll_pwait and epoll_pwait2: the mask is
 * in force during the wait only; a pending signal it unblocks interrupts the wait at once;
 * the handler runs under it and returns to the caller's mask; without a handler to run the
 * caller's mask is back when the call returns. Also the mask arguments' EINVAL/EFAULT paths,
 * and make's jobserver pattern (SIGCHLD blocked, waited for in pselect). */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static volatile int got;
static volatile int usr2_blocked_in_handler, usr1_blocked_in_handler;

static void handler(int sig) {
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	got = sig;
	usr1_blocked_in_handler = sigismember(&cur, SIGUSR1);
	usr2_blocked_in_handler = sigismember(&cur, SIGUSR2);
}

static void show_mask(const char *when) {
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("%s: USR1 blocked %d, USR2 blocked %d, CHLD blocked %d\n", when,
	       sigismember(&cur, SIGUSR1), sigismember(&cur, SIGUSR2), sigismember(&cur, SIGCHLD));
}

enum { PSELECT, PPOLL, EPOLL_PWAIT, EPOLL_PWAIT2 };
static const char *names[] = {"pselect", "ppoll", "epoll_pwait", "epoll_pwait2"};

/* wait_on waits for fd to be readable with mask in force; timeout_ms < 0: forever. */
static int wait_on(int how, int fd, int ep, const sigset_t *mask, int timeout_ms) {
	struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
	struct timespec *tsp = timeout_ms < 0 ? NULL : &ts;
	struct epoll_event ev;
	switch (how) {
	case PSELECT: {
		fd_set r;
		FD_ZERO(&r);
		FD_SET(fd, &r);
		return pselect(fd + 1, &r, NULL, NULL, tsp, mask);
	}
	case PPOLL: {
		struct pollfd p = {fd, POLLIN, 0};
		return ppoll(&p, 1, tsp, mask);
	}
	case EPOLL_PWAIT:
		return epoll_pwait(ep, &ev, 1, timeout_ms, mask);
	default:
		return syscall(SYS_epoll_pwait2, ep, &ev, 1, tsp, mask, 8);
	}
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sigaction sa = {0};
	sa.sa_handler = handler;
	CHECK(sigaction(SIGUSR1, &sa, NULL));
	CHECK(sigaction(SIGUSR2, &sa, NULL));
	CHECK(sigaction(SIGCHLD, &sa, NULL));
	int p[2];
	CHECK(pipe(p));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = p[0]};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));

	sigset_t usr1, waitmask;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigemptyset(&waitmask);
	sigaddset(&waitmask, SIGUSR2); /* the wait blocks USR2 and unblocks USR1 */

	for (int how = 0; how < 4; how++) {
		printf("== %s\n", names[how]);
		CHECK(sigprocmask(SIG_SETMASK, &usr1, NULL));
		/* A pending signal the wait's mask unblocks interrupts it at once. */
		got = 0;
		CHECK(raise(SIGUSR1));
		int r = wait_on(how, p[0], ep, &waitmask, -1);
		printf("pending USR1: r=%d %s got=%d usr1-blocked-in-handler=%d usr2-blocked-in-handler=%d\n",
		       r, r < 0 ? errname(errno) : "OK", got, usr1_blocked_in_handler, usr2_blocked_in_handler);
		show_mask("after");
		/* A signal the wait's mask blocks does not interrupt it (timeout), and stays pending. */
		got = 0;
		CHECK(sigprocmask(SIG_SETMASK, &usr1, NULL));
		CHECK(raise(SIGUSR1));
		r = wait_on(how, p[0], ep, &usr1, 50);
		printf("blocked USR1, 50 ms: r=%d %s got=%d\n", r, r < 0 ? errname(errno) : "OK", got);
		sigset_t pend;
		sigpending(&pend);
		printf("USR1 still pending: %d\n", sigismember(&pend, SIGUSR1));
		CHECK(sigprocmask(SIG_SETMASK, &waitmask, NULL)); /* delivered now */
		printf("after unblocking: got=%d\n", got);
		/* Ready descriptor and a pending signal the wait's mask unblocks: the descriptor
		 * wins, and the signal stays pending under the caller's mask. */
		CHECK(sigprocmask(SIG_SETMASK, &usr1, NULL));
		got = 0;
		CHECK(write(p[1], "x", 1));
		CHECK(raise(SIGUSR1));
		r = wait_on(how, p[0], ep, &waitmask, -1);
		printf("ready fd + pending USR1: r=%d %s got=%d\n", r, r < 0 ? errname(errno) : "OK", got);
		show_mask("after");
		char c;
		CHECK(read(p[0], &c, 1));
		CHECK(sigprocmask(SIG_SETMASK, &waitmask, NULL));
		printf("after unblocking: got=%d\n", got);
		/* Timeout with a mask: the caller's mask is back. */
		CHECK(sigprocmask(SIG_SETMASK, &usr1, NULL));
		r = wait_on(how, p[0], ep, &waitmask, 0);
		printf("timeout 0: r=%d\n", r);
		show_mask("after");
		/* make's jobserver: SIGCHLD blocked while children run; the wait unblocks it. */
		sigset_t chld, none;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigemptyset(&none);
		CHECK(sigprocmask(SIG_SETMASK, &chld, NULL));
		pid_t c1 = fork();
		if (c1 == 0) _exit(0);
		CHECK(waitid(P_PID, c1, NULL, WEXITED | WNOWAIT)); /* exited, SIGCHLD pending */
		got = 0;
		r = wait_on(how, p[0], ep, &none, -1);
		printf("child exited before the wait: r=%d %s got=%d\n", r, r < 0 ? errname(errno) : "OK", got);
		waitpid(c1, NULL, 0);
		show_mask("after");
		int go[2];
		CHECK(pipe(go));
		pid_t c2 = fork();
		if (c2 == 0) {
			char b;
			read(go[0], &b, 1); /* exits once the parent is about to wait */
			_exit(0);
		}
		close(go[0]);
		got = 0;
		CHECK(write(go[1], "g", 1));
		close(go[1]);
		r = wait_on(how, p[0], ep, &none, -1);
		printf("child exited during the wait: r=%d %s got=%d\n", r, r < 0 ? errname(errno) : "OK", got);
		waitpid(c2, NULL, 0);
		show_mask("after");
	}

	printf("== argument errors\n");
	CHECK(sigprocmask(SIG_SETMASK, &usr1, NULL));
	struct pollfd pf = {p[0], POLLIN, 0};
	struct timespec zero = {0, 0};
	CHECK(syscall(SYS_ppoll, &pf, 1, &zero, &waitmask, 4));
	CHECK(syscall(SYS_ppoll, &pf, 1, &zero, (void *)8, 8));
	CHECK(syscall(SYS_ppoll, &pf, 1, &zero, NULL, 4));
	struct epoll_event e;
	CHECK(syscall(SYS_epoll_pwait, ep, &e, 1, 0, &waitmask, 16));
	CHECK(syscall(SYS_epoll_pwait, ep, &e, 1, 0, (void *)8, 8));
	CHECK(syscall(SYS_epoll_pwait, ep, &e, 0, 0, (void *)8, 8)); /* the mask is read first */
	CHECK(syscall(SYS_epoll_pwait2, ep, &e, 1, &zero, &waitmask, 7));
	CHECK(syscall(SYS_epoll_pwait2, ep, &e, 1, (void *)8, &waitmask, 7)); /* timeout first */
	fd_set r;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	struct { const sigset_t *ss; size_t len; } pack = {&waitmask, 4};
	CHECK(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &zero, &pack));
	pack.ss = (const sigset_t *)8;
	pack.len = 8;
	CHECK(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &zero, &pack));
	CHECK(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &zero, (void *)8));
	pack.ss = NULL;
	pack.len = 3; /* no mask: the size is not looked at */
	CHECK(syscall(SYS_pselect6, p[0] + 1, &r, NULL, NULL, &zero, &pack));
	show_mask("end");
	return 0;
}
