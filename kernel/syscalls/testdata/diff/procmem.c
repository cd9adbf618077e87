#include "common.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

/* /proc/PID/mem: reads and writes at the offsets that are addresses, EIO where nothing is
 * mapped (and a short count across the end of a mapping), lseek only from the start or
 * the current offset, a child's and a parent's memory, and EACCES for a process another
 * user's task may not trace. */

static char secret[64] = "the secret in the data segment";

int main(void) {
	char b[64] = {0};
	int fd = open("/proc/self/mem", O_RDWR);
	CHECK(fd >= 0);
	CHECK(pread(fd, b, 10, (off_t)(uintptr_t)secret));
	printf("  read [%s]\n", b);
	CHECK(pwrite(fd, "THE", 3, (off_t)(uintptr_t)secret));
	printf("  now [%s]\n", secret);
	CHECK(pread(fd, b, 10, 4096));
	CHECK(pread(fd, b, 0, 4096));
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(m + 4096, 4096);
	memcpy(m + 4090, "abcdef", 6);
	memset(b, 0, sizeof b);
	CHECK(pread(fd, b, 20, (off_t)(uintptr_t)(m + 4090)));
	printf("  across the end [%s]\n", b);
	CHECK(lseek(fd, (off_t)(uintptr_t)secret, SEEK_SET) == (off_t)(uintptr_t)secret);
	CHECK(read(fd, b, 3));
	CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)(uintptr_t)secret + 3);
	CHECK(lseek(fd, 0, SEEK_END));
	CHECK(lseek(fd, 0, SEEK_DATA));
	struct stat st;
	fstat(fd, &st);
	printf("  mode %o size %ld\n", st.st_mode, (long)st.st_size);
	close(fd);
	CHECK(open("/proc/self/mem", O_RDONLY | O_DIRECT));
	/* a child reads its parent's memory */
	fflush(stdout);
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/mem", parent);
		int pf = open(path, O_RDONLY);
		CHECK(pf >= 0);
		char cb[16] = {0};
		CHECK(pread(pf, cb, 6, (off_t)(uintptr_t)secret));
		printf("  child read [%s]\n", cb);
		close(pf);
		if (geteuid() == 0) {
			setresuid(65534, 65534, 65534);
			pf = open(path, O_RDONLY);
			printf("  as another user: %s\n", pf >= 0 ? "opened" : errname(errno));
		}
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	return 0;
}
