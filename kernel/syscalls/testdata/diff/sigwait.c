#include "common.h"
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* Accepting signals synchronously: sigwaitinfo/sigtimedwait, signalfd, and blocked
 * signals whose default action is to be ignored staying pending. */

int main(void) {
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL));
	siginfo_t si;
	struct timespec zero = {0, 0}, short_ = {0, 20000000};
	CHECK(sigtimedwait(&set, &si, &zero));
	CHECK(sigtimedwait(&set, &si, &short_));
	CHECK(kill(getpid(), SIGUSR1));
	CHECK(sigwaitinfo(&set, &si));
	printf("signo %d code %d\n", si.si_signo, si.si_code);
	/* SIGCHLD is ignored by default but blocked: it stays pending until accepted. */
	pid_t c = fork();
	if (c == 0)
		_exit(3);
	int st;
	waitpid(c, &st, 0);
	sigset_t pend;
	sigpending(&pend);
	printf("SIGCHLD pending: %d\n", sigismember(&pend, SIGCHLD));
	CHECK(sigtimedwait(&set, &si, &zero));
	/* A child signals us while we wait. */
	c = fork();
	if (c == 0) {
		usleep(20000);
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	CHECK(sigwaitinfo(&set, NULL));
	waitpid(c, &st, 0);
	sigtimedwait(&set, NULL, &zero); /* the child's SIGCHLD */
	/* signalfd */
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	CHECK(sfd >= 0);
	struct signalfd_siginfo ssi;
	CHECK(read(sfd, &ssi, sizeof ssi));
	CHECK(read(sfd, &ssi, 10));
	CHECK(kill(getpid(), SIGUSR2));
	CHECK(kill(getpid(), SIGUSR1));
	struct pollfd pfd = {sfd, POLLIN, 0};
	CHECK(poll(&pfd, 1, 0));
	struct signalfd_siginfo two[2];
	CHECK(read(sfd, two, sizeof two));
	printf("got %u and %u\n", two[0].ssi_signo, two[1].ssi_signo);
	CHECK(read(sfd, &ssi, sizeof ssi));
	sigset_t only1;
	sigemptyset(&only1);
	sigaddset(&only1, SIGUSR1);
	CHECK(signalfd(sfd, &only1, 0));
	CHECK(raise(SIGUSR2));
	CHECK(read(sfd, &ssi, sizeof ssi));
	CHECK(sigtimedwait(&set, &si, &zero));
	CHECK(signalfd(-1, &set, 0x12345));
	CHECK(signalfd(1, &set, 0));
	CHECK(syscall(SYS_rt_sigtimedwait, &set, NULL, NULL, 4));
	return 0;
}
