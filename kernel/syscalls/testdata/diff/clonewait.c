/* clone/clone3 flag and errno rules, CLONE_VFORK/CLONE_PARENT/CLONE_SETTLS/CLONE_PIDFD
 * semantics, wait4/waitid with __WCLONE/__WALL (children whose exit signal is not
 * SIGCHLD), rusage, and pidfd_open/pidfd_getfd/pidfd_send_signal errnos. PIDs are shown
 * only as comparisons. */
#include "common.h"
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <asm/prctl.h>
#include <linux/sched.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif

struct cargs {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
	uint64_t extra[4];
};

static long clone3(struct cargs *a, size_t size) { return syscall(SYS_clone3, a, size); }

/* c3 runs clone3 and, in the child, exits 0 at once; the parent reaps it (any way). */
static void c3(const char *what, struct cargs *a, size_t size) {
	errno = 0;
	long r = clone3(a, size);
	if (r == 0) _exit(0);
	int e = errno;
	printf("clone3 %-40s = %s %s\n", what, r < 0 ? "-1" : "child", r < 0 ? errname(e) : "OK");
	if (r > 0) waitpid(r, NULL, __WALL);
}

static void clone3_rules(void) {
	struct cargs a;
	memset(&a, 0, sizeof a);
	a.exit_signal = SIGCHLD;
	c3("size 0", &a, 0);
	c3("size 63", &a, 63);
	c3("size 64 (VER0)", &a, 64);
	c3("size 88 (VER2)", &a, 88);
	c3("size 96 zero tail", &a, 96);
	a.extra[0] = 1;
	c3("size 96 nonzero tail", &a, 96);
	c3("size 88 nonzero past", &a, 88);
	a.extra[0] = 0;
	c3("size 4097", &a, 4097);
	c3("size 8192", &a, 8192);
	errno = 0;
	printf("clone3 NULL args = %s\n", errname(clone3(NULL, 64) < 0 ? errno : 0));
	a.exit_signal = 65;
	c3("exit_signal 65", &a, 64);
	a.exit_signal = 0x100 | SIGCHLD;
	c3("exit_signal 0x111", &a, 64);
	a.exit_signal = SIGCHLD;
	a.flags = CSIGNAL & SIGCHLD;
	c3("CSIGNAL bits in flags", &a, 64);
	a.flags = CLONE_DETACHED;
	c3("CLONE_DETACHED", &a, 64);
	a.flags = 1ULL << 40;
	c3("unknown flag bit 40", &a, 64);
	a.flags = CLONE_SIGHAND;
	c3("CLONE_SIGHAND without VM", &a, 64);
	a.flags = CLONE_THREAD | CLONE_VM;
	c3("CLONE_THREAD without SIGHAND", &a, 64);
	a.flags = CLONE_NEWNS | CLONE_FS;
	c3("CLONE_NEWNS|CLONE_FS", &a, 64);
	a.flags = CLONE_NEWUSER | CLONE_FS;
	c3("CLONE_NEWUSER|CLONE_FS", &a, 64);
	a.flags = CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
	c3("CLONE_NEWUSER|CLONE_THREAD", &a, 64);
	a.flags = CLONE_NEWPID | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
	c3("CLONE_NEWPID|CLONE_THREAD", &a, 64);
	a.flags = CLONE_PARENT;
	c3("CLONE_PARENT with exit_signal", &a, 64);
	a.flags = CLONE_CLEAR_SIGHAND | CLONE_SIGHAND | CLONE_VM;
	c3("CLEAR_SIGHAND|SIGHAND", &a, 64);
	a.flags = CLONE_PIDFD | CLONE_DETACHED;
	c3("PIDFD|DETACHED", &a, 64);
	a.flags = 0;
	a.stack = 0; a.stack_size = 4096;
	c3("stack_size without stack", &a, 64);
	a.stack = 4096 * 16; a.stack_size = 0;
	c3("stack without stack_size", &a, 64);
	a.stack = 0;
	a.set_tid_size = 1;
	c3("set_tid_size without set_tid", &a, 88);
	pid_t want = 1;
	a.set_tid = (uintptr_t)&want; a.set_tid_size = 0;
	c3("set_tid without size", &a, 88);
	a.set_tid_size = 33;
	c3("set_tid_size 33", &a, 88);
	a.set_tid = 0; a.set_tid_size = 0;
	a.flags = CLONE_INTO_CGROUP;
	a.cgroup = 0;
	c3("INTO_CGROUP size VER0", &a, 64);
	c3("INTO_CGROUP size VER1", &a, 80);
	a.cgroup = 1ULL << 32;
	c3("INTO_CGROUP fd > INT_MAX", &a, 88);
	a.cgroup = 999;
	c3("INTO_CGROUP bad fd", &a, 88);
	a.cgroup = open("/dev/null", O_RDONLY);
	c3("INTO_CGROUP not a cgroup", &a, 88);
	close(a.cgroup);
	a.cgroup = 0;

	/* CLONE_CLEAR_SIGHAND resets handlers but keeps SIG_IGN. */
	signal(SIGUSR1, (void (*)(int))_exit);
	signal(SIGUSR2, SIG_IGN);
	memset(&a, 0, sizeof a);
	a.flags = CLONE_CLEAR_SIGHAND;
	a.exit_signal = SIGCHLD;
	long r = clone3(&a, 64);
	if (r == 0) {
		struct sigaction s1, s2;
		sigaction(SIGUSR1, NULL, &s1);
		sigaction(SIGUSR2, NULL, &s2);
		_exit((s1.sa_handler == SIG_DFL) | (s2.sa_handler == SIG_IGN) << 1);
	}
	int st;
	waitpid(r, &st, 0);
	printf("CLEAR_SIGHAND child: usr1 default=%d usr2 ignored=%d\n", WEXITSTATUS(st) & 1, WEXITSTATUS(st) >> 1);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);

	/* CLONE_PIDFD: the fd is written, pollable, and names the child. */
	int pfd = -1;
	memset(&a, 0, sizeof a);
	a.flags = CLONE_PIDFD;
	a.pidfd = (uintptr_t)&pfd;
	a.exit_signal = SIGCHLD;
	r = clone3(&a, 64);
	if (r == 0) _exit(5);
	printf("pidfd written=%d cloexec=%d\n", pfd >= 0, (fcntl(pfd, F_GETFD) & FD_CLOEXEC) != 0);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PIDFD, pfd, &si, WEXITED));
	printf("waitid P_PIDFD pid match=%d status=%d code=%d\n", si.si_pid == r, si.si_status, si.si_code);
	CHECK(waitid(P_PIDFD, pfd, &si, WEXITED | WNOHANG));
	CHECK(waitid(P_PIDFD, 999, &si, WEXITED));
	CHECK(waitid(P_PIDFD, 0, &si, WEXITED));
	close(pfd);

	/* CLONE_PARENT_SETTID / CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID */
	static pid_t ptid, ctid;
	ptid = ctid = 0;
	memset(&a, 0, sizeof a);
	a.flags = CLONE_PARENT_SETTID | CLONE_CHILD_SETTID;
	a.parent_tid = (uintptr_t)&ptid;
	a.child_tid = (uintptr_t)&ctid;
	a.exit_signal = SIGCHLD;
	r = clone3(&a, 64);
	if (r == 0) _exit(ctid == getpid() ? 3 : 4);
	waitpid(r, &st, 0);
	printf("PARENT_SETTID match=%d CHILD_SETTID in child=%d parent's ctid=%d\n", ptid == r, WEXITSTATUS(st) == 3, ctid);
}

static volatile uint64_t tls_seen;
static int thread_fn(void *arg) {
	uint64_t fs;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	tls_seen = fs;
	return 0;
}

static void h_nop(int s) {}

static void clone_semantics(void) {
	/* CLONE_SETTLS: the child starts with fs = tls. */
	char *stack = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static char tlsarea[256];
	uint64_t tls = (uintptr_t)tlsarea;
	volatile pid_t ctid = 1;
	int r = clone(thread_fn, stack + 65536, CLONE_VM | CLONE_SETTLS | CLONE_CHILD_CLEARTID | SIGCHLD, NULL, NULL, (void *)tls, &ctid);
	int st;
	waitpid(r, &st, 0);
	printf("CLONE_SETTLS fs==tls=%d ctid cleared=%d\n", tls_seen == tls, ctid == 0);

	/* CLONE_VFORK: the parent resumes only after the child exits; the child's writes are
	 * seen (CLONE_VM). */
	static volatile int vflag;
	vflag = 0;
	pid_t c = vfork();
	if (c == 0) {
		vflag = 1;
		_exit(0);
	}
	printf("vfork parent sees child write=%d\n", vflag);
	waitpid(c, NULL, 0);

	/* CLONE_PARENT: the grandchild is our sibling, not our child. */
	c = fork();
	if (c == 0) {
		pid_t g = syscall(SYS_clone, CLONE_PARENT, 0, 0, 0, 0);
		if (g == 0) _exit(0);
		int e = waitpid(g, NULL, 0) < 0 ? errno : 0;
		_exit(e == ECHILD ? 9 : 10);
	}
	waitpid(c, &st, 0);
	printf("CLONE_PARENT: creator cannot wait=%d\n", WEXITSTATUS(st) == 9);
	/* the sibling is ours to reap */
	int n = 0;
	while (waitpid(-1, NULL, 0) > 0) n++;
	printf("reaped sibling=%d\n", n);

	/* clone() errnos */
	CHECK(syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0));
	CHECK(syscall(SYS_clone, CLONE_THREAD | CLONE_VM, 0, 0, 0, 0));
	CHECK(syscall(SYS_clone, CLONE_NEWNS | CLONE_FS, 0, 0, 0, 0));
	CHECK(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID, 0, 0, 0, 0));
	CHECK(syscall(SYS_clone, CLONE_PIDFD | CLONE_DETACHED, 0, 0, 0, 0));
	/* exit signal 0: a "clone" child. */
	signal(SIGUSR2, h_nop);
	for (int mode = 0; mode < 4; mode++) {
		c = syscall(SYS_clone, mode == 3 ? SIGUSR2 : 0, 0, 0, 0, 0);
		if (c == 0) _exit(6);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		int opts[] = {WNOHANG, WNOHANG | __WCLONE, WNOHANG | __WALL, WNOHANG};
		errno = 0;
		int w = waitpid(c, &st, opts[mode]);
		int e = errno;
		/* reap whatever is left */
		for (int i = 0; i < 200 && w == 0; i++) { nanosleep(&ts, NULL); w = waitpid(c, &st, opts[mode]); e = errno; }
		printf("clone exit_signal 0 wait mode %d: %s%s\n", mode, w == c ? "reaped" : w == 0 ? "none" : "-1 ", w < 0 ? errname(e) : "");
		if (w != c) waitpid(c, NULL, __WALL);
	}
	/* fork child and __WCLONE: a SIGCHLD child is not a clone child. */
	c = fork();
	if (c == 0) _exit(1);
	errno = 0;
	int w = waitpid(c, &st, __WCLONE | WNOHANG);
	printf("fork child with __WCLONE: %d %s\n", w == c ? 1 : w, w < 0 ? errname(errno) : "");
	waitpid(c, &st, 0);
	siginfo_t si;
	c = syscall(SYS_clone, 0, 0, 0, 0, 0);
	if (c == 0) _exit(8);
	memset(&si, 0, sizeof si);
	errno = 0;
	w = waitid(P_PID, c, &si, WEXITED | WNOHANG);
	printf("waitid clone child without __WALL: %d %s\n", w, w < 0 ? errname(errno) : "OK");
	memset(&si, 0, sizeof si);
	w = waitid(P_PID, c, &si, WEXITED | __WALL);
	printf("waitid clone child __WALL: %d status=%d\n", w, si.si_status);
	CHECK(waitpid(-1, NULL, 0x10000000));      /* unknown option */
	CHECK(waitid(P_ALL, 0, &si, 0));
	CHECK(waitid(P_ALL, 0, &si, WEXITED | 0x10000000));
	CHECK(waitid(3, 0, &si, WEXITED));

	/* rusage of a child that burned some CPU */
	c = fork();
	if (c == 0) {
		volatile uint64_t x = 0;
		for (uint64_t i = 0; i < 300000000ULL; i++) x += i;
		_exit(0);
	}
	struct rusage ru;
	memset(&ru, 0, sizeof ru);
	CHECK(wait4(c, &st, 0, &ru) == c);
	printf("rusage utime>0=%d\n", ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 0);
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("RUSAGE_CHILDREN utime>0=%d\n", ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 0);
	CHECK(getrusage(5, &ru));
	CHECK(getrusage(RUSAGE_THREAD, &ru));
	CHECK(wait4(-1, &st, 0, (void *)1));
}

static void pidfds(void) {
	signal(SIGUSR1, h_nop);
	CHECK(syscall(SYS_pidfd_open, getpid(), 0) >= 0);
	CHECK(syscall(SYS_pidfd_open, getpid(), 1));
	CHECK(syscall(SYS_pidfd_open, 0, 0));
	CHECK(syscall(SYS_pidfd_open, -1, 0));
	CHECK(syscall(SYS_pidfd_open, 0x3ffff0, 0));
	int self = syscall(SYS_pidfd_open, getpid(), O_NONBLOCK);
	printf("pidfd O_NONBLOCK flags=%#x cloexec=%d\n", fcntl(self, F_GETFL) & O_NONBLOCK, (fcntl(self, F_GETFD) & FD_CLOEXEC) != 0);
	/* pidfd_getfd */
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		char b;
		read(p[0], &b, 1);
		_exit(0);
	}
	int cfd = syscall(SYS_pidfd_open, c, 0);
	int got = syscall(SYS_pidfd_getfd, cfd, p[1], 0);
	printf("pidfd_getfd ok=%d cloexec=%d\n", got >= 0, (fcntl(got, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK(syscall(SYS_pidfd_getfd, cfd, p[1], 1));
	CHECK(syscall(SYS_pidfd_getfd, cfd, 999, 0));
	CHECK(syscall(SYS_pidfd_getfd, cfd, -1, 0));
	CHECK(syscall(SYS_pidfd_getfd, 999, 0, 0));
	CHECK(syscall(SYS_pidfd_getfd, 0, 0, 0));
	CHECK(syscall(SYS_pidfd_getfd, p[0], 0, 0));
	CHECK(syscall(SYS_pidfd_getfd, self, p[0], 0) >= 0);
	/* writing through the dup'd fd wakes the child */
	write(got, "x", 1);
	int st;
	waitpid(c, &st, 0);
	printf("child exited=%d\n", WIFEXITED(st));
	/* after the child is reaped the pidfd names no process */
	CHECK(syscall(SYS_pidfd_getfd, cfd, 0, 0));
	CHECK(syscall(SYS_pidfd_send_signal, cfd, 0, NULL, 0));
	close(cfd);
	/* pidfd_send_signal errnos */
	CHECK(syscall(SYS_pidfd_send_signal, self, 0, NULL, 0));
	CHECK(syscall(SYS_pidfd_send_signal, self, 0, NULL, 1));
	CHECK(syscall(SYS_pidfd_send_signal, self, 65, NULL, 0));
	CHECK(syscall(SYS_pidfd_send_signal, p[0], 0, NULL, 0));
	CHECK(syscall(SYS_pidfd_send_signal, 999, 0, NULL, 0));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGUSR1;
	si.si_code = SI_KERNEL;
	CHECK(syscall(SYS_pidfd_send_signal, self, SIGUSR1, &si, 0));
	si.si_signo = SIGUSR2;
	si.si_code = SI_QUEUE;
	CHECK(syscall(SYS_pidfd_send_signal, self, SIGUSR1, &si, 0));
	CHECK(syscall(SYS_pidfd_send_signal, self, SIGUSR1, (void *)1, 0));
	/* pidfd of a zombie: signals are ESRCH-free (0), getfd ESRCH */
	c = fork();
	if (c == 0) _exit(0);
	cfd = syscall(SYS_pidfd_open, c, 0);
	siginfo_t w;
	waitid(P_PID, c, &w, WEXITED | WNOWAIT);
	CHECK(syscall(SYS_pidfd_send_signal, cfd, SIGUSR1, NULL, 0));
	CHECK(syscall(SYS_pidfd_getfd, cfd, 0, 0));
	waitpid(c, NULL, 0);
	CHECK(syscall(SYS_pidfd_send_signal, cfd, 0, NULL, 0));
	CHECK(syscall(SYS_pidfd_open, c, 0));
	close(cfd);
	close(self);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	clone3_rules();
	clone_semantics();
	pidfds();
	return 0;
}
