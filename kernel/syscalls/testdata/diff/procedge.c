/* Process-management edges: setpgid/setsid/getpgid/getsid errno rules, the wait family
 * (waitid WNOWAIT/WEXITED/WSTOPPED/WCONTINUED, siginfo fields, WNOHANG, bad options and
 * ids), rlimits (RLIMIT_NOFILE gives EMFILE, RLIMIT_FSIZE gives SIGXFSZ then EFBIG, bad
 * limits), prctl options (names, child subreaper, dumpable, keep caps, timer slack, THP,
 * bad options) and getrandom flags. PIDs are shown only as comparisons. */
#include "common.h"
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/falloc.h>

static void groups(void) {
	pid_t me = getpid();
	CHECK(getpgid(0) == getpgrp());
	CHECK(getpgid(-1));
	CHECK(getpgid(0x3ffff0));
	CHECK(getsid(0x3ffff0));
	CHECK(getsid(0) == getsid(me));
	CHECK(setpgid(-1, 0));
	CHECK(setpgid(0, -1));
	CHECK(setpgid(0x3ffff0, 0));
	int p[2], q[2];
	pipe(p);
	pipe(q);
	pid_t c = fork();
	if (c == 0) {
		char b;
		/* a child: a new session, then a session leader can not change group */
		pid_t s = setsid();
		printf("  child setsid %s\n", s < 0 ? errname(errno) : "ok");
		printf("  child sid==pid %d pgid==pid %d\n", getsid(0) == getpid(), getpgrp() == getpid());
		pid_t r = setsid();
		printf("  child setsid again %s\n", r < 0 ? errname(errno) : "ok");
		r = setpgid(0, 0);
		printf("  child setpgid after setsid %s\n", r < 0 ? errname(errno) : "ok");
		write(q[1], "r", 1);
		read(p[0], &b, 1);
		_exit(0);
	}
	char b;
	read(q[0], &b, 1);
	close(q[0]); close(q[1]);
	/* the child is in another session now: the parent can not move it */
	CHECK(setpgid(c, c));
	CHECK(setpgid(c, getpgrp()));
	CHECK(getsid(c) == c);
	write(p[1], "g", 1);
	waitpid(c, NULL, 0);
	/* a process group leader can not setsid */
	c = fork();
	if (c == 0) {
		setpgid(0, 0);
		pid_t r = setsid();
		printf("  leader setsid %s\n", r < 0 ? errname(errno) : "ok");
		_exit(0);
	}
	waitpid(c, NULL, 0);
	/* the parent moves a child into a group of its own, then back */
	pipe(q);
	c = fork();
	if (c == 0) { char b; close(q[1]); read(q[0], &b, 1); _exit(0); }
	close(q[0]);
	CHECK(setpgid(c, 0));
	CHECK(getpgid(c) == c);
	CHECK(setpgid(c, getpgrp()));
	CHECK(getpgid(c) == getpgrp());
	close(q[1]);
	waitpid(c, NULL, 0);
	/* a child that has exec'd can not be moved (EACCES) */
	c = fork();
	if (c == 0) {
		close(p[1]);
		dup2(p[0], 0);
		execl("/bin/cat", "cat", (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	for (int i = 0; i < 200; i++) {
		char path[64], exe[256];
		snprintf(path, sizeof path, "/proc/%d/exe", c);
		ssize_t n = readlink(path, exe, sizeof exe - 1);
		if (n > 0 && (exe[n] = 0, strstr(exe, "cat"))) break;
		usleep(10000);
	}
	CHECK(setpgid(c, c));
	close(p[1]);
	waitpid(c, NULL, 0);
}

static void waits(void) {
	siginfo_t si;
	CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG));
	CHECK(waitid(P_ALL, 0, &si, 0));
	CHECK(waitid(7, 0, &si, WEXITED));
	CHECK(waitid(P_PID, 0x3ffff0, &si, WEXITED));
	CHECK(waitid(P_PID, getpid(), &si, WEXITED | 0x100000));
	CHECK(waitpid(-1, NULL, 0));
	CHECK(waitpid(-1, NULL, 0x100000));
	CHECK(wait4(-1, NULL, WNOHANG, NULL));
	pid_t c = fork();
	if (c == 0) _exit(7);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, c, &si, WEXITED | WNOWAIT));
	printf("  signo %d code %d status %d pid-ok %d uid-ok %d\n", si.si_signo, si.si_code, si.si_status, si.si_pid == c, si.si_uid == getuid());
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, c, &si, WEXITED));
	printf("  again code %d status %d\n", si.si_code, si.si_status);
	CHECK(waitid(P_PID, c, &si, WEXITED));
	/* WNOHANG with a running child: 0 and si_pid 0 */
	int p[2];
	pipe(p);
	c = fork();
	if (c == 0) { char b; close(p[1]); read(p[0], &b, 1); _exit(0); }
	close(p[0]);
	si.si_pid = 12345;
	CHECK(waitid(P_PID, c, &si, WEXITED | WNOHANG));
	printf("  si_pid %d\n", si.si_pid);
	CHECK(waitpid(c, NULL, WNOHANG));
	/* stop and continue, seen by WSTOPPED and WCONTINUED */
	kill(c, SIGSTOP);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, c, &si, WSTOPPED));
	printf("  stopped code %d status %d\n", si.si_code, si.si_status);
	CHECK(waitid(P_PID, c, &si, WSTOPPED | WNOHANG));
	printf("  consumed si_pid %d\n", si.si_pid != 0);
	kill(c, SIGCONT);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, c, &si, WCONTINUED));
	printf("  continued code %d status %d\n", si.si_code, si.si_status);
	int st;
	kill(c, SIGSTOP);
	CHECK(waitpid(c, &st, WUNTRACED) == c);
	printf("  WIFSTOPPED %d sig %d\n", WIFSTOPPED(st), WSTOPSIG(st));
	kill(c, SIGCONT);
	CHECK(waitpid(c, &st, WCONTINUED) == c);
	printf("  WIFCONTINUED %d\n", WIFCONTINUED(st));
	kill(c, SIGTERM);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PGID, 0, &si, WEXITED));
	printf("  killed code %d status %d\n", si.si_code, si.si_status);
	close(p[1]);
	/* a child killed by a core-dumping signal with no core limit */
	struct rlimit rl = {0, 0};
	c = fork();
	if (c == 0) { setrlimit(RLIMIT_CORE, &rl); abort(); }
	CHECK(waitpid(c, &st, 0) == c);
	printf("  aborted sig %d\n", WTERMSIG(st));
	/* waiting on a grandchild is ECHILD */
	c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) _exit(0);
		pid_t r = waitpid(getppid(), NULL, WNOHANG);
		printf("  wait parent %s\n", r < 0 ? errname(errno) : "ok");
		waitpid(g, NULL, 0);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	/* SIGCHLD ignored: children are reaped at once and wait says ECHILD */
	signal(SIGCHLD, SIG_IGN);
	c = fork();
	if (c == 0) _exit(0);
	CHECK(waitpid(c, NULL, 0));
	signal(SIGCHLD, SIG_DFL);
}

static volatile sig_atomic_t xfsz;
static void onxfsz(int s) { xfsz = s; }

static void limits(void) {
	struct rlimit rl, old;
	CHECK(getrlimit(RLIMIT_NOFILE, &old));
	rl.rlim_cur = 10; rl.rlim_max = old.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	int last = -1, err = 0;
	for (int i = 0; i < 20; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) { err = errno; break; }
		last = fd;
	}
	printf("  last fd %d err %s\n", last, errname(err));
	CHECK(dup2(0, 10));
	CHECK(dup2(0, 9) >= 0);
	CHECK(fcntl(0, F_DUPFD, 10));
	CHECK(fcntl(0, F_DUPFD, 3));
	int p[2];
	CHECK(pipe(p));
	for (int i = 3; i <= last; i++) close(i);
	close(9);
	CHECK(setrlimit(RLIMIT_NOFILE, &old));
	rl.rlim_cur = 5; rl.rlim_max = 4;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	rl.rlim_cur = old.rlim_max + 1; rl.rlim_max = old.rlim_max + 1;
	if (getuid() != 0) CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	CHECK(setrlimit(99, &old));
	CHECK(getrlimit(99, &rl));
	CHECK(getrlimit(RLIMIT_NOFILE, NULL));
	CHECK(prlimit(0x3ffff0, RLIMIT_NOFILE, NULL, &rl));
	/* RLIMIT_FSIZE: writing past it raises SIGXFSZ (ignored here), then EFBIG */
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/sbxdiff-fsize-%d", getpid());
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	unlink(path);
	signal(SIGXFSZ, onxfsz);
	/* (stdout may be a file: the results are printed once the limit is lifted) */
	CHECK(getrlimit(RLIMIT_FSIZE, &old));
	rl.rlim_cur = 100; rl.rlim_max = old.rlim_max;
	static char buf[200];
	long r[12]; int e[12], x[12], k = 0;
#define REC(expr) do { errno = 0; r[k] = (long)(expr); e[k] = errno; x[k] = xfsz; xfsz = 0; k++; } while (0)
	REC(setrlimit(RLIMIT_FSIZE, &rl));
	REC(write(fd, buf, 60));
	REC(write(fd, buf, 60));
	REC(write(fd, buf, 10));
	REC(pwrite(fd, buf, 1, 100));
	REC(pwrite(fd, buf, 1, 99));
	REC(ftruncate(fd, 101));
	REC(ftruncate(fd, 50));
	REC(fallocate(fd, 0, 0, 200));
	REC(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 200));
	REC(write(fd, buf, 0));
	signal(SIGXFSZ, SIG_DFL);
	REC(setrlimit(RLIMIT_FSIZE, &old));
	for (int i = 0; i < k; i++)
		printf("  fsize step %d = %ld %s xfsz %d\n", i, r[i] < 0 ? -1L : r[i], r[i] < 0 ? errname(e[i]) : "OK", x[i]);
	close(fd);
	/* without a handler SIGXFSZ kills (and would dump core) */
	pid_t c = fork();
	if (c == 0) {
		struct rlimit z = {0, 0};
		setrlimit(RLIMIT_CORE, &z);
		rl.rlim_cur = 10;
		setrlimit(RLIMIT_FSIZE, &rl);
		int f = open("/dev/shm", O_TMPFILE | O_RDWR, 0600);
		if (f < 0) { snprintf(path, sizeof path, "/dev/shm/sbxdiff-fsize2-%d", getpid()); f = open(path, O_CREAT | O_RDWR, 0600); unlink(path); }
		write(f, buf, 20);
		write(f, buf, 20);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	printf("  child signalled %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));
}

static void prctls(void) {
	char name[32];
	CHECK(prctl(PR_SET_NAME, "abcdefghijklmnopqrstuvwxyz"));
	CHECK(prctl(PR_GET_NAME, name));
	printf("  name %s\n", name);
	CHECK(prctl(PR_SET_NAME, NULL));
	CHECK(prctl(PR_GET_DUMPABLE));
	CHECK(prctl(PR_SET_DUMPABLE, 2));
	CHECK(prctl(PR_SET_DUMPABLE, 0));
	CHECK(prctl(PR_GET_DUMPABLE));
	CHECK(prctl(PR_SET_DUMPABLE, 1));
	int v = -1;
	CHECK(prctl(PR_GET_CHILD_SUBREAPER, &v));
	printf("  subreaper %d\n", v);
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1));
	CHECK(prctl(PR_GET_CHILD_SUBREAPER, &v));
	printf("  subreaper %d\n", v);
	/* an orphaned grandchild is reparented to the subreaper */
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) { char b; close(p[1]); read(p[0], &b, 1); _exit(3); }
		_exit(0);
	}
	waitpid(c, NULL, 0);
	close(p[0]);
	close(p[1]);
	int st;
	pid_t r = wait(&st);
	printf("  reaped grandchild %d status %d\n", r > 0 && r != c, WEXITSTATUS(st));
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0));
	CHECK(prctl(PR_GET_KEEPCAPS));
	CHECK(prctl(PR_SET_KEEPCAPS, 2));
	CHECK(prctl(PR_GET_TIMERSLACK) > 0);
	CHECK(prctl(PR_GET_SECCOMP));
	CHECK(prctl(PR_SET_PDEATHSIG, 65));
	CHECK(prctl(PR_GET_PDEATHSIG, NULL));
	CHECK(prctl(PR_CAPBSET_READ, 0) >= 0);
	CHECK(prctl(PR_CAPBSET_READ, 1000));
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
	CHECK(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0));
	CHECK(prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0));
	CHECK(prctl(PR_GET_TSC, &v));
	CHECK(prctl(PR_GET_TIMING));
	CHECK(prctl(PR_GET_ENDIAN, &v));
	CHECK(prctl(PR_MCE_KILL_GET, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_TIMERSLACK, 1000));
	CHECK(prctl(PR_GET_TIMERSLACK));
	CHECK(prctl(PR_SET_KEEPCAPS, 1));
	CHECK(prctl(PR_GET_KEEPCAPS));
	CHECK(prctl(PR_SET_KEEPCAPS, 0));

	/* getrandom */
	unsigned char rb[64];
	CHECK(getrandom(rb, sizeof rb, 0));
	CHECK(getrandom(rb, sizeof rb, GRND_NONBLOCK | GRND_RANDOM));
	CHECK(getrandom(rb, sizeof rb, GRND_INSECURE));
	CHECK(getrandom(rb, sizeof rb, GRND_INSECURE | GRND_RANDOM));
	CHECK(getrandom(rb, sizeof rb, 0x40));
	CHECK(getrandom(rb, 0, 0));
	CHECK(getrandom(NULL, 8, 0));
	CHECK(getrandom(NULL, 0, 0));
	static unsigned char huge[40000000];
	CHECK(getrandom(huge, sizeof huge, 0));
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	/* The group checks run in a group of their own: a program started as a PID
	 * namespace's init (CI runs under unshare -p) is in a group from outside the
	 * namespace, which getpgrp() shows as 0. */
	pid_t g = fork();
	if (g == 0) {
		setpgid(0, 0);
		groups();
		_exit(0);
	}
	waitpid(g, NULL, 0);
	waits();
	limits();
	prctls();
	return 0;
}
