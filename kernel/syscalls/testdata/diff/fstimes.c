/* sbx-diff: host-rw-dir
 * The times calls in a host directory (served by the gofer) and on tmpfs (/dev/shm):
 * utime, utimes (microseconds and their range), futimesat with and without a path,
 * utimensat with times far in the past and future, futimens on read-only and O_PATH
 * descriptors, AT_EMPTY_PATH. */
#include "common.h"
#include <utime.h>
#include <sys/time.h>
#include <sys/syscall.h>

static void cases(void) {
	int fd = open("uf", O_CREAT | O_RDWR, 0644);
	struct stat st;
	struct utimbuf ub = {12345, 67890};
	CHECK(utime("uf", &ub)); stat("uf", &st); printf("%ld %ld\n", (long)st.st_atime, (long)st.st_mtime);
	struct timeval tv[2] = {{100, 999999}, {200, 1}};
	CHECK(utimes("uf", tv)); stat("uf", &st); printf("%ld.%09ld %ld.%09ld\n", (long)st.st_atime, st.st_atim.tv_nsec, (long)st.st_mtime, st.st_mtim.tv_nsec);
	struct timeval bad[2] = {{100, 1000000}, {200, 1}};
	CHECK(utimes("uf", bad));
	struct timeval neg[2] = {{100, -1}, {200, 1}};
	CHECK(utimes("uf", neg));
	CHECK(syscall(SYS_futimesat, AT_FDCWD, "uf", tv));
	CHECK(syscall(SYS_futimesat, fd, NULL, tv));
	CHECK(syscall(SYS_futimesat, AT_FDCWD, NULL, tv));
	struct timespec ts[2] = {{-5, 0}, {0x7fffffffffffffffL, 0}};
	CHECK(utimensat(AT_FDCWD, "uf", ts, 0)); stat("uf", &st); printf("%ld %ld\n", (long)st.st_atime, (long)st.st_mtime);
	struct timespec ts2[2] = {{-1, 5}, {1LL<<40, 7}};
	CHECK(utimensat(AT_FDCWD, "uf", ts2, 0)); stat("uf", &st); printf("%ld.%ld %ld.%ld\n", (long)st.st_atime, st.st_atim.tv_nsec, (long)st.st_mtime, st.st_mtim.tv_nsec);
	CHECK(futimens(fd, NULL));
	int ro = open("uf", O_RDONLY);
	CHECK(futimens(ro, NULL));
	int op = open("uf", O_PATH);
	CHECK(futimens(op, NULL));
	CHECK(utimensat(op, NULL, NULL, 0));
	CHECK(utimensat(op, "", NULL, AT_EMPTY_PATH));
	CHECK(utimensat(AT_FDCWD, "uf", NULL, AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH));
	close(fd); close(ro); close(op);
	unlink("uf");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: fstimes DIR\n");
		return 2;
	}
	char dir[] = "fstimes-XXXXXX";
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	printf("== host directory\n");
	cases();
	char shm[] = "/dev/shm/sbxdiff-fstimes-XXXXXX";
	if (mkdtemp(shm) == NULL || chmod(shm, 0755) != 0 || chdir(shm) != 0) {
		perror("shmdir");
		return 2;
	}
	printf("== tmpfs\n");
	cases();
	return 0;
}
