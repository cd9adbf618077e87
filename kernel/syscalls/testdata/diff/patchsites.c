#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* Syscalls through libc's `mov $nr, %eax; syscall` wrappers, made often enough that a
 * platform patching such sites (trap) does (the waits come first, while the process is
 * single-threaded: libc's wait4 then takes that path): results stay right in one thread, in threads
 * racing through the same sites, in fork children running the parent's patched code and in
 * an exec'd copy starting unpatched; a blocking wait4 interrupted by a signal handler with
 * SA_RESTART restarts (the restart goes back into the patched site). glibc's syscall()
 * (`mov 0x8(%rsp), %r9; syscall`, the number in rax) is patched too: its numbers and its
 * sixth argument, which it loads from the stack, arrive whole. */

static volatile int alarms;
static void onalrm(int s) { (void)s; alarms++; }

static pid_t parent;

static long loop(int n) {
	long bad = 0;
	for (int i = 0; i < n; i++)
		if (getppid() != parent) bad++;
	return bad;
}

/* syscall(SYS_mmap, ...) of a memfd's second page: the offset is the sixth argument. */
static long sixth(int fd, int n) {
	long bad = 0;
	for (int i = 0; i < n; i++) {
		char *p = (char *)syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096L);
		if (p == MAP_FAILED || p[0] != 'B' || p[4095] != 'B') bad++;
		if (p != MAP_FAILED) syscall(SYS_munmap, p, 4096);
		if (syscall(SYS_getppid) != parent || syscall(SYS_gettid) <= 0) bad++;
	}
	return bad;
}

static int memfd = -1;

static void *sixththread(void *arg) {
	(void)arg;
	return (void *)sixth(memfd, 500);
}

static void *thread(void *arg) {
	(void)arg;
	return (void *)loop(5000);
}

int main(int argc, char **argv) {
	if (argc > 1) { /* the exec'd copy: its parent is the first process */
		parent = (pid_t)atoi(argv[1]);
		_exit(loop(1000) == 0 ? 7 : 1);
	}
	parent = getppid();
	printf("getppid stable in one thread: %d\n", loop(1000) == 0);
	struct sigaction sa = {0};
	sa.sa_handler = onalrm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 3000}, {0, 3000}};
	setitimer(ITIMER_REAL, &it, NULL);
	pid_t me = getpid();
	int ok = 0;
	/* More children than the kernel's trap count before it patches a site (32). */
	for (int i = 0; i < 40; i++) {
		pid_t c = fork();
		if (c == 0) {
			parent = me;
			long b = loop(200);
			struct timespec ts = {0, 5000000};
			nanosleep(&ts, NULL);
			_exit(b == 0 ? 7 : 1);
		}
		int st = 0;
		pid_t w = waitpid(c, &st, 0);
		if (w == c && WIFEXITED(st) && WEXITSTATUS(st) == 7) ok++;
		else printf("child %d: waitpid %d errno %s status %#x\n", i, w, errname(errno), st);
	}
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	printf("fork children through restarted waits: %d of 40, signals came: %d\n", ok, alarms > 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread, NULL);
	long bad = 0;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	printf("getppid stable in 4 threads: %d\n", bad == 0);

	memfd = (int)syscall(SYS_memfd_create, "patchsites", 0);
	char page[4096];
	memset(page, 'A', sizeof page);
	write(memfd, page, sizeof page);
	memset(page, 'B', sizeof page);
	write(memfd, page, sizeof page);
	printf("syscall() with a sixth argument: %d\n", sixth(memfd, 100) == 0);
	for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, sixththread, NULL);
	bad = 0;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	printf("syscall() in 4 threads: %d\n", bad == 0);
	errno = 0;
	long r = syscall(100000, 1, 2, 3, 4, 5, 6);
	printf("syscall(100000): %ld %s\n", r, errname(errno));


	char arg[16];
	snprintf(arg, sizeof arg, "%d", me);
	pid_t c = fork();
	if (c == 0) {
		execl("/proc/self/exe", argv[0], arg, (char *)NULL);
		_exit(2);
	}
	int st = 0;
	waitpid(c, &st, 0);
	printf("exec'd copy: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 7);
	return 0;
}
