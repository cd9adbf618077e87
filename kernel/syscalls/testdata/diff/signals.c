#include "common.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>

static volatile int got;
static volatile int info_pid_ok;
static sigjmp_buf jb;

static void handler(int sig) { got = sig; }
static void info_handler(int sig, siginfo_t *si, void *uc) { got = sig; info_pid_ok = si->si_pid == getpid(); }
static void segv_handler(int sig) { siglongjmp(jb, 1); }

int main(void) {
	struct sigaction sa = {0};
	sa.sa_handler = handler;
	CHECK(sigaction(SIGUSR1, &sa, NULL));
	CHECK(raise(SIGUSR1));
	printf("handler ran for %d\n", got);
	got = 0;
	CHECK(kill(getpid(), SIGUSR1));
	printf("kill: handler ran for %d\n", got);
	/* Blocked signals wait until unblocked. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	got = 0;
	CHECK(sigprocmask(SIG_BLOCK, &set, &old));
	CHECK(raise(SIGUSR1));
	printf("while blocked: %d\n", got);
	sigset_t pend;
	CHECK(sigpending(&pend));
	printf("pending: %d\n", sigismember(&pend, SIGUSR1));
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL));
	printf("after unblock: %d\n", got);
	/* SA_SIGINFO */
	struct sigaction si = {0};
	si.sa_sigaction = info_handler;
	si.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGUSR2, &si, NULL));
	got = 0;
	CHECK(raise(SIGUSR2));
	printf("siginfo handler %d pid ok %d\n", got, info_pid_ok);
	/* SA_RESETHAND */
	sa.sa_flags = SA_RESETHAND;
	CHECK(sigaction(SIGHUP, &sa, NULL));
	raise(SIGHUP);
	struct sigaction cur;
	CHECK(sigaction(SIGHUP, NULL, &cur));
	printf("reset to default: %d\n", cur.sa_handler == SIG_DFL);
	/* SIGSEGV handler with siglongjmp */
	struct sigaction sv = {0};
	sv.sa_handler = segv_handler;
	CHECK(sigaction(SIGSEGV, &sv, NULL));
	if (sigsetjmp(jb, 1) == 0) {
		*(volatile int *)8 = 1;
		printf("no fault?\n");
	} else {
		printf("recovered from SIGSEGV\n");
	}
	/* SIGCHLD handler */
	sa.sa_flags = 0;
	CHECK(sigaction(SIGCHLD, &sa, NULL));
	got = 0;
	pid_t c = fork();
	if (c == 0) _exit(0);
	int st;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR) {}
	printf("sigchld seen %d\n", got == SIGCHLD);
	/* sigsuspend (the child's SIGCHLD may come first or second: it must not count) */
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_BLOCK, &set, &old);
	got = 0;
	c = fork();
	if (c == 0) { kill(getppid(), SIGUSR1); _exit(0); }
	sigset_t wait_mask;
	sigemptyset(&wait_mask);
	int r = sigsuspend(&wait_mask);
	printf("sigsuspend %d errno %s got %d\n", r, errname(errno), got);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	printf("mask restored: %d\n", sigismember(&now, SIGUSR1));
	waitpid(c, &st, 0);
	/* Ignored and default-ignored signals */
	signal(SIGUSR1, SIG_IGN);
	CHECK(raise(SIGUSR1));
	CHECK(raise(SIGWINCH));
	/* Death by signal is seen by the parent */
	c = fork();
	if (c == 0) { signal(SIGTERM, SIG_DFL); raise(SIGTERM); _exit(0); }
	while (waitpid(c, &st, 0) < 0 && errno == EINTR) {}
	printf("child died of %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	return 0;
}
