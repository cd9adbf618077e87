#include "common.h"
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* futex_waitv(2): argument checks, EAGAIN on a changed word, absolute timeouts on both
 * clocks, the index of the woken futex, interruption by a signal. */

#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE 128
#endif

static long waitv(struct futex_waitv *w, unsigned n, unsigned flags, struct timespec *ts, int clk) {
	return syscall(SYS_futex_waitv, w, n, flags, ts, clk);
}

static struct timespec in(int clk, long ms) {
	struct timespec ts;
	clock_gettime(clk, &ts);
	ts.tv_nsec += ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return ts;
}

static void until_sleeping(pid_t pid) {
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 15000; i++) { /* up to 30 s on a loaded machine */
		int fd = open(path, O_RDONLY);
		int n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		char *p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		usleep(2000);
	}
}

static void onalrm(int s) { (void)s; }

int main(void) {
	uint32_t *words = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct futex_waitv w[3];
	for (int i = 0; i < 3; i++) {
		words[i] = i;
		w[i] = (struct futex_waitv){.val = i, .uaddr = (uintptr_t)&words[i], .flags = FUTEX2_SIZE_U32};
	}
	struct timespec past = {0, 1}, bad = {0, 1000000000}, now;
	/* Argument checks. */
	CHECK(waitv(w, 3, 1, &past, CLOCK_MONOTONIC));
	CHECK(waitv(w, 0, 0, &past, CLOCK_MONOTONIC));
	CHECK(waitv(w, 129, 0, &past, CLOCK_MONOTONIC));
	CHECK(waitv(NULL, 3, 0, &past, CLOCK_MONOTONIC));
	CHECK(waitv(w, 3, 0, &past, CLOCK_BOOTTIME));
	CHECK(waitv(w, 3, 0, &bad, CLOCK_MONOTONIC));
	CHECK(waitv(w, 3, 0, (struct timespec *)8, CLOCK_MONOTONIC));
	CHECK(waitv((struct futex_waitv *)8, 3, 0, &past, CLOCK_MONOTONIC));
	w[1].flags = 0;
	CHECK(waitv(w, 3, 0, &past, CLOCK_MONOTONIC));
	w[1].flags = FUTEX2_SIZE_U32 | FUTEX2_PRIVATE;
	w[1].__reserved = 1;
	CHECK(waitv(w, 3, 0, &past, CLOCK_MONOTONIC));
	w[1].__reserved = 0;
	w[1].uaddr += 1;
	CHECK(waitv(w, 3, 0, &past, CLOCK_MONOTONIC));
	w[1].uaddr = 0;
	CHECK(waitv(w, 3, 0, &past, CLOCK_MONOTONIC));
	w[1].uaddr = (uintptr_t)&words[1];
	/* Values. */
	w[2].val = 7;
	CHECK(waitv(w, 3, 0, &past, CLOCK_MONOTONIC));
	w[2].val = 2;
	CHECK(waitv(w, 3, 0, &past, CLOCK_MONOTONIC));
	CHECK(waitv(w, 3, 0, &past, CLOCK_REALTIME));
	now = in(CLOCK_MONOTONIC, 30);
	CHECK(waitv(w, 3, 0, &now, CLOCK_MONOTONIC));
	now = in(CLOCK_REALTIME, 30);
	CHECK(waitv(w, 3, 0, &now, CLOCK_REALTIME));
	/* A wake on the third word (shared, so across fork) ends the wait with its index. */
	w[1].flags = FUTEX2_SIZE_U32;
	pid_t c = fork();
	if (c == 0)
		_exit(waitv(w, 3, 0, NULL, 0));
	until_sleeping(c);
	long woken = 0;
	for (int i = 0; i < 6000 && woken == 0; i++) {
		woken = syscall(SYS_futex, &words[2], FUTEX_WAKE, 1, NULL, NULL, 0);
		if (woken == 0)
			usleep(5000);
	}
	printf("woke %ld\n", woken);
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	/* A signal without SA_RESTART interrupts the wait. */
	struct sigaction sa = {.sa_handler = onalrm};
	sigaction(SIGALRM, &sa, NULL);
	ualarm(50000, 50000); /* repeating: an alarm landing before the call is followed by more */
	CHECK(waitv(w, 3, 0, NULL, 0));
	ualarm(0, 0);
	/* With SA_RESTART the wait goes on after the handler, to its absolute timeout. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	ualarm(20000, 0);
	now = in(CLOCK_MONOTONIC, 100);
	CHECK(waitv(w, 3, 0, &now, CLOCK_MONOTONIC));
	return 0;
}
