#include "common.h"
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <fcntl.h>

/* Scheduling, priorities, limits through the raw syscalls, and ITIMER_REAL/alarm. */

static volatile int alarms;
static void on_alarm(int sig) { alarms++; }

int main(void) {
	struct rlimit rl = {128, 256};
	CHECK(syscall(SYS_setrlimit, RLIMIT_NOFILE, &rl));
	CHECK(getrlimit(RLIMIT_NOFILE, &rl));
	printf("nofile %ld %ld\n", (long)rl.rlim_cur, (long)rl.rlim_max);
	rl.rlim_cur = 512;
	CHECK(syscall(SYS_setrlimit, RLIMIT_NOFILE, &rl));
	CHECK(syscall(SYS_setrlimit, 99, &rl));
	CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0));
	CHECK(setpriority(PRIO_PROCESS, 0, 5));
	CHECK(getpriority(PRIO_PROCESS, 0));
	CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0));
	CHECK(setpriority(PRIO_PROCESS, 0, 50));
	CHECK(getpriority(PRIO_PROCESS, 0));
	CHECK(getpriority(PRIO_PROCESS, 999999));
	CHECK(getpriority(42, 0));
	CHECK(sched_getscheduler(0));
	CHECK(sched_getscheduler(-1));
	CHECK(sched_getscheduler(999999));
	struct sched_param sp = {0};
	CHECK(sched_getparam(0, &sp));
	printf("prio %d\n", sp.sched_priority);
	CHECK(sched_setscheduler(0, SCHED_OTHER, &sp));
	CHECK(sched_setscheduler(0, SCHED_BATCH, &sp));
	CHECK(sched_setscheduler(0, 42, &sp));
	sp.sched_priority = 5;
	CHECK(sched_setscheduler(0, SCHED_OTHER, &sp));
	CHECK(sched_setparam(0, &sp));
	CHECK(sched_get_priority_max(SCHED_FIFO));
	CHECK(sched_get_priority_min(SCHED_RR));
	CHECK(sched_get_priority_max(SCHED_OTHER));
	CHECK(sched_get_priority_min(77));
	CHECK(syscall(SYS_membarrier, 99, 0, 0));
	int fd = open("/etc/hostname", O_RDONLY);
	CHECK(readahead(fd, 0, 4096));
	CHECK(readahead(999, 0, 4096));
	CHECK(sync_file_range(fd, 0, 0, 0));
	CHECK(sync_file_range(fd, -1, 0, 0));
	CHECK(sync_file_range(fd, 0, 0, 99));
	int p[2];
	pipe(p);
	CHECK(readahead(p[0], 0, 10));
	CHECK(sync_file_range(p[1], 0, 0, 0));
	/* ITIMER_REAL and alarm */
	signal(SIGALRM, on_alarm);
	struct itimerval it = {{0, 20000}, {0, 20000}}, old;
	CHECK(setitimer(ITIMER_REAL, &it, NULL));
	CHECK(getitimer(ITIMER_REAL, &old));
	printf("interval %ld\n", (long)old.it_interval.tv_usec);
	sigset_t alrm, orig;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, &orig);
	while (alarms < 3)
		sigsuspend(&orig); /* (pause() could miss an alarm landing between test and call) */
	sigprocmask(SIG_SETMASK, &orig, NULL);
	/* Between an expiry and the signal's delivery Linux shows the periodic timer as
	 * disarmed: the old value is checked on a timer whose next expiry is far off. */
	it.it_value.tv_sec = 5;
	CHECK(setitimer(ITIMER_REAL, &it, NULL));
	it.it_value.tv_sec = 0;
	it.it_value.tv_usec = 0;
	CHECK(setitimer(ITIMER_REAL, &it, &old));
	printf("was interval %ld, armed %d\n", (long)old.it_interval.tv_usec, old.it_value.tv_sec > 0);
	CHECK(getitimer(ITIMER_REAL, &old));
	printf("now %ld %ld\n", (long)old.it_value.tv_sec, (long)old.it_value.tv_usec);
	CHECK(setitimer(9, &it, NULL));
	it.it_value.tv_usec = 2000000;
	CHECK(setitimer(ITIMER_REAL, &it, NULL));
	it.it_value.tv_usec = 0;
	it.it_value.tv_sec = 7;
	CHECK(setitimer(ITIMER_REAL, &it, NULL));
	CHECK(alarm(5));
	CHECK(alarm(0));
	CHECK(alarm(0));
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	alarms = 0;
	CHECK(alarm(1));
	while (alarms == 0)
		sigsuspend(&orig);
	printf("alarm fired %d\n", alarms);
	return 0;
}
