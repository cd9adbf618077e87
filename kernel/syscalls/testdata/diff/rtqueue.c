#include "common.h"
#include <signal.h>

/* Real-time signals queue, in order, each with its value; standard signals coalesce. */

static volatile int seen[16], nseen;
static void handler(int sig, siginfo_t *si, void *uc) {
	if (nseen < 16)
		seen[nseen++] = sig * 1000 + si->si_value.sival_int;
}

int main(void) {
	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN, &sa, NULL);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigaddset(&set, SIGRTMIN + 1);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (int i = 1; i <= 3; i++) {
		CHECK(sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = i}));
		CHECK(sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 10 + i}));
		CHECK(sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 20 + i}));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (int i = 0; i < nseen; i++)
		printf("%d: signal %d value %d\n", i, seen[i] / 1000, seen[i] % 1000);
	/* sigwaitinfo drains a queue one instance at a time. */
	sigprocmask(SIG_BLOCK, &set, NULL);
	CHECK(sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 7}));
	CHECK(sigqueue(getpid(), SIGRTMIN, (union sigval){.sival_int = 8}));
	siginfo_t si;
	struct timespec zero = {0, 0};
	CHECK(sigtimedwait(&set, &si, &zero));
	printf("value %d\n", si.si_value.sival_int);
	sigset_t pend;
	sigpending(&pend);
	printf("still pending %d\n", sigismember(&pend, SIGRTMIN));
	CHECK(sigtimedwait(&set, &si, &zero));
	printf("value %d\n", si.si_value.sival_int);
	CHECK(sigtimedwait(&set, &si, &zero));
	return 0;
}
