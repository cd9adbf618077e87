/* fork's memory: private pages are the child's own copy (written by either side, by the
 * app or by the kernel), MAP_SHARED stays shared, and madvise's fork controls. */
#include "common.h"
#include <sys/mman.h>
#include <sys/wait.h>

#define MB (1 << 20)

static int waitchild(pid_t c) {
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long sum(const char *p, long n) {
	long s = 0;
	for (long i = 0; i < n; i += 4096)
		s += p[i];
	return s;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char *heap = malloc(8 * MB);
	memset(heap, 1, 8 * MB);
	char *priv = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(priv, 2, 4 * MB);
	char *shared = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	strcpy(shared, "before");

	/* Child writes: the parent keeps its own values; shared memory is shared. */
	pid_t c = fork();
	if (c == 0) {
		memset(heap, 7, 8 * MB);
		priv[5 * 4096] = 9;
		strcpy(shared, "child");
		printf("child sees heap %ld priv %ld\n", sum(heap, 8 * MB), sum(priv, 4 * MB));
		_exit(0);
	}
	printf("child exit %d\n", waitchild(c));
	printf("parent heap %ld priv %ld shared %s\n", sum(heap, 8 * MB), sum(priv, 4 * MB), shared);

	/* Parent writes while the child still runs: the child keeps the old values. */
	int p1[2], p2[2];
	pipe(p1);
	pipe(p2);
	c = fork();
	if (c == 0) {
		char b;
		read(p1[0], &b, 1);
		printf("child after parent wrote: heap[0]=%d priv[0]=%d shared=%s\n", heap[0], priv[0], shared);
		/* The kernel writing into shared-on-fork memory (read(2)) copies it too. */
		read(p1[0], priv + 100, 5);
		printf("child read into priv: %.5s\n", priv + 100);
		write(p2[1], "x", 1);
		_exit(0);
	}
	heap[0] = 42;
	priv[0] = 43;
	strcpy(shared, "parent");
	write(p1[1], "g", 1);
	write(p1[1], "hello", 5);
	char b;
	read(p2[0], &b, 1);
	printf("child exit %d; parent priv+100: %d\n", waitchild(c), priv[100]);

	/* A grandchild: three generations share, each write is private. */
	c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) {
			heap[1] = 11;
			printf("grandchild heap[0..1] %d %d\n", heap[0], heap[1]);
			_exit(0);
		}
		waitchild(g);
		printf("child heap[0..1] %d %d\n", heap[0], heap[1]);
		heap[1] = 12;
		_exit(0);
	}
	waitchild(c);
	printf("parent heap[0..1] %d %d\n", heap[0], heap[1]);

	/* mprotect and MADV_DONTNEED in the child leave the parent alone. */
	c = fork();
	if (c == 0) {
		CHECK(mprotect(priv, 4 * MB, PROT_READ));
		CHECK(mprotect(priv, 4 * MB, PROT_READ | PROT_WRITE));
		priv[1] = 5;
		CHECK(madvise(priv, 4 * MB, MADV_DONTNEED));
		printf("child priv after DONTNEED %ld\n", sum(priv, 4 * MB));
		_exit(0);
	}
	waitchild(c);
	printf("parent priv %ld priv[1] %d\n", sum(priv, 4 * MB), priv[1]);

	/* MADV_DONTFORK: not in the child; MADV_DOFORK undoes it. */
	char *df = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(df, 3, 3 * 4096);
	CHECK(madvise(df + 4096, 4096, MADV_DONTFORK));
	c = fork();
	if (c == 0) {
		CHECK(mprotect(df, 4096, PROT_READ));
		CHECK(mprotect(df + 4096, 4096, PROT_READ));
		CHECK(mprotect(df + 8192, 4096, PROT_READ));
		printf("child df %d %d\n", df[0], df[8192]);
		_exit(0);
	}
	waitchild(c);
	CHECK(madvise(df + 4096, 4096, MADV_DOFORK));
	c = fork();
	if (c == 0) {
		CHECK(mprotect(df + 4096, 4096, PROT_READ));
		printf("child df[4096] %d\n", df[4096]);
		_exit(0);
	}
	waitchild(c);

	/* MADV_WIPEONFORK: the child gets zeros, the parent keeps its data; KEEPONFORK undoes. */
	char *wf = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(wf, 4, 2 * 4096);
	CHECK(madvise(wf, 4096, MADV_WIPEONFORK));
	CHECK(madvise(shared, 4096, MADV_WIPEONFORK));
	c = fork();
	if (c == 0) {
		printf("child wf %d %d\n", wf[0], wf[4096]);
		wf[0] = 1;
		_exit(0);
	}
	waitchild(c);
	printf("parent wf %d %d\n", wf[0], wf[4096]);
	CHECK(madvise(wf, 4096, MADV_KEEPONFORK));
	c = fork();
	if (c == 0) {
		printf("child wf after KEEPONFORK %d\n", wf[0]);
		_exit(0);
	}
	waitchild(c);
	char *gone = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(gone, 4096);
	CHECK(madvise(gone, 4096, MADV_DONTFORK));
	CHECK(madvise(wf + 1, 4096, MADV_DONTFORK));
	CHECK(madvise(wf, 4096, 12345));

	/* Writes after the child is gone need no copy but must still work. */
	for (int i = 0; i < 3; i++) {
		c = fork();
		if (c == 0)
			_exit(heap[2]);
		printf("exit %d\n", waitchild(c));
		heap[2] = i + 20;
	}
	return 0;
}
