/* memfd seals, from memfd_create(2) and fcntl(2) "File Sealing": F_ADD_SEALS and
 * F_GET_SEALS, MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL and MFD_EXEC, and what each seal forbids
 * (write, shared writable mmap, shrink, grow, fallocate, chmod +x). Browsers' shared memory
 * relies on them. */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

int main(void) {
	struct stat st;
	int plain = memfd_create("plain", 0);
	CHECK(fcntl(plain, F_GET_SEALS));
	CHECK(fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK(memfd_create("bad", MFD_EXEC | MFD_NOEXEC_SEAL));

	int fd = memfd_create("sealed", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	CHECK(fcntl(fd, F_GET_SEALS));
	CHECK(write(fd, "0123456789", 10));
	CHECK(fcntl(fd, F_ADD_SEALS, 0x1000));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	CHECK(fcntl(fd, F_GET_SEALS));
	CHECK(ftruncate(fd, 5));
	CHECK(ftruncate(fd, 20));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	CHECK(ftruncate(fd, 30));
	CHECK(ftruncate(fd, 20));
	CHECK(pwrite(fd, "ab", 2, 19));
	CHECK(pwrite(fd, "ab", 2, 0));
	CHECK(fallocate(fd, 0, 0, 100));
	CHECK(fallocate(fd, 0, 0, 10));
	void *rw = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(rw != MAP_FAILED);
	munmap(rw, 4096);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK(fcntl(fd, F_GET_SEALS));
	CHECK(pwrite(fd, "ab", 2, 0));
	CHECK(write(fd, "x", 1));
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4));
	CHECK(mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0);
	void *ro = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(ro != MAP_FAILED);
	CHECK(mprotect(ro, 4096, PROT_READ | PROT_WRITE));
	CHECK(memcmp(ro, "ab23456789", 10) == 0);
	void *priv = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(priv != MAP_FAILED);
	char buf[8] = {0};
	CHECK(pread(fd, buf, 4, 0));
	printf("%s\n", buf);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_EXEC));
	CHECK(fcntl(fd, F_GET_SEALS));

	/* a read-only descriptor may read seals but not add them */
	char path[64];
	int fd2 = memfd_create("ro", MFD_ALLOW_SEALING);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd2);
	int rdonly = open(path, O_RDONLY);
	CHECK(fcntl(rdonly, F_GET_SEALS));
	CHECK(fcntl(rdonly, F_ADD_SEALS, F_SEAL_GROW));
	CHECK(fcntl(fd2, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	CHECK(write(fd2, "x", 1));
	CHECK(fcntl(fd2, F_GET_SEALS));

	/* MFD_NOEXEC_SEAL: mode 0666, F_SEAL_EXEC set, sealing allowed */
	int nx = memfd_create("nx", MFD_NOEXEC_SEAL);
	fstat(nx, &st);
	printf("noexec mode %o\n", st.st_mode & 07777);
	CHECK(fcntl(nx, F_GET_SEALS));
	CHECK(fchmod(nx, 0755));
	CHECK(fchmod(nx, 0644));
	CHECK(fcntl(nx, F_ADD_SEALS, F_SEAL_GROW));
	CHECK(fcntl(nx, F_GET_SEALS));
	int ex = memfd_create("ex", MFD_EXEC | MFD_ALLOW_SEALING);
	fstat(ex, &st);
	printf("exec mode %o\n", st.st_mode & 07777);
	CHECK(fcntl(ex, F_ADD_SEALS, F_SEAL_EXEC));
	CHECK(fcntl(ex, F_GET_SEALS));
	CHECK(fchmod(ex, 0644));

	/* files without seals */
	int p[2];
	pipe(p);
	CHECK(fcntl(p[0], F_GET_SEALS));
	CHECK(fcntl(p[1], F_ADD_SEALS, F_SEAL_SEAL));

	/* F_SEAL_WRITE waits for no shared mapping that is or may become writable (EBUSY),
	 * a private one does not count. */
	int bz = memfd_create("busy", MFD_ALLOW_SEALING);
	ftruncate(bz, 8192);
	char *w = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, bz, 0);
	CHECK(fcntl(bz, F_ADD_SEALS, F_SEAL_WRITE));
	munmap(w, 8192);
	char *rd = mmap(0, 8192, PROT_READ, MAP_SHARED, bz, 0);
	CHECK(fcntl(bz, F_ADD_SEALS, F_SEAL_WRITE));
	munmap(rd, 8192);
	char *pv = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, bz, 0);
	CHECK(fcntl(bz, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	CHECK(fcntl(bz, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK(fcntl(bz, F_GET_SEALS));
	munmap(pv, 8192);
	return 0;
}
