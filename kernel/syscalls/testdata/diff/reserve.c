/* Address-space reservations: memory is given backing at its first touch, so many large
 * PROT_NONE reservations in many processes at once cost nothing (Chromium reserves about
 * 52 GiB per process), and touched memory keeps its contents through fork, mremap, madvise
 * and the kernel's own reads and writes across chunk boundaries. */
#include "common.h"
#include <sys/mman.h>
#include <sys/wait.h>

#define MB (1UL << 20)
#define GB (1UL << 30)
#define PROCS 8
#define PER 60 /* 8 x 60 x 52 GiB: 480 reservations, about 24 TiB */

static int waitchild(pid_t c) {
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* reserve makes PER reservations of 52 GiB, opens a window of 1 MiB in every fourth one
 * that straddles a 4 MiB boundary, writes it and reads it back. */
static int reserve(int id) {
	char *r[PER];
	for (int i = 0; i < PER; i++) {
		r[i] = mmap(NULL, 52 * GB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r[i] == MAP_FAILED)
			return 10;
	}
	for (int i = 0; i < PER; i += 4) {
		char *w = r[i] + 7 * GB + 4 * MB - 512 * 1024;
		if (mprotect(w, MB, PROT_READ | PROT_WRITE) < 0)
			return 11;
		memset(w, id + i, MB);
	}
	for (int i = 0; i < PER; i += 4) {
		char *w = r[i] + 7 * GB + 4 * MB - 512 * 1024;
		if (w[0] != (char)(id + i) || w[MB - 1] != (char)(id + i))
			return 12;
	}
	return 0;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int go[2], ready[2];
	pipe(go);
	pipe(ready);
	pid_t kids[PROCS];
	for (int i = 0; i < PROCS; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			int r = reserve(i);
			write(ready[1], "r", 1);
			char b;
			read(go[0], &b, 1); /* all reservations stay alive until every process made its own */
			_exit(r);
		}
	}
	char b;
	for (int i = 0; i < PROCS; i++)
		read(ready[0], &b, 1);
	for (int i = 0; i < PROCS; i++)
		write(go[1], "g", 1);
	for (int i = 0; i < PROCS; i++)
		printf("process %d: %d\n", i, waitchild(kids[i]));

	/* The kernel reads and writes app memory across chunk boundaries, touched or not. */
	char *big = mmap(NULL, 64 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int p[2];
	CHECK(pipe(p));
	char msg[8192];
	for (int i = 0; i < (int)sizeof msg; i++)
		msg[i] = 'a' + i % 26;
	char *edge = big + 8 * MB - 4096;
	CHECK(write(p[1], msg, sizeof msg) == sizeof msg ? 0 : -1);
	CHECK(read(p[0], edge, sizeof msg) == sizeof msg ? 0 : -1);
	printf("read across a chunk edge: %d\n", memcmp(edge, msg, sizeof msg) == 0);
	CHECK(write(p[1], big + 20 * MB, 4096) == 4096 ? 0 : -1); /* untouched memory reads as zero */
	CHECK(read(p[0], msg, 4096) == 4096 ? 0 : -1);
	int zero = 1;
	for (int i = 0; i < 4096; i++)
		zero &= msg[i] == 0;
	printf("untouched reads zero: %d\n", zero);

	/* 16 MiB through a memfd: the kernel's copies span several chunks on both sides. */
	for (long i = 0; i < 16 * MB; i += 4096)
		big[24 * MB + i] = (char)(i >> 12);
	int mfd = memfd_create("reserve", 0);
	CHECK(write(mfd, big + 24 * MB, 16 * MB) == 16 * MB ? 0 : -1);
	CHECK(pread(mfd, big + 44 * MB, 16 * MB, 0) == 16 * MB ? 0 : -1);
	printf("16 MiB round trip: %d\n", memcmp(big + 24 * MB, big + 44 * MB, 16 * MB) == 0);
	close(mfd);

	/* Fork: private copies, shared anonymous memory touched first by a child. */
	char *shared = mmap(NULL, 32 * MB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	edge[0] = 'P';
	pid_t c = fork();
	if (c == 0) {
		edge[0] = 'C';
		shared[17 * MB] = 'S';
		big[40 * MB] = 'c';
		_exit(edge[0] == 'C' ? 0 : 1);
	}
	printf("child: %d\n", waitchild(c));
	printf("after fork: private %c, shared %c, untouched %d\n", edge[0], shared[17 * MB], big[40 * MB]);

	/* mremap moves touched and untouched parts alike. */
	big[63 * MB] = 'e';
	char *moved = mremap(big, 64 * MB, 128 * MB, MREMAP_MAYMOVE);
	CHECK(moved == MAP_FAILED ? -1 : 0);
	printf("moved: %c %c %d\n", moved[8 * MB - 4096], moved[63 * MB], moved[100 * MB]);
	moved[127 * MB] = 'x';
	printf("grown part: %c\n", moved[127 * MB]);

	/* MADV_DONTNEED drops touched pages; the range reads zero and can be written again. */
	CHECK(madvise(moved, 64 * MB, MADV_DONTNEED));
	printf("after DONTNEED: %d %d\n", moved[8 * MB - 4096], moved[63 * MB]);
	moved[63 * MB] = 'f';
	printf("written again: %c\n", moved[63 * MB]);

	/* A PROT_NONE reservation made writable later, then read-only: writes fault. */
	char *r = mmap(NULL, 52 * GB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(mprotect(r + 30 * GB, 8 * MB, PROT_READ | PROT_WRITE));
	r[30 * GB + 5 * MB] = 'w';
	CHECK(mprotect(r + 30 * GB, 8 * MB, PROT_READ));
	c = fork();
	if (c == 0) {
		r[30 * GB + 5 * MB] = 'z';
		_exit(0);
	}
	printf("write to read-only: %d, kept %c\n", waitchild(c), r[30 * GB + 5 * MB]);
	c = fork();
	if (c == 0) {
		volatile char x = r[1 * GB];
		(void)x;
		_exit(0);
	}
	printf("read of PROT_NONE: %d\n", waitchild(c));
	return 0;
}
