#include "common.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Private file mappings: contents on first touch (by the app, or by the kernel on the
 * app's behalf), after close, after MADV_DONTNEED, across mprotect and fork, and the
 * faults that must still be faults. The kernel fills such mappings lazily, so each case
 * starts from pages nobody has touched yet. */

static sigjmp_buf env;
static volatile int faults, fault_code;

static void on_segv(int sig, siginfo_t *si, void *uc) {
	faults++;
	fault_code = si->si_code;
	siglongjmp(env, 1);
}

static unsigned sum(const unsigned char *p, size_t n) {
	unsigned s = 0;
	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

int main(void) {
	long ps = sysconf(_SC_PAGESIZE);
	const char *lib = "/usr/bin/bash"; /* a host file the sandbox's view holds read-only */
	int fd = open(lib, O_RDONLY);
	struct stat st;
	CHECK(fstat(fd, &st));
	size_t len = st.st_size & ~(ps - 1);
	unsigned char *direct = malloc(len);
	CHECK(pread(fd, direct, len, 0) == (ssize_t)len);

	unsigned char *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK(close(fd));
	/* The kernel reads untouched pages for the app: write(2) from the mapping. */
	int p[2];
	CHECK(pipe(p));
	CHECK(write(p[1], m + len - ps, 64));
	unsigned char back[64];
	CHECK(read(p[0], back, 64));
	printf("write from mapping matches file: %d\n", memcmp(back, direct + len - ps, 64) == 0);
	/* Scattered first touches, last page first. */
	int same = 1;
	for (long off = len - ps; off >= 0; off -= 7 * ps)
		same &= m[off + 5] == direct[off + 5];
	printf("scattered touches match file: %d\n", same);
	printf("whole mapping matches file: %d\n", memcmp(m, direct, len) == 0);

	/* Writing to a read-only private mapping faults with SEGV_ACCERR, touched or not. */
	struct sigaction sa = {0};
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	if (!sigsetjmp(env, 1))
		m[0] = 1;
	if (!sigsetjmp(env, 1))
		m[len - 2 * ps] = 1;
	printf("write faults: %d, code %d\n", faults, fault_code);

	/* mprotect to writable: copy-on-write, the file is untouched. */
	CHECK(mprotect(m, len, PROT_READ | PROT_WRITE));
	m[ps] ^= 0xff;
	printf("private write visible: %d\n", m[ps] == (direct[ps] ^ 0xff));
	/* DONTNEED: private file pages go back to the file's contents. */
	CHECK(madvise(m, 2 * ps, MADV_DONTNEED));
	printf("after DONTNEED: %d\n", m[ps] == direct[ps]);
	m[2 * ps] = 0x5a;

	/* fork: the child sees the parent's private writes and the file's untouched pages. */
	pid_t c = fork();
	if (c == 0) {
		int ok = m[2 * ps] == 0x5a && memcmp(m + 3 * ps, direct + 3 * ps, len - 3 * ps) == 0;
		m[2 * ps] = 0x11;
		_exit(ok ? 0 : 1);
	}
	int status;
	waitpid(c, &status, 0);
	printf("child saw parent's memory: %d; parent kept its own: %d\n", WEXITSTATUS(status) == 0, m[2 * ps] == 0x5a);

	/* read(2) into an untouched writable private mapping: the kernel fills then writes. */
	fd = open(lib, O_RDONLY);
	unsigned char *w = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(write(p[1], "sandbox!", 8));
	CHECK(read(p[0], w + ps + 100, 8));
	printf("read into mapping: %.8s, rest of page from file: %d\n", (char *)w + ps + 100,
	       memcmp(w + ps, direct + ps, 100) == 0 && memcmp(w + ps + 108, direct + ps + 108, ps - 108) == 0);
	/* mremap moves untouched pages with their contents. */
	unsigned char *moved = mremap(w, 4 * ps, 8 * ps, MREMAP_MAYMOVE);
	CHECK(moved != MAP_FAILED);
	printf("moved mapping keeps contents: %d %d\n", memcmp(moved + 2 * ps, direct + 2 * ps, 2 * ps) == 0,
	       memcmp(moved + ps + 100, "sandbox!", 8) == 0);
	/* Beyond the end of a PROT_NONE file mapping nothing is readable. */
	unsigned char *none = mmap(NULL, ps, PROT_NONE, MAP_PRIVATE, fd, 0);
	faults = 0;
	if (!sigsetjmp(env, 1))
		(void)*(volatile unsigned char *)none;
	printf("PROT_NONE read faults: %d, code %d\n", faults, fault_code);
	printf("checksum %u\n", sum(m + 3 * ps, 4 * ps) == sum(direct + 3 * ps, 4 * ps));
	return 0;
}
