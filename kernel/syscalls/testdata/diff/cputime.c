#include "common.h"
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

/* (User and system are added up: how a sandbox splits the two depends on load.)
 * CPU time: a busy loop shows up in CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
 * getrusage, times and clock; a child's in RUSAGE_CHILDREN and wait4's rusage. Values
 * differ from run to run, so only their relations are printed. */

static double secs(struct timeval tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

static void burn(double s) {
	struct timespec a, b;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	volatile unsigned long x = 0;
	do {
		for (int i = 0; i < 1000000; i++)
			x += i;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	} while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < s);
}

int main(void) {
	struct timespec p0, p1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p0);
	burn(0.2);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &p1);
	double d = (p1.tv_sec - p0.tv_sec) + (p1.tv_nsec - p0.tv_nsec) / 1e9;
	printf("process clock advanced >= 0.2s: %d, < 5s: %d\n", d >= 0.2, d < 5);
	struct rusage ru;
	CHECK(getrusage(RUSAGE_SELF, &ru));
	printf("rusage user+sys >= 0.15s: %d\n", secs(ru.ru_utime) + secs(ru.ru_stime) >= 0.15);
	printf("clock() >= 0.15s: %d\n", clock() >= 0.15 * CLOCKS_PER_SEC);
	struct tms t;
	times(&t);
	printf("times utime+stime >= 15 ticks: %d\n", t.tms_utime + t.tms_stime >= 15);
	pid_t c = fork();
	if (c == 0) {
		burn(0.2);
		_exit(0);
	}
	int st;
	struct rusage cru;
	CHECK(wait4(c, &st, 0, &cru) == c);
	printf("wait4 rusage user+sys >= 0.15s: %d\n", secs(cru.ru_utime) + secs(cru.ru_stime) >= 0.15);
	CHECK(getrusage(RUSAGE_CHILDREN, &ru));
	printf("children user+sys >= 0.15s: %d\n", secs(ru.ru_utime) + secs(ru.ru_stime) >= 0.15);
	CHECK(getrusage(99, &ru));
	return 0;
}
