/* Shared mappings of a file in a writable host directory (argv[1]): stores are shared
 * between processes at once and reach the file at msync, munmap and exit; read(2) and
 * write(2) agree with the mapping; a read-only descriptor refuses PROT_WRITE. */
#include "../diff/common.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

static void show(const char *what, const char *p, int n) {
	printf("%s: \"", what);
	for (int i = 0; i < n; i++)
		putchar(p[i] >= 32 && p[i] < 127 ? p[i] : '.');
	printf("\"\n");
}

static void fileat(const char *path, off_t off, int n) {
	char buf[64] = {0};
	int fd = open(path, O_RDONLY);
	int got = pread(fd, buf, n, off);
	close(fd);
	printf("pread(%ld) = %d ", (long)off, got);
	show("file", buf, got > 0 ? got : 0);
}

int main(int argc, char **argv) {
	if (argc < 2 || chdir(argv[1]) < 0) {
		perror("chdir");
		return 1;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	/* 0666: as uid 65534 the sandbox shows the user's own files as root's. */
	umask(0);
	const char *f = "data";
	int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0666);
	CHECK(write(fd, "hello", 5));
	CHECK(ftruncate(fd, 16384));
	char *p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK0(p == MAP_FAILED ? -1 : 0);
	show("mapped", p, 5);

	/* A child's stores are the parent's at once, and reach the file at its exit. */
	pid_t c = fork();
	if (c == 0) {
		memcpy(p + 4096, "child", 5);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	show("after child", p + 4096, 5);
	fileat(f, 4096, 5);

	/* write(2) is seen through the mapping, the mapping through read(2). */
	CHECK(pwrite(fd, "viawrite", 8, 8192));
	show("mapping sees write", p + 8192, 8);
	memcpy(p + 100, "stored", 6);
	char buf[16] = {0};
	CHECK(pread(fd, buf, 6, 100));
	show("read sees store", buf, 6);

	/* A second mapping (another descriptor) is the same memory. */
	int fd2 = open(f, O_RDWR);
	char *q = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 4096);
	CHECK0(q == MAP_FAILED ? -1 : 0);
	memcpy(q + 10, "second", 6);
	show("first sees second", p + 4096 + 10, 6);
	CHECK(msync(q, 8192, MS_SYNC));
	fileat(f, 4096 + 10, 6);
	CHECK(munmap(q, 8192));
	close(fd2);

	/* msync's errors. */
	CHECK(msync(p + 1, 4096, MS_SYNC));
	CHECK(msync(p, 4096, MS_SYNC | MS_ASYNC));
	CHECK(msync(p, 4096, 0x100));
	CHECK(msync(p, 4096, MS_ASYNC));
	CHECK(msync(p, 4096, MS_INVALIDATE));

	/* O_APPEND writes land in the mapping too. */
	int fa = open(f, O_WRONLY | O_APPEND);
	CHECK(ftruncate(fa, 12288));
	CHECK(write(fa, "tail", 4));
	show("appended", p + 12288, 4);
	close(fa);

	/* Truncation: what lies past the end reads as zero once the file grows again. */
	CHECK(ftruncate(fd, 200));
	CHECK(ftruncate(fd, 16384));
	show("after truncate", p + 98, 10);
	fileat(f, 98, 10);
	memcpy(p, "again", 5);

	/* munmap writes back. */
	CHECK(munmap(p, 16384));
	fileat(f, 0, 5);
	close(fd);

	/* A read-only descriptor: shared PROT_WRITE is EACCES, private writable is fine. */
	int ro = open(f, O_RDONLY);
	char *r = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	CHECK(r == MAP_FAILED ? -1 : 0);
	r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
	CHECK0(r == MAP_FAILED ? -1 : 0);
	show("read-only view", r, 5);
	CHECK(mprotect(r, 4096, PROT_READ | PROT_WRITE));
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	CHECK0(w == MAP_FAILED ? -1 : 0);
	memcpy(w, "privt", 5);
	show("private copy", w, 5);
	fileat(f, 0, 5);
	/* A write-only descriptor cannot be mapped at all. */
	int wo = open(f, O_WRONLY);
	CHECK(mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, wo, 0) == MAP_FAILED ? -1 : 0);
	return 0;
}
