/* memfd contents shared between file I/O and MAP_SHARED mappings, across fork: stores
 * through a mapping show in pread and the other way round, a child's stores show in the
 * parent, a futex in a shared memfd mapping wakes across processes, mremap grows a shared
 * mapping over pages written with pwrite, ftruncate growth shows in a mapping, and
 * F_SEAL_WRITE is refused while a writable shared mapping exists (memfd_create(2),
 * fcntl(2) "File Sealing"). */
#include "common.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int waitchild(pid_t c) {
	int st;
	waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int fd = memfd_create("share", MFD_ALLOW_SEALING);
	CHECK(ftruncate(fd, 4096));
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m == MAP_FAILED ? -1 : 0);
	strcpy(m, "through-map");
	char buf[32] = {0};
	CHECK(pread(fd, buf, 11, 0));
	printf("pread sees: %s\n", buf);
	CHECK(pwrite(fd, "through-pwrite", 15, 64));
	printf("map sees: %s\n", m + 64);

	pid_t c = fork();
	if (c == 0) {
		strcpy(m + 128, "from-child");
		_exit(0);
	}
	printf("child: %d, parent sees: %s\n", waitchild(c), m + 128);

	/* A futex word in the shared memfd: the child wakes the parent. */
	volatile int *word = (int *)(m + 256);
	*word = 0;
	c = fork();
	if (c == 0) {
		usleep(50000);
		*word = 1;
		syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
		_exit(0);
	}
	while (*word == 0)
		syscall(SYS_futex, word, FUTEX_WAIT, 0, NULL, NULL, 0);
	printf("woken: %d, child %d\n", *word, waitchild(c));

	/* Growth: the file, then the mapping over it. */
	CHECK(ftruncate(fd, 3 * 4096));
	CHECK(pwrite(fd, "page-two", 9, 2 * 4096));
	char *g = mremap(m, 4096, 3 * 4096, MREMAP_MAYMOVE);
	CHECK(g == MAP_FAILED ? -1 : 0);
	printf("grown mapping: %s, %s\n", g, g + 2 * 4096);
	g[4096] = 'Q';
	CHECK(pread(fd, buf, 1, 4096));
	printf("store in the grown part: %c\n", buf[0]);

	/* Seals: F_SEAL_WRITE is refused while a writable shared mapping exists. */
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK(munmap(g, 3 * 4096));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK));
	CHECK(ftruncate(fd, 4096));
	CHECK(pwrite(fd, "x", 1, 0));
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(ro == MAP_FAILED ? -1 : 0);
	printf("read-only view: %s\n", ro);
	struct stat st;
	CHECK(fstat(fd, &st));
	printf("size %lld\n", (long long)st.st_size);
	return 0;
}
