/* POSIX timers on CPU-time clocks (the process's, the thread's, another thread's and
 * another process's): firing as the clock runs and not while it sleeps, SIGEV_SIGNAL,
 * SIGEV_THREAD_ID and SIGEV_NONE, intervals, overruns while the signal is blocked,
 * TIMER_ABSTIME, timer_gettime, the errors, and clock_nanosleep on CPU-time clocks.
 * Only what happened is printed, never how long it took. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#define MS 1000000LL
static volatile int fired1, fired2, overrun, tid_ok, stop_spin;
static timer_t tover;
static void h1(int s) { fired1++; }
static void h2(int s, siginfo_t *si, void *uc) {
	if (++fired2 == 1)
		overrun = timer_getoverrun(tover);
	tid_ok = si->si_code == SI_TIMER;
}

static long long now(clockid_t c) {
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static void spin_until(clockid_t c, long long t) { while (now(c) < t) ; }
static struct itimerspec its(long long value, long long interval) {
	struct itimerspec it = {{interval / 1000000000, interval % 1000000000}, {value / 1000000000, value % 1000000000}};
	return it;
}
static void *spinner(void *a) { while (!stop_spin) ; return NULL; }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	alarm(60); /* a timer that never fires ends the run (with a different output) */
	signal(SIGUSR1, h1);
	struct sigaction sa = {0};
	sa.sa_sigaction = h2;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR2, &sa, NULL);
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	timer_t t;
	struct itimerspec it, old;

	/* the process clock: one-shot, not while sleeping, then while running */
	CHECK(timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t));
	it = its(50 * MS, 0);
	CHECK(timer_settime(t, 0, &it, NULL));
	CHECK(timer_gettime(t, &old));
	printf("  armed %d interval %ld\n", old.it_value.tv_sec == 0 && old.it_value.tv_nsec > 0 && old.it_value.tv_nsec <= 50 * MS, old.it_interval.tv_nsec);
	usleep(200000);
	printf("  fired while sleeping %d\n", fired1);
	while (!fired1) ;
	printf("  fired %d\n", fired1);
	CHECK(timer_gettime(t, &old));
	printf("  after %ld %ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec);
	/* TIMER_ABSTIME: a mark ahead, and one already passed */
	fired1 = 0;
	it = its(now(CLOCK_PROCESS_CPUTIME_ID) + 30 * MS, 0);
	CHECK(timer_settime(t, TIMER_ABSTIME, &it, NULL));
	while (!fired1) ;
	printf("  abs fired %d at or after the mark %d\n", fired1, now(CLOCK_PROCESS_CPUTIME_ID) >= it.it_value.tv_sec * 1000000000LL + it.it_value.tv_nsec);
	fired1 = 0;
	it = its(1, 0);
	CHECK(timer_settime(t, TIMER_ABSTIME, &it, NULL));
	while (!fired1) ;
	printf("  past mark fired %d\n", fired1);
	CHECK(timer_delete(t));

	/* the thread's own clock, periodic, to the thread itself */
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGUSR2;
	ev._sigev_un._tid = gettid();
	clockid_t self;
	CHECK(pthread_getcpuclockid(pthread_self(), &self));
	CHECK(timer_create(self, &ev, &tover));
	it = its(10 * MS, 10 * MS);
	CHECK(timer_settime(tover, 0, &it, NULL));
	while (fired2 < 3) ;
	printf("  periodic >=3 %d si_timer %d\n", fired2 >= 3, tid_ok);
	/* overruns while the signal is blocked */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fired2 = 0;
	CHECK(timer_settime(tover, 0, &it, NULL));
	spin_until(self, now(self) + 150 * MS);
	printf("  blocked fired %d\n", fired2);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	printf("  unblocked fired %d overrun>=1 %d\n", fired2 >= 1, overrun >= 1);
	it = its(0, 0);
	CHECK(timer_settime(tover, 0, &it, &old));
	printf("  old interval %ld\n", old.it_interval.tv_nsec);
	CHECK(timer_delete(tover));

	/* SIGEV_NONE: nothing is sent, timer_gettime tells what is left */
	ev.sigev_notify = SIGEV_NONE;
	CHECK(timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t));
	it = its(1000 * MS, 1000 * MS);
	CHECK(timer_settime(t, 0, &it, NULL));
	CHECK(timer_gettime(t, &old));
	printf("  none left %d interval %ld\n", old.it_value.tv_sec * 1000000000LL + old.it_value.tv_nsec <= 1000 * MS, (long)old.it_interval.tv_sec);
	it = its(0, 0);
	CHECK(timer_settime(t, 0, &it, &old));
	printf("  none old set %d\n", old.it_value.tv_sec > 0 || old.it_value.tv_nsec > 0);
	CHECK(timer_gettime(t, &old));
	printf("  none disarmed %ld %ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec);
	CHECK(timer_delete(t));

	/* another thread's clock: it runs while this thread sleeps */
	pthread_t th;
	pthread_create(&th, NULL, spinner, NULL);
	clockid_t other;
	CHECK(pthread_getcpuclockid(th, &other));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	fired1 = 0;
	CHECK(timer_create(other, &ev, &t));
	it = its(30 * MS, 0);
	CHECK(timer_settime(t, 0, &it, NULL));
	while (!fired1) usleep(1000);
	printf("  other thread's clock fired %d\n", fired1);
	CHECK(timer_delete(t));
	/* clock_nanosleep: a process clock and another thread's run; the caller's own thread
	 * clock never would */
	struct timespec ts = {0, 30 * MS};
	long long p0 = now(CLOCK_PROCESS_CPUTIME_ID);
	printf("  nanosleep process %d\n", clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &ts, NULL));
	printf("  process clock passed %d\n", now(CLOCK_PROCESS_CPUTIME_ID) - p0 >= 30 * MS);
	long long o0 = now(other);
	printf("  nanosleep other thread %d\n", clock_nanosleep(other, 0, &ts, NULL));
	printf("  thread clock passed %d\n", now(other) - o0 >= 30 * MS);
	ts.tv_sec = (now(CLOCK_PROCESS_CPUTIME_ID) + 20 * MS) / 1000000000;
	ts.tv_nsec = (now(CLOCK_PROCESS_CPUTIME_ID) + 20 * MS) % 1000000000;
	printf("  nanosleep abs %d\n", clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &ts, NULL));
	ts.tv_sec = 0;
	ts.tv_nsec = 10 * MS;
	printf("  nanosleep own thread clock %s\n", errname(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ts, NULL)));
	printf("  nanosleep own thread clock by id %s\n", errname(clock_nanosleep(self, 0, &ts, NULL)));
	ts.tv_nsec = 1000000000;
	printf("  nanosleep bad time %s\n", errname(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &ts, NULL)));
	/* a process clock named by a thread that is not the process: none */
	pid_t spintid = 0;
	{
		/* the encoding of pthread_getcpuclockid: ~tid << 3 | 4 (thread) | 2 (sched) */
		spintid = ~(other >> 3);
		clockid_t asproc = (~spintid << 3) | 2;
		CHECK(timer_create(asproc, &ev, &t));
		CHECK(clock_gettime(asproc, &ts));
		clockid_t ownasproc = (~gettid() << 3) | 2;
		CHECK(clock_gettime(ownasproc, &ts));
		clockid_t fdclock = (~0 << 3) | 3;
		CHECK(timer_create(fdclock, &ev, &t));
	}
	stop_spin = 1;
	pthread_join(th, NULL);
	/* a signal ends a sleep on the process clock early, with the CPU time still to run */
	fired1 = 0;
	CHECK(timer_create(CLOCK_MONOTONIC, &ev, &t));
	it = its(50 * MS, 0);
	CHECK(timer_settime(t, 0, &it, NULL));
	struct timespec rem = {0, 0};
	ts.tv_sec = 100;
	ts.tv_nsec = 0;
	int r = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &ts, &rem);
	printf("  nanosleep interrupted %s fired %d\n", errname(r), fired1);
	printf("  rem %d\n", rem.tv_sec > 90 && rem.tv_sec < 100);
	CHECK(timer_delete(t));

	/* another process's clock */
	pid_t child = fork();
	if (child == 0) {
		for (;;) ;
	}
	clockid_t cc;
	printf("  getcpuclockid child %d\n", clock_getcpuclockid(child, &cc));
	fired1 = 0;
	CHECK(timer_create(cc, &ev, &t));
	it = its(30 * MS, 0);
	CHECK(timer_settime(t, 0, &it, NULL));
	while (!fired1) usleep(1000);
	printf("  child's clock fired %d\n", fired1);
	CHECK(timer_delete(t));
	/* a thread clock of another process's thread: none */
	clockid_t childthread = (~child << 3) | 4 | 2;
	CHECK(timer_create(childthread, &ev, &t));
	CHECK(clock_gettime(childthread, &ts));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* a reaped process has no clock */
	printf("  getcpuclockid reaped %s\n", errname(clock_getcpuclockid(child, &cc)));
	CHECK(timer_create(cc, &ev, &t));
	CHECK(clock_gettime(cc, &ts));
	CHECK(clock_getres(cc, &ts));
	printf("  nanosleep reaped %s\n", errname(clock_nanosleep(cc, 0, &ts, NULL)));
	CHECK(clock_getres(CLOCK_PROCESS_CPUTIME_ID, &ts));
	printf("  res %ld\n", ts.tv_nsec);
	return 0;
}
