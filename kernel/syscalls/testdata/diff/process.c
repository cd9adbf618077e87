#include "common.h"
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <sys/time.h>

int main(void) {
	CHECK(getpid() == syscall(SYS_gettid));
	CHECK(getuid() == geteuid());
	CHECK(getgid() == getegid());
	uid_t r, e, s;
	CHECK(getresuid(&r, &e, &s));
	CHECK(r == e && e == s);
	CHECK(getgroups(0, NULL) >= 0);
	CHECK(setuid(getuid()));
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl));
	CHECK(getrlimit(99, &rl));
	rl.rlim_cur = 256;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	CHECK(getrlimit(RLIMIT_NOFILE, &rl));
	printf("nofile soft=%ld\n", (long)rl.rlim_cur);
	rl.rlim_cur = rl.rlim_max + 1;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	struct rlimit old;
	CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &old));
	printf("prlimit soft=%ld\n", (long)old.rlim_cur);
	CHECK(prctl(PR_SET_NAME, "renamed", 0, 0, 0));
	char name[17] = {0};
	CHECK(prctl(PR_GET_NAME, name, 0, 0, 0));
	printf("name=%s\n", name);
	CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0));
	int sig = 0;
	CHECK(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0));
	printf("pdeathsig=%d\n", sig);
	CHECK(prctl(9999, 0, 0, 0, 0));
	struct timespec ts;
	CHECK(clock_gettime(CLOCK_MONOTONIC, &ts));
	CHECK(clock_gettime(CLOCK_REALTIME, &ts));
	CHECK(clock_gettime(1234, &ts));
	CHECK(clock_getres(CLOCK_MONOTONIC, &ts));
	printf("res=%ld.%09ld\n", (long)ts.tv_sec, ts.tv_nsec);
	struct timeval tv;
	CHECK(gettimeofday(&tv, NULL));
	CHECK(time(NULL) > 1700000000);
	struct timespec req = {0, 1000000};
	CHECK(nanosleep(&req, NULL));
	req.tv_nsec = 2000000000L;
	CHECK(nanosleep(&req, NULL));
	CHECK(sched_yield());
	cpu_set_t set;
	CHECK(sched_getaffinity(0, sizeof set, &set) > 0);
	CHECK(syscall(SYS_sched_getaffinity, 0, 1, &set));
	char rnd[16];
	CHECK(getrandom(rnd, sizeof rnd, 0));
	CHECK(getrandom(rnd, sizeof rnd, 0x1000));
	CHECK(syscall(SYS_arch_prctl, 0x9999, 0));
	unsigned long fs;
	CHECK(syscall(SYS_arch_prctl, 0x1003, &fs));
	CHECK(fs != 0);
	CHECK(syscall(99999));
	CHECK(getpgrp() == getpgid(0));
	/* The session a test inherits depends on who started it (in a
	 * container its leader may be outside the PID namespace, and getsid
	 * says 0), so only relations are checked here; a child makes its own
	 * session to check the values. */
	CHECK(getsid(0) == getsid(getpid()));
	CHECK(getsid(999999));
	pid_t child = fork();
	if (child == 0) {
		pid_t me = getpid();
		int ok = setsid() == me && getsid(0) == me && getpgrp() == me;
		ok = ok && setsid() == -1 && errno == EPERM;
		ok = ok && setpgid(0, 0) == -1 && errno == EPERM;
		_exit(ok ? 0 : 1);
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child);
	printf("setsid child: exited=%d status=%d\n", WIFEXITED(status), WEXITSTATUS(status));
	CHECK(kill(getpid(), 0));
	CHECK(kill(999999, 0));
	CHECK(kill(getpid(), 99));
	CHECK(waitpid(-1, NULL, WNOHANG));
	return 0;
}
