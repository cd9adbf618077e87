/* Address space: large PROT_NONE reservations in several processes at once cost nothing
 * until touched; RLIMIT_AS and RLIMIT_DATA bound mmap, mremap and brk. */
#include "common.h"
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/sysinfo.h>

#define MB (1UL << 20)
#define TB (1UL << 40)

static int reserve(void) {
	char *p = mmap(NULL, TB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	char *mid = p + TB / 2;
	if (mprotect(mid, 64 * 1024, PROT_READ | PROT_WRITE) < 0)
		return 2;
	memset(mid, 5, 64 * 1024);
	int r = mid[1000] == 5 ? 0 : 3;
	munmap(p, TB);
	return r;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	/* Four processes, each with 1 TiB reserved, all alive at once. */
	int go[2], ready[2];
	pipe(go);
	pipe(ready);
	pid_t kids[4];
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			int r = reserve();
			write(ready[1], "r", 1);
			char b;
			read(go[0], &b, 1);
			_exit(r);
		}
	}
	char b;
	for (int i = 0; i < 4; i++)
		read(ready[0], &b, 1);
	printf("parent reserve: %d\n", reserve());
	write(go[1], "gggg", 4);
	for (int i = 0; i < 4; i++) {
		int st;
		waitpid(kids[i], &st, 0);
		printf("reservation %d: exit %d\n", i, WEXITSTATUS(st));
	}

	pid_t c = fork();
	if (c == 0) {
		struct rlimit rl = {1024 * MB, RLIM_INFINITY};
		CHECK(setrlimit(RLIMIT_AS, &rl));
		CHECK(getrlimit(RLIMIT_AS, &rl));
		printf("RLIMIT_AS %lu\n", (unsigned long)rl.rlim_cur);
		CHECK(mmap(NULL, 2048 * MB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED ? -1 : 0);
		CHECK(mmap(NULL, 2048 * MB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
		char *p = mmap(NULL, 256 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(p == MAP_FAILED ? -1 : 0);
		CHECK(mmap(p, 256 * MB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p ? 0 : -1);
		CHECK(mremap(p, 256 * MB, 2048 * MB, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);
		CHECK(mremap(p, 256 * MB, 512 * MB, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);
		CHECK(sbrk(2048 * MB) == (void *)-1 ? -1 : 0);
		CHECK(sbrk(MB) == (void *)-1 ? -1 : 0);
		_exit(0);
	}
	waitpid(c, NULL, 0);

	c = fork();
	if (c == 0) {
		struct rlimit rl = {64 * MB, RLIM_INFINITY};
		CHECK(setrlimit(RLIMIT_DATA, &rl));
		CHECK(mmap(NULL, 128 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
		CHECK(mmap(NULL, 128 * MB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
		CHECK(mmap(NULL, 128 * MB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
		CHECK(mmap(NULL, 16 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
		CHECK(sbrk(128 * MB) == (void *)-1 ? -1 : 0);
		CHECK(sbrk(MB) == (void *)-1 ? -1 : 0);
		_exit(0);
	}
	waitpid(c, NULL, 0);

	/* Overcommit (heuristic mode): one private writable request larger than RAM and swap
	 * together fails; MAP_NORESERVE, PROT_NONE and shared mappings of it do not count,
	 * but making the reservation writable does. */
	struct sysinfo si;
	sysinfo(&si);
	unsigned long huge = (si.totalram + si.totalswap) * si.mem_unit + (64UL << 30);
	CHECK(mmap(NULL, huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
	char *nr = mmap(NULL, huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(nr == MAP_FAILED ? -1 : 0);
	munmap(nr, huge);
	char *none = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(none == MAP_FAILED ? -1 : 0);
	CHECK(mprotect(none, huge, PROT_READ | PROT_WRITE));
	CHECK(mprotect(none, 1 << 20, PROT_READ | PROT_WRITE));
	munmap(none, huge);
	return 0;
}
