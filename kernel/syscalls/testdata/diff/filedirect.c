/* sbx-diff: host-rw-dir
 * Private and read-only shared mappings of host files as Linux keeps them: pages of the
 * file itself until written (the kernel maps host files straight into the app, copying a
 * page only at its first write). Truncating the file under a mapping makes the pages past
 * its end raise SIGBUS (BUS_ADRERR) and fail with EFAULT when the kernel reads them, and
 * growing it again brings them back; a write to a private mapping stays private; stores
 * into the file show in pages of a private mapping not yet written; fork shares both
 * kinds of page; MADV_DONTNEED gives a written page the file's contents again;
 * /proc/self/maps and smaps show the file; a read-only shared mapping cannot be made
 * writable. */
#include "common.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

static sigjmp_buf env;
static volatile int lastsig, lastcode;
static long ps;

static void on_fault(int sig, siginfo_t *si, void *uc) {
	lastsig = sig;
	lastcode = si->si_code;
	siglongjmp(env, 1);
}

/* probe reads (or writes) one byte and says what happened. */
static void probe(const char *what, volatile unsigned char *p, int write) {
	lastsig = 0;
	int v = -1;
	if (!sigsetjmp(env, 1)) {
		if (write)
			*p = 0x77;
		v = *p;
	}
	if (lastsig)
		printf("%-40s: signal %s code %d\n", what, lastsig == SIGBUS ? "SIGBUS" : lastsig == SIGSEGV ? "SIGSEGV" : "?", lastcode);
	else
		printf("%-40s: %d\n", what, v);
}

/* kread has the kernel read one page of the mapping (write(2) into a pipe). */
static void kread(const char *what, unsigned char *p, size_t n) {
	int fds[2];
	pipe(fds);
	errno = 0;
	long r = write(fds[1], p, n);
	printf("%-40s: %ld %s\n", what, r, r < 0 ? errname(errno) : "OK");
	close(fds[0]);
	close(fds[1]);
}

static void make(const char *name, int pages) {
	int fd = open(name, O_CREAT | O_RDWR | O_TRUNC, 0644);
	for (int i = 0; i < pages; i++) {
		unsigned char b[4096];
		memset(b, 'a' + i, sizeof b);
		write(fd, b, ps);
	}
	close(fd);
}

/* mapsline prints the perms, offset and name of the maps lines naming path. */
static void mapsline(const char *path) {
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (fgets(line, sizeof line, f)) {
		char perms[8], name[256] = "";
		unsigned long lo, hi, off;
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %255s", &lo, &hi, perms, &off, name) >= 4 && strstr(name, path))
			printf("  maps: %lu pages %s %lx %s\n", (hi - lo) / ps, perms, off, strrchr(name, '/') + 1);
	}
	fclose(f);
}

/* smapsrss prints the Rss of the mapping at addr. */
static void smapsrss(void *addr) {
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi, kb;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = lo == (unsigned long)addr;
		if (in && sscanf(line, "Rss: %lu kB", &kb) == 1)
			printf("  smaps Rss: %lu kB\n", kb);
	}
	fclose(f);
}

static long rssfile(void) {
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (fgets(line, sizeof line, f))
		sscanf(line, "RssFile: %ld kB", &kb);
	fclose(f);
	return kb;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	ps = sysconf(_SC_PAGESIZE);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: filedirect DIR\n");
		return 2;
	}
	char dir[] = "filedirect-XXXXXX";
	if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	struct sigaction sa = {0};
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	/* Truncation under a read-only private mapping. */
	make("trunc", 4);
	int fd = open("trunc", O_RDONLY);
	int wfd = open("trunc", O_RDWR);
	unsigned char *m = mmap(NULL, 4 * ps, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("mmap trunc: %d\n", m != MAP_FAILED);
	probe("page 3 before truncation", m + 3 * ps, 0);
	CHECK(ftruncate(wfd, ps + 100));
	probe("page 0 after truncation", m, 0);
	probe("page 1 byte 99 (in the file)", m + ps + 99, 0);
	probe("page 1 byte 100 (past the end)", m + ps + 100, 0);
	probe("page 2 (past the last page)", m + 2 * ps, 0);
	probe("page 3 (past the last page)", m + 3 * ps, 0);
	kread("kernel read of page 1", m + ps, ps);
	kread("kernel read of pages 1-2", m + ps, 2 * ps);
	kread("kernel read of page 3", m + 3 * ps, 16);
	CHECK(ftruncate(wfd, 4 * ps));
	probe("page 2 after growing the file", m + 2 * ps, 0);
	/* Stores into the file show in pages of a private mapping not yet written. */
	CHECK(pwrite(wfd, "Z", 1, 2 * ps + 1));
	probe("page 2 after pwrite", m + 2 * ps + 1, 0);
	CHECK(munmap(m, 4 * ps));

	/* A writable private mapping: writes stay private, pages past the end SIGBUS. The
	 * writes go to pages 16-31, the truncation to pages 0-15, which nothing writes. */
	make("priv", 32);
	fd = open("priv", O_RDONLY);
	m = mmap(NULL, 32 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	unsigned char *other = mmap(NULL, 32 * ps, PROT_READ, MAP_PRIVATE, fd, 0);
	probe("write page 17", m + 17 * ps, 1);
	probe("page 18 unwritten", m + 18 * ps, 0);
	probe("other mapping page 17", other + 17 * ps, 0);
	unsigned char c = 0;
	pread(fd, &c, 1, 17 * ps);
	printf("%-40s: %d\n", "file page 17", c);
	kread("kernel read of written page 17", m + 17 * ps, ps);
	/* The kernel storing into the mapping for the app (read(2)) copies too. */
	int src = open("trunc", O_RDONLY);
	CHECK(pread(src, m + 21 * ps + 9, 3, 2 * ps));
	probe("page 21 after read(2) into it", m + 21 * ps + 10, 0);
	pread(fd, &c, 1, 21 * ps + 10);
	printf("%-40s: %d\n", "file page 21", c);
	close(src);
	mapsline("/priv");
	/* DONTNEED: written pages go back to the file's contents. */
	CHECK(madvise(m + 16 * ps, 16 * ps, MADV_DONTNEED));
	probe("page 17 after DONTNEED", m + 17 * ps, 0);
	probe("page 21 after DONTNEED", m + 21 * ps + 10, 0);
	probe("write page 22", m + 22 * ps, 1);

	/* fork: the child sees the parent's copies and the file's pages, and its writes are
	 * its own. */
	pid_t pid = fork();
	if (pid == 0) {
		probe("child page 22 (parent's copy)", m + 22 * ps, 0);
		probe("child page 2 (file)", m + 2 * ps, 0);
		probe("child write page 23", m + 23 * ps, 1);
		probe("child read-only mapping page 3", other + 3 * ps, 0);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	probe("parent page 23 after the child wrote", m + 23 * ps, 0);
	/* mprotect: write denied, then granted (copy-on-write). */
	CHECK(mprotect(m, 32 * ps, PROT_READ));
	probe("write page 20 read-only", m + 20 * ps, 1);
	CHECK(mprotect(m, 32 * ps, PROT_READ | PROT_WRITE));
	probe("write page 20 writable", m + 20 * ps, 1);
	/* Past the end of the file, writable or not: SIGBUS. */
	wfd = open("priv", O_RDWR);
	CHECK(ftruncate(wfd, 3 * ps));
	probe("write page 3 past the end", m + 3 * ps, 1);
	probe("read page 4 past the end", m + 4 * ps, 0);
	probe("read page 2 (in the file)", m + 2 * ps, 0);
	probe("write page 3 of the read-only mapping", other + 3 * ps, 1);
	CHECK(munmap(m, 32 * ps));
	CHECK(munmap(other, 32 * ps));

	/* Read-only shared mapping of a file on a read-only mount. */
	const char *bin = "/usr/bin/bash";
	fd = open(bin, O_RDONLY);
	m = mmap(NULL, 16 * ps, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char head[16];
	pread(fd, head, sizeof head, 0);
	printf("%-40s: %d\n", "shared ro mapping matches", memcmp(m, head, sizeof head) == 0);
	CHECK(mprotect(m, 16 * ps, PROT_READ | PROT_WRITE));
	probe("write to shared ro mapping", m, 1);
	pid = fork();
	if (pid == 0) {
		printf("%-40s: %d\n", "child shared ro mapping matches", memcmp(m, head, sizeof head) == 0);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK(munmap(m, 16 * ps));
	close(fd);

	/* Accounting: a touched private file mapping counts as RssFile. */
	make("rss", 64);
	fd = open("rss", O_RDONLY);
	long before = rssfile();
	m = mmap(NULL, 64 * ps, PROT_READ, MAP_PRIVATE, fd, 0);
	unsigned sum = 0;
	for (int i = 0; i < 64; i++)
		sum += m[i * ps];
	printf("%-40s: %u\n", "sum", sum);
	printf("%-40s: %d\n", "RssFile grew by the file", rssfile() - before >= 64 * ps / 1024);
	smapsrss(m);
	mapsline("/rss");
	return 0;
}
