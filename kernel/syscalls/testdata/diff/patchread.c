#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>
#include <sys/time.h>
#include <sys/wait.h>

/* glibc's read (`xor %eax, %eax; syscall; cmp $-4096, %rax; ja`), made often enough that a
 * platform patching such sites (trap) does, in its single-threaded and (once threads exist)
 * its cancellable form: results and errnos (the ja path) stay right; a read blocked in the
 * kernel and interrupted by a signal fails with EINTR without SA_RESTART and goes on with
 * it; a handler that resumes the interrupted context itself with setcontext (no
 * rt_sigreturn: the app jumps into the middle of the original sequence, after the syscall or,
 * for a restart, at it) sees what Linux does; reads race in threads through a site another
 * thread's trap is patching; a fork child runs the parent's patched read. */

static int pp[2];
static volatile int alarms, mode, armed, inread, resumed;
static volatile long siteA; /* rip of an interrupted read's frame: after its syscall */

/* resume jumps to the context a signal frame saved, as user-space thread switchers do:
 * setcontext with a glibc context holding the frame's registers and mask, not rt_sigreturn
 * (rax is cleared, as setcontext does). */
static ucontext_t rc;
static void resume(ucontext_t *uc) {
	getcontext(&rc);
	memcpy(rc.uc_mcontext.gregs, uc->uc_mcontext.gregs, sizeof rc.uc_mcontext.gregs);
	rc.uc_sigmask = uc->uc_sigmask;
	setcontext(&rc);
}

static void onalrm(int s, siginfo_t *si, void *arg) {
	(void)s;
	(void)si;
	ucontext_t *uc = arg;
	alarms++;
	if (mode == 1 && alarms == 3) {
		char c = 'r';
		write(pp[1], &c, 1); /* the restarted read gets it */
	}
	if (!inread) return;
	greg_t *g = uc->uc_mcontext.gregs;
	if (mode == 2 && armed && g[REG_RAX] == -EINTR) {
		/* After the call (rip past the syscall): resume there with rax = 0 (setcontext
		 * clears it), so read returns 0. */
		armed = 0;
		resumed++;
		siteA = g[REG_RIP];
		resume(uc);
	}
	if (mode == 3 && siteA && g[REG_RIP] == siteA - 2 && g[REG_RAX] == 0) {
		/* A restart (rip back at the syscall, rax the number): resume there; the read
		 * runs again and gets the byte written on a later signal. */
		resumed++;
		if (resumed == 3) {
			char c = 's';
			write(pp[1], &c, 1);
		}
		resume(uc);
	}
}

static void handler(int flags) {
	struct sigaction sa = {0};
	sa.sa_sigaction = onalrm;
	sa.sa_flags = SA_SIGINFO | flags;
	sigaction(SIGALRM, &sa, NULL);
}

static void timer(int on) {
	struct itimerval it = {{0, on ? 2000 : 0}, {0, on ? 2000 : 0}};
	setitimer(ITIMER_REAL, &it, NULL);
}

/* n reads of one byte each through a pipe the caller fills first. */
static long pipereads(int n) {
	int p[2];
	long bad = 0;
	if (pipe(p) != 0) return -1;
	for (int i = 0; i < n; i++) {
		char c = (char)i, d = 0;
		if (write(p[1], &c, 1) != 1 || read(p[0], &d, 1) != 1 || d != c) bad++;
	}
	char buf[8];
	close(p[1]);
	if (read(p[0], buf, sizeof buf) != 0) bad++; /* end of file */
	close(p[0]);
	return bad;
}

static pthread_barrier_t start;

static void *thread(void *arg) {
	(void)arg;
	pthread_barrier_wait(&start);
	return (void *)pipereads(3000);
}

int main(void) {
	printf("reads in one thread: %d\n", pipereads(2000) == 0);

	/* Errors through the patched site: errno is what the kernel said. */
	int bad = 0;
	char buf[64];
	int dir = open("/", O_RDONLY | O_DIRECTORY);
	if (pipe(pp) != 0) return 1;
	for (int i = 0; i < 20; i++) {
		errno = 0;
		if (read(-1, buf, 1) != -1 || errno != EBADF) bad++;
		errno = 0;
		if (read(dir, buf, 1) != -1 || errno != EISDIR) bad++;
		write(pp[1], "x", 1);
		errno = 0;
		if (read(pp[0], (void *)8, 1) != -1 || errno != EFAULT) bad++;
		if (read(pp[0], buf, 1) != 1) bad++;
		errno = 0;
		if (read(pp[0], buf, 0) != 0 || errno != 0) bad++;
	}
	printf("errors: %d wrong\n", bad);
	CHECK(read(-1, buf, 1));
	CHECK(read(dir, buf, 1));
	fcntl(pp[0], F_SETFL, O_NONBLOCK);
	CHECK(read(pp[0], buf, 1));
	fcntl(pp[0], F_SETFL, 0);

	/* Blocked and interrupted, without SA_RESTART: EINTR (a few times, until the read was
	 * blocked when the signal came). */
	handler(0);
	timer(1);
	int eintr = 0;
	for (int i = 0; i < 5; i++) {
		errno = 0;
		if (read(pp[0], buf, 1) == -1 && errno == EINTR) eintr++;
	}
	timer(0);
	printf("blocked reads interrupted without SA_RESTART: %d of 5 EINTR\n", eintr);

	/* With SA_RESTART: the read goes on until the third signal's handler writes a byte. */
	handler(SA_RESTART);
	alarms = 0;
	mode = 1;
	timer(1);
	errno = 0;
	long r = read(pp[0], buf, 1);
	timer(0);
	mode = 0;
	printf("blocked read with SA_RESTART: %ld %s '%c', signals >= 3: %d\n", r, errname(errno), r == 1 ? buf[0] : '?', alarms >= 3);

	/* setcontext from the handler to the interrupted read, after its syscall. */
	handler(0);
	mode = 2;
	armed = 1;
	inread = 1;
	timer(1);
	errno = 0;
	r = read(pp[0], buf, 1);
	inread = 0;
	timer(0);
	printf("setcontext after the interrupted syscall: read %ld %s, resumed %d\n", r, errname(errno), resumed);

	/* setcontext from the handler to a restart: the read runs again, until a byte comes. */
	handler(SA_RESTART);
	mode = 3;
	resumed = 0;
	inread = 1;
	timer(1);
	errno = 0;
	r = read(pp[0], buf, 1);
	inread = 0;
	timer(0);
	mode = 0;
	printf("setcontext to the restarted syscall: read %ld %s '%c', resumed %d\n", r, errname(errno), r == 1 ? buf[0] : '?', resumed);

	/* A fork child runs the parent's patched (single-threaded) read. */
	pid_t c = fork();
	if (c == 0) _exit(pipereads(500) == 0 ? 7 : 1);
	int st = 0;
	waitpid(c, &st, 0);
	printf("fork child's reads: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 7);

	/* Threads: the cancellable read, fresh, raced through by 4 threads at once while one of
	 * them traps into the kernel that patches it. */
	pthread_t t[4];
	pthread_barrier_init(&start, NULL, 4);
	for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread, NULL);
	long tbad = 0;
	for (int i = 0; i < 4; i++) {
		void *v;
		pthread_join(t[i], &v);
		tbad += (long)v;
	}
	printf("reads in 4 threads: %d\n", tbad == 0);
	/* And the cancellable read interrupted without SA_RESTART. */
	handler(0);
	timer(1);
	eintr = 0;
	for (int i = 0; i < 5; i++) {
		errno = 0;
		if (read(pp[0], buf, 1) == -1 && errno == EINTR) eintr++;
	}
	timer(0);
	printf("threaded reads interrupted: %d of 5 EINTR\n", eintr);
	return 0;
}
