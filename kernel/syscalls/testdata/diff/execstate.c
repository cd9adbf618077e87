/* What execve(2) keeps and what it resets: caught handlers go back to SIG_DFL while ignored
 * signals stay ignored (flags and masks of every action are cleared), the signal mask and
 * pending signals are kept, the alternate signal stack is gone, close-on-exec descriptors are
 * closed and the others kept, POSIX timers are deleted, other threads are gone (an exec from a non-leader thread keeps the process ID), a vfork
 * parent resumes at the child's exec, and /proc/self/exe and comm name the new program. */
#include "common.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <dirent.h>
#include <sys/prctl.h>

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

static void handler(int sig) { (void)sig; }

static int count_tasks(void) {
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static void report(const char *pidarg, const char *prog) {
	for (int sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || (sig > 31 && sig < SIGRTMIN))
			continue;
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) != 0) {
			printf("sigaction(%d) failed\n", sig);
			continue;
		}
		const char *h = sa.sa_handler == SIG_DFL ? "default" : sa.sa_handler == SIG_IGN ? "ignored" : "handler";
		int masked = 0;
		for (int s = 1; s < 65; s++)
			if (s != SIGKILL && s != SIGSTOP && sigismember(&sa.sa_mask, s) == 1)
				masked++;
		if (sa.sa_handler != SIG_DFL || (sa.sa_flags & ~SA_RESTORER) != 0 || masked)
			printf("signal %d: %s flags %#x mask %d\n", sig, h, sa.sa_flags & ~SA_RESTORER, masked);
	}
	sigset_t set;
	sigprocmask(SIG_BLOCK, NULL, &set);
	printf("blocked: TERM %d USR2 %d INT %d\n", sigismember(&set, SIGTERM), sigismember(&set, SIGUSR2), sigismember(&set, SIGINT));
	sigpending(&set);
	printf("pending: TERM %d USR2 %d INT %d\n", sigismember(&set, SIGTERM), sigismember(&set, SIGUSR2), sigismember(&set, SIGINT));
	stack_t ss;
	sigaltstack(NULL, &ss);
	printf("altstack: flags %d size %zu\n", ss.ss_flags, ss.ss_size);
	CHECK(fcntl(10, F_GETFD));
	CHECK(fcntl(11, F_GETFD));
	CHECK(fcntl(12, F_GETFD));
	struct itimerspec its;
	CHECK(syscall(SYS_timer_gettime, 0, &its));
	printf("tasks %d\n", count_tasks());
	printf("same pid %d, thread ID is the process ID %d\n", atoi(pidarg) == getpid(), (pid_t)syscall(SYS_gettid) == getpid());
	printf("dumpable %d\n", prctl(PR_GET_DUMPABLE));
	unsigned left = alarm(0);
	printf("alarm kept: %d\n", left > 50 && left <= 100);
	char buf[256] = {0};
	int fd = open("/proc/self/comm", O_RDONLY);
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	printf("comm %.*s", n > 0 ? n : 0, buf);
	char exe[4096] = {0}, self[4096] = {0};
	readlink("/proc/self/exe", exe, sizeof exe - 1);
	realpath(prog, self);
	printf("exe is the program %d\n", strcmp(exe, self) == 0);
}

static char **gargv;

static void *execer(void *arg) {
	(void)arg;
	char pid[32];
	snprintf(pid, sizeof pid, "%d", getpid());
	char *args[] = {gargv[0], "child", pid, gargv[0], NULL};
	execv("/proc/self/exe", args);
	perror("execv");
	exit(1);
}

static void *sleeper(void *arg) {
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 3 && strcmp(argv[1], "child") == 0) {
		report(argv[2], argv[3]);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "quit") == 0)
		_exit(0);
	gargv = argv;
	/* Start from default actions: ignored ones are inherited through exec from whoever
	 * started the test (a shell's background job ignores SIGINT and SIGQUIT). */
	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && (sig < 32 || sig >= SIGRTMIN))
			signal(sig, SIG_DFL);

	/* vfork: the parent runs again once the child has exec'd. */
	pid_t c = vfork();
	if (c == 0) {
		char *args[] = {argv[0], "quit", NULL};
		execv("/proc/self/exe", args);
		_exit(127);
	}
	int st;
	waitpid(c, &st, 0);
	printf("vfork child exec'd and exited %d\n", WEXITSTATUS(st));

	struct sigaction sa = {0};
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigaddset(&sa.sa_mask, SIGINT);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGRTMIN + 2, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	kill(getpid(), SIGTERM);

	static char stack[65536];
	stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack};
	sigaltstack(&ss, NULL);

	int p[2];
	pipe(p);
	dup2(p[0], 10);
	dup3(p[1], 11, O_CLOEXEC);
	dup2(p[1], 12);
	fcntl(12, F_SETFD, FD_CLOEXEC);
	close(p[0]);
	close(p[1]);

	alarm(100);
	prctl(PR_SET_DUMPABLE, 0);
	timer_t tid;
	struct sigevent sev = {.sigev_notify = SIGEV_NONE};
	timer_create(CLOCK_MONOTONIC, &sev, &tid);
	struct itimerspec its = {.it_value = {100, 0}};
	timer_settime(tid, 0, &its, NULL);

	pthread_t th;
	pthread_create(&th, NULL, sleeper, NULL);
	pthread_create(&th, NULL, execer, NULL);
	for (;;)
		pause();
}
