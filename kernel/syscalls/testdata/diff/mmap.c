#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>

int main(void) {
	workdir("mmap");
	long ps = sysconf(_SC_PAGESIZE);
	printf("pagesize=%ld\n", ps);
	char *p = mmap(NULL, 3 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 'a'; p[ps] = 'b'; p[2 * ps] = 'c';
	CHECK(munmap(p + ps, ps));
	CHECK(mprotect(p, ps, PROT_READ));
	CHECK(mprotect(p + ps, ps, PROT_READ));
	CHECK(mprotect(p + 1, ps, PROT_READ));
	CHECK(mprotect(p, ps, 0x100));
	CHECK(madvise(p + 2 * ps, ps, MADV_DONTNEED));
	printf("after DONTNEED: %d\n", p[2 * ps]);
	unsigned char vec[3];
	CHECK(mincore(p, ps, vec));
	CHECK(mincore(p + ps, ps, vec));
	CHECK(mincore(p + 1, ps, vec));
	CHECK(msync(p, ps, MS_SYNC));
	CHECK(msync(p, ps, MS_SYNC | MS_ASYNC));
	CHECK(msync(p + ps, ps, MS_SYNC));
	CHECK((long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK((long)mmap(NULL, ps, PROT_READ, MAP_ANONYMOUS, -1, 0));
	CHECK((long)mmap(NULL, ps, PROT_READ, MAP_PRIVATE, -1, 0));
	CHECK((long)mmap(NULL, ps, PROT_READ, MAP_PRIVATE, 999, 0));
	CHECK((long)mmap((void *)0x10001, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	void *fixed = (void *)0x500000000000;
	CHECK(mmap(fixed, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == fixed);
	CHECK((long)mmap(fixed, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	/* File mappings: private copies and shared views of a regular file. */
	int fd = open("m", O_CREAT | O_RDWR, 0600);
	CHECK(write(fd, "0123456789", 10));
	char *f = mmap(NULL, ps, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(f != MAP_FAILED);
	printf("file map: %.10s\n", f);
	CHECK((long)mmap(NULL, ps, PROT_READ, MAP_PRIVATE, fd, 1));
	int ro = open("m", O_RDONLY);
	CHECK((long)mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0));
	char *w = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	CHECK(w != MAP_FAILED);
	w[0] = 'X';
	char c;
	CHECK(pread(fd, &c, 1, 0));
	printf("file unchanged by private write: %c\n", c);
	/* Anonymous shared memory and mremap. */
	char *s = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(s != MAP_FAILED);
	s[0] = 'S';
	char *g = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g[0] = 'G';
	char *g2 = mremap(g, 2 * ps, 8 * ps, MREMAP_MAYMOVE);
	CHECK(g2 != MAP_FAILED);
	printf("remapped keeps data: %c\n", g2[0]);
	g2[7 * ps] = 1;
	CHECK((long)mremap(g2, 8 * ps, 16 * ps, 0x40));
	CHECK((long)mremap((void *)0x10000, ps, 2 * ps, 0));
	/* brk */
	void *b0 = sbrk(0);
	CHECK(sbrk(4 * ps) == b0);
	((char *)b0)[4 * ps - 1] = 1;
	CHECK(sbrk(0) == (char *)b0 + 4 * ps);
	CHECK(brk(b0));
	/* /dev/zero mappings behave like anonymous memory. */
	int z = open("/dev/zero", O_RDWR);
	char *zp = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, z, 0);
	CHECK(zp != MAP_FAILED);
	printf("zero page: %d\n", zp[100]);
	return 0;
}
