/* prctl options and their errno rules, prlimit64 on other processes, sched_* (affinity,
 * policies, priorities, yield, rr interval), getcpu, and the set*id family's rules
 * (each caller's allowed transitions, EINVAL for -1 pairs, getres*id). Values that
 * differ between runs are shown as comparisons. */
#include "common.h"
#include <linux/capability.h>
#include <linux/prctl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <grp.h>
#include <stdint.h>
#include <sys/fsuid.h>

#ifndef PR_GET_AUXV
#define PR_GET_AUXV 0x41555856
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif

static void prctls(void) {
	char name[32] = {0};
	CHECK(prctl(PR_SET_NAME, "a-very-long-thread-name-indeed"));
	CHECK(prctl(PR_GET_NAME, name));
	printf("name=%s\n", name);
	CHECK(prctl(PR_SET_NAME, (char *)1));
	CHECK(prctl(PR_GET_NAME, (char *)1));
	CHECK(prctl(PR_SET_NAME, ""));
	CHECK(prctl(PR_GET_NAME, name));
	printf("name=[%s]\n", name);
	CHECK(prctl(PR_SET_PDEATHSIG, 65));
	CHECK(prctl(PR_SET_PDEATHSIG, -1));
	CHECK(prctl(PR_SET_PDEATHSIG, SIGUSR1));
	int sig = -1;
	CHECK(prctl(PR_GET_PDEATHSIG, &sig));
	printf("pdeathsig=%d\n", sig);
	CHECK(prctl(PR_GET_PDEATHSIG, (int *)1));
	CHECK(prctl(PR_SET_PDEATHSIG, 0));
	CHECK(prctl(PR_GET_DUMPABLE));
	CHECK(prctl(PR_SET_DUMPABLE, 2));
	CHECK(prctl(PR_SET_DUMPABLE, 3));
	CHECK(prctl(PR_SET_DUMPABLE, 0));
	CHECK(prctl(PR_GET_DUMPABLE));
	CHECK(prctl(PR_SET_DUMPABLE, 1));
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1));
	int sub = -1;
	CHECK(prctl(PR_GET_CHILD_SUBREAPER, &sub));
	printf("subreaper=%d\n", sub);
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0));
	CHECK(prctl(PR_GET_CHILD_SUBREAPER, (int *)1));
	CHECK(prctl(PR_CAPBSET_READ, CAP_CHOWN));
	CHECK(prctl(PR_CAPBSET_READ, 99));
	CHECK(prctl(PR_CAPBSET_READ, -1));
	CHECK(prctl(PR_GET_SECUREBITS));
	CHECK(prctl(PR_GET_KEEPCAPS));
	CHECK(prctl(PR_SET_KEEPCAPS, 2));
	CHECK(prctl(PR_GET_SECCOMP));
	CHECK(prctl(PR_GET_TIMERSLACK) > 0);
	uint64_t tidaddr = 1;
	CHECK(prctl(PR_GET_TID_ADDRESS, &tidaddr));
	printf("tid address set=%d\n", tidaddr != 0);
	CHECK(prctl(PR_SET_PTRACER, 0));
	CHECK(prctl(PR_SET_PTRACER, 0x3ffff0));
	CHECK(prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY));
	CHECK(prctl(PR_SET_PTRACER, 0));
	CHECK(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	CHECK(prctl(PR_GET_THP_DISABLE, 1, 0, 0, 0));
	CHECK(prctl(PR_SET_THP_DISABLE, 0, 1, 0, 0));
	CHECK(prctl(PR_MCE_KILL_GET, 0, 0, 0, 0));
	CHECK(prctl(PR_MCE_KILL_GET, 1, 0, 0, 0));
	CHECK(prctl(PR_GET_FP_MODE));
	CHECK(prctl(PR_GET_TSC, (int *)1));
	CHECK(prctl(PR_GET_ENDIAN, &sig));
	CHECK(prctl(PR_GET_FPEMU, &sig));
	CHECK(prctl(PR_GET_UNALIGN, &sig));
	CHECK(prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0, 0, 0) == 0);
	CHECK(prctl(PR_SET_MM, 99, 0, 0, 0));
	CHECK(prctl(PR_GET_SPECULATION_CTRL, 99, 0, 0, 0));
	CHECK(prctl(PR_SET_VMA, 99, 0, 0, 0));
	CHECK(prctl(PR_GET_TAGGED_ADDR_CTRL, 0, 0, 0, 0));
	CHECK(prctl(9999));
	CHECK(prctl(PR_TASK_PERF_EVENTS_DISABLE));
	CHECK(prctl(PR_TASK_PERF_EVENTS_ENABLE));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, 99, 0, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
}

static void limits(void) {
	struct rlimit rl, old;
	pid_t c = fork();
	if (c == 0) { pause(); _exit(0); }
	CHECK(prlimit(c, RLIMIT_NOFILE, NULL, &old));
	rl.rlim_cur = 100; rl.rlim_max = old.rlim_max;
	CHECK(prlimit(c, RLIMIT_NOFILE, &rl, NULL));
	CHECK(prlimit(c, RLIMIT_NOFILE, NULL, &old));
	printf("child nofile cur=%lu\n", (unsigned long)old.rlim_cur);
	CHECK(prlimit(0x3ffff0, RLIMIT_NOFILE, NULL, &old));
	CHECK(prlimit(c, 99, NULL, &old));
	rl.rlim_cur = 200; rl.rlim_max = 100;
	CHECK(prlimit(c, RLIMIT_NOFILE, &rl, NULL));
	CHECK(prlimit(c, RLIMIT_NOFILE, NULL, (void *)1));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	CHECK(getrlimit(99, &rl));
	CHECK(getrlimit(RLIMIT_NOFILE, (void *)1));
	CHECK(syscall(SYS_getrlimit, -1, &rl));
	getrlimit(RLIMIT_NICE, &rl);
	rl.rlim_cur = rl.rlim_max + 1 > rl.rlim_max ? rl.rlim_max + 1 : rl.rlim_max;
	CHECK(setrlimit(RLIMIT_NICE, &rl) < 0 ? -1 : 0);
}

static void sched(void) {
	cpu_set_t set;
	CHECK(sched_getaffinity(0, sizeof set, &set) > 0);
	CHECK(syscall(SYS_sched_getaffinity, 0, 4, &set));
	CHECK(syscall(SYS_sched_getaffinity, 0, 7, &set));
	CHECK(syscall(SYS_sched_getaffinity, 0, 8, &set));
	CHECK(syscall(SYS_sched_getaffinity, 0x3ffff0, 8, &set));
	CHECK(syscall(SYS_sched_getaffinity, 0, 8, (void *)1));
	cpu_set_t empty;
	CPU_ZERO(&empty);
	CHECK(sched_setaffinity(0, sizeof empty, &empty));
	sched_getaffinity(0, sizeof set, &set);
	CHECK(sched_setaffinity(0, sizeof set, &set));
	CHECK(sched_setaffinity(0x3ffff0, sizeof set, &set));
	CHECK(sched_getscheduler(0));
	CHECK(sched_getscheduler(-1));
	CHECK(sched_getscheduler(0x3ffff0));
	struct sched_param sp = {0};
	CHECK(sched_getparam(0, &sp));
	printf("priority=%d\n", sp.sched_priority);
	CHECK(sched_getparam(-1, &sp));
	CHECK(sched_getparam(0, NULL));
	CHECK(sched_get_priority_max(SCHED_FIFO));
	CHECK(sched_get_priority_min(SCHED_FIFO));
	CHECK(sched_get_priority_max(SCHED_OTHER));
	CHECK(sched_get_priority_max(SCHED_BATCH));
	CHECK(sched_get_priority_max(SCHED_IDLE));
	CHECK(sched_get_priority_max(99));
	CHECK(sched_get_priority_min(99));
	sp.sched_priority = 5;
	CHECK(sched_setscheduler(0, SCHED_OTHER, &sp));
	sp.sched_priority = 0;
	CHECK(sched_setscheduler(0, 99, &sp));
	CHECK(sched_setscheduler(0, SCHED_OTHER, NULL));
	CHECK(sched_setscheduler(-1, SCHED_OTHER, &sp));
	CHECK(sched_setscheduler(0, SCHED_BATCH, &sp));
	CHECK(sched_getscheduler(0));
	CHECK(sched_setscheduler(0, SCHED_IDLE, &sp));
	CHECK(sched_getscheduler(0));
	/* back from SCHED_IDLE needs privilege unless RLIMIT_NICE allows it */
	CHECK(sched_setscheduler(0, SCHED_OTHER, &sp) < 0 ? -1 : 0);
	sp.sched_priority = 0;
	CHECK(sched_setparam(0, &sp) < 0 ? -1 : 0);
	CHECK(sched_setparam(0, NULL));
	sp.sched_priority = 50;
	CHECK(sched_setparam(0, &sp));
	struct timespec ts;
	CHECK(sched_rr_get_interval(0, &ts));
	CHECK(sched_rr_get_interval(0x3ffff0, &ts));
	CHECK(sched_rr_get_interval(-1, &ts));
	CHECK(sched_yield());
	unsigned cpu = 99, node = 99;
	CHECK(syscall(SYS_getcpu, &cpu, &node, NULL));
	printf("cpu in affinity=%d node=%u\n", CPU_ISSET(cpu, &set), node);
	CHECK(syscall(SYS_getcpu, NULL, NULL, NULL));
	CHECK(syscall(SYS_getcpu, (void *)1, NULL, NULL));
	/* nice */
	errno = 0;
	int n0 = getpriority(PRIO_PROCESS, 0);
	printf("nice=%d\n", n0);
	CHECK(setpriority(PRIO_PROCESS, 0, n0 + 1));
	CHECK(getpriority(PRIO_PROCESS, 0) == n0 + 1);
	CHECK(setpriority(PRIO_PROCESS, 0, n0) < 0 ? -1 : 0);
	CHECK(setpriority(99, 0, 0));
	CHECK(getpriority(99, 0));
	CHECK(setpriority(PRIO_PROCESS, 0x3ffff0, 0));
	CHECK(setpriority(PRIO_PROCESS, 0, 100) < 0 ? -1 : 0);
	printf("clamped to 19=%d\n", getpriority(PRIO_PROCESS, 0) == 19);
	CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0));
}

static void ids(void) {
	uid_t r, e, s;
	CHECK(getresuid(&r, &e, &s));
	CHECK(getresuid((uid_t *)1, &e, &s));
	CHECK(getresgid(NULL, NULL, NULL));
	CHECK(setresuid(-1, -1, -1));
	CHECK(setresgid(-1, -1, -1));
	CHECK(setuid(-1));
	CHECK(setgid(-1));
	CHECK(setreuid(-1, -1));
	/* an ordinary user may only shuffle its own ids */
	pid_t c = fork();
	if (c == 0) {
		if (getuid() == 0) { setgroups(0, NULL); setresgid(65534, 65534, 65534); setresuid(65534, 65534, 65534); }
		printf("child: setuid(0)=%s", setuid(0) ? errname(errno) : "OK");
		printf(" setresuid(65534,-1,-1)=%s", setresuid(65534, -1, -1) ? errname(errno) : "OK");
		printf(" setreuid(-1,0)=%s", setreuid(-1, 0) ? errname(errno) : "OK");
		printf(" setgroups=%s", setgroups(0, NULL) ? errname(errno) : "OK");
		printf(" setfsuid(0) old ok=%d", setfsuid(0) == 65534);
		printf(" fsuid now=%d\n", setfsuid(-1) == 65534);
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	if (getuid() == 0) {
		c = fork();
		if (c == 0) {
			/* root: set saved to 1000, drop effective, regain through saved */
			setresuid(0, 1000, 0);
			printf("root child: euid=%d", geteuid());
			printf(" seteuid(0)=%s", seteuid(0) ? errname(errno) : "OK");
			printf(" setresuid(1000,1000,1000)=%s", setresuid(1000, 1000, 1000) ? errname(errno) : "OK");
			printf(" seteuid(0)=%s\n", seteuid(0) ? errname(errno) : "OK");
			fflush(stdout);
			_exit(0);
		}
		waitpid(c, NULL, 0);
	} else {
		printf("root child: (not root)\n");
	}
	CHECK(setgroups(65537, NULL));
	CHECK(getgroups(-1, NULL));
	CHECK(getgroups(0, NULL) >= 0);
	gid_t g[1];
	CHECK(getgroups(1, (gid_t *)1) < 0 ? -1 : 0);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	prctls();
	limits();
	sched();
	ids();
	return 0;
}
