/* Large and sparse tmpfs files (tmpfs(5), truncate(2), write(2), fallocate(2), stat(2)):
 * a tmpfs file's size goes up to MAX_LFS_FILESIZE whatever the size= limit (a truncate
 * that grows it charges nothing, and its blocks count only pages that hold data); reads
 * past the data are zeros; writes charge pages (ENOSPC past the limit), so do fallocate's
 * (all or nothing); a negative size is EINVAL, a write past MAX_LFS_FILESIZE EFBIG. In a
 * tmpfs of its own (a new user and mount namespace), as root and as a user, and the same
 * on a memfd. */
#include "common.h"
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <linux/falloc.h>

static void blocks(int fd, const char *what) {
	struct stat st;
	fstat(fd, &st);
	printf("  %-34s size %lld blocks %lld\n", what, (long long)st.st_size, (long long)st.st_blocks);
}

static void run(int fd) {
	char b[16];
	CHECK(ftruncate(fd, -1));
	CHECK(ftruncate(fd, 1LL << 40));
	blocks(fd, "1 TiB by ftruncate");
	memset(b, 1, sizeof b);
	CHECK(pread(fd, b, sizeof b, (1LL << 39) + 5));
	CHECK(b[0] == 0 && b[15] == 0);
	CHECK(pwrite(fd, "x", 1, 1LL << 30));
	blocks(fd, "one page written at 1 GiB");
	CHECK(pread(fd, b, 2, 1LL << 30));
	CHECK(b[0] == 'x' && b[1] == 0);
	CHECK(ftruncate(fd, INT64_MAX));
	blocks(fd, "MAX_LFS_FILESIZE");
	CHECK(pwrite(fd, "y", 1, INT64_MAX));
	CHECK(ftruncate(fd, 4096 * 3));
	blocks(fd, "back to 3 pages");
	CHECK(pread(fd, b, 2, 4096 * 2));
	CHECK(lseek(fd, 0, SEEK_END));
	/* a shared mapping of a file grown past it reads zeros, and keeps the file's pages */
	CHECK(ftruncate(fd, 1 << 22));
	char *m = mmap(NULL, 1 << 22, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK(m[(1 << 22) - 1] == 0);
	m[4096] = 'm';
	CHECK(pwrite(fd, "w", 1, (1 << 21) + 7));
	CHECK(m[(1 << 21) + 7] == 'w');
	CHECK(pwrite(fd, "g", 1, 1LL << 30));
	CHECK(pread(fd, b, 1, 4096) == 1 && b[0] == 'm');
	munmap(m, 1 << 22);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	workdir("tmpfsbig");
	if (enter_userns(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("enter: %s\n", errname(errno));
		return 1;
	}
	mkdir("m", 0755);
	printf("-- tmpfs size=64k\n");
	CHECK(mount("none", "m", "tmpfs", 0, "size=64k"));
	int fd = open("m/f", O_CREAT | O_RDWR, 0600);
	run(fd);
	close(fd);
	unlink("m/f");
	fd = open("m/g", O_CREAT | O_RDWR, 0600);
	static char big[128 << 10];
	memset(big, 'b', sizeof big);
	CHECK(write(fd, big, sizeof big));
	CHECK(write(fd, big, sizeof big));
	blocks(fd, "full");
	CHECK(fallocate(fd, 0, 0, 1 << 20));
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096 * 4));
	blocks(fd, "four pages punched");
	CHECK(fallocate(fd, 0, 1 << 20, 4096 * 5));
	CHECK(fallocate(fd, 0, 1 << 20, 4096 * 4));
	blocks(fd, "four pages allocated at 1 MiB");
	close(fd);
	CHECK(umount2("m", MNT_DETACH));
	printf("-- memfd\n");
	fd = memfd_create("big", 0);
	run(fd);
	close(fd);
	return 0;
}
