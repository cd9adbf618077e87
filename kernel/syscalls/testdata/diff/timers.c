#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

/* POSIX timers: signal and thread notification, one-shot and periodic, overruns while the
 * signal is blocked, SIGEV_NONE, and the errors. */

static volatile int fired, code, value;
static void handler(int sig, siginfo_t *si, void *uc) {
	fired++;
	code = si->si_code;
	value = si->si_value.sival_int;
}

static volatile int thread_calls;
static void thread_fn(union sigval v) { thread_calls += v.sival_int; }

int main(void) {
	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN, &sa, NULL);
	struct sigevent sev = {0};
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 77;
	timer_t t1;
	CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t1));
	struct itimerspec its = {{0, 0}, {0, 20000000}}, cur;
	sigset_t rt, orig;
	sigemptyset(&rt);
	sigaddset(&rt, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &rt, &orig);
	CHECK(timer_settime(t1, 0, &its, NULL));
	while (!fired)
		sigsuspend(&orig); /* (pause() could miss a signal landing between test and call) */
	sigprocmask(SIG_SETMASK, &orig, NULL);
	printf("fired %d code %d value %d\n", fired, code, value);
	CHECK(timer_gettime(t1, &cur));
	printf("disarmed after one shot: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
	/* Periodic while blocked: overruns accumulate. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &set, NULL);
	its.it_interval.tv_nsec = 10000000;
	its.it_value.tv_nsec = 10000000;
	CHECK(timer_settime(t1, 0, &its, NULL));
	struct timespec nap = {0, 120000000};
	nanosleep(&nap, NULL);
	siginfo_t si;
	CHECK(sigwaitinfo(&set, &si));
	printf("overrun >= 5: %d code %d\n", si.si_overrun >= 5, si.si_code);
	printf("getoverrun matches: %d\n", timer_getoverrun(t1) == si.si_overrun);
	CHECK(timer_delete(t1));
	CHECK(timer_delete(t1));
	CHECK(timer_gettime(t1, &cur));
	/* SIGEV_NONE: only timer_gettime sees it. */
	sev.sigev_notify = SIGEV_NONE;
	timer_t t2;
	CHECK(timer_create(CLOCK_REALTIME, &sev, &t2));
	its.it_value.tv_sec = 5;
	its.it_interval.tv_nsec = 0;
	CHECK(timer_settime(t2, 0, &its, NULL));
	CHECK(timer_gettime(t2, &cur));
	printf("none armed: %d\n", cur.it_value.tv_sec == 4 || cur.it_value.tv_sec == 5);
	its.it_value.tv_nsec = 1000000000;
	CHECK(timer_settime(t2, 0, &its, NULL));
	/* SIGEV_THREAD: glibc's helper thread calls us. */
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = thread_fn;
	sev.sigev_value.sival_int = 5;
	timer_t t3;
	CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t3));
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = 10000000;
	CHECK(timer_settime(t3, 0, &its, NULL));
	for (int i = 0; i < 6000 && !thread_calls; i++) /* up to 30 s on a loaded machine */
		nanosleep(&(struct timespec){0, 5000000}, NULL);
	printf("thread callback: %d\n", thread_calls);
	CHECK(timer_create(CLOCK_MONOTONIC, NULL, &t2) == 0);
	CHECK(timer_create(12345, NULL, &t2));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = 99;
	CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t2));
	return 0;
}
