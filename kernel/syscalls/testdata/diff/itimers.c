/* The CPU-time interval timers: ITIMER_VIRTUAL (user time, SIGVTALRM) and ITIMER_PROF
 * (user and system time, SIGPROF): arming, firing while the process computes, not while
 * it sleeps, the interval a disarmed timer keeps, errno paths, none in a fork. */
#include "common.h"
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
static volatile int vt, prof;
static void h(int s) { if (s == SIGVTALRM) vt++; else prof++; }
int main() {
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGVTALRM, h); signal(SIGPROF, h);
	struct itimerval it = {{0, 0}, {0, 50000}}, old;
	CHECK(setitimer(ITIMER_VIRTUAL, &it, NULL));
	CHECK(getitimer(ITIMER_VIRTUAL, &old));
	printf("  armed %d interval %ld\n", old.it_value.tv_sec == 0 && old.it_value.tv_usec > 0, old.it_interval.tv_usec);
	while (!vt) ;
	printf("  vt %d\n", vt);
	CHECK(getitimer(ITIMER_VIRTUAL, &old));
	printf("  disarmed %ld %ld\n", old.it_value.tv_sec, old.it_value.tv_usec);
	it.it_interval.tv_usec = 20000; it.it_value.tv_usec = 20000;
	CHECK(setitimer(ITIMER_PROF, &it, NULL));
	while (prof < 3) ;
	printf("  prof>=3 %d\n", prof >= 3);
	it.it_value.tv_usec = 0;
	CHECK(setitimer(ITIMER_PROF, &it, &old));
	printf("  old interval %ld\n", old.it_interval.tv_usec);
	CHECK(getitimer(ITIMER_PROF, &old));
	printf("  %ld %ld\n", old.it_value.tv_usec, old.it_interval.tv_usec);
	it.it_value.tv_usec = 1000000;
	CHECK(setitimer(ITIMER_VIRTUAL, &it, NULL));
	it.it_value.tv_usec = -1;
	CHECK(setitimer(ITIMER_PROF, &it, NULL));
	CHECK(setitimer(5, &it, NULL));
	CHECK(getitimer(5, &old));
	CHECK(getitimer(ITIMER_PROF, NULL));
	/* sleeping uses no CPU: a virtual timer does not run out meanwhile */
	it.it_value.tv_sec = 0; it.it_value.tv_usec = 100000; it.it_interval.tv_usec = 0;
	vt = 0;
	CHECK(setitimer(ITIMER_VIRTUAL, &it, NULL));
	usleep(300000);
	printf("  vt while sleeping %d\n", vt);
	CHECK(getitimer(ITIMER_VIRTUAL, &old));
	printf("  still armed %d\n", old.it_value.tv_usec > 0);
	/* a fork's child has no timers */
	if (fork() == 0) { CHECK(getitimer(ITIMER_VIRTUAL, &old)); printf("  child %ld\n", old.it_value.tv_usec); _exit(0); }
	wait(NULL);
	it.it_value.tv_usec = 0;
	CHECK(setitimer(ITIMER_VIRTUAL, &it, NULL));
	return 0;
}
