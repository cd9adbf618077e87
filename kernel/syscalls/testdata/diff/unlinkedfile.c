/* An unlinked file lives while something refers to it (unlink(2), tmpfs(5)): an open
 * file, a shared mapping, an O_PATH descriptor (reopened through /proc/self/fd). Its
 * contents stay readable through each; a name renamed over keeps its open file. Run in
 * /tmp and in /dev/shm (tmpfs natively; the sandbox's tmpfs and its host-backed one). */
#include "common.h"
#include <sys/mman.h>

#define LEN (1 << 20)

static int same(const char *p, char c, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (p[i] != c) return 0;
	return 1;
}

static void run(const char *base) {
	char dir[64], a[96], b[96], fdpath[64];
	snprintf(dir, sizeof dir, "%s/sbxdiff-unlinked-XXXXXX", base);
	if (mkdtemp(dir) == NULL) { perror("mkdtemp"); exit(2); }
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	static char buf[LEN];
	struct stat st;

	/* An open file. */
	int fd = open(a, O_CREAT | O_RDWR, 0600);
	memset(buf, 'a', LEN);
	CHECK(write(fd, buf, LEN));
	CHECK(unlink(a));
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0 && st.st_size == LEN);
	memset(buf, 0, LEN);
	CHECK(pread(fd, buf, LEN, 0));
	CHECK(same(buf, 'a', LEN));
	CHECK(pwrite(fd, "zz", 2, LEN));
	CHECK(fstat(fd, &st) == 0 ? st.st_size : -1);
	CHECK(open(a, O_RDONLY));

	/* A shared mapping outlives the descriptor. */
	char *m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	CHECK(close(fd));
	CHECK(same(m, 'a', LEN));
	memset(m, 'm', LEN);
	CHECK(same(m, 'm', LEN));
	CHECK(munmap(m, LEN));

	/* An O_PATH descriptor: the file is reopened through /proc/self/fd after its last
	 * name and open file went. */
	fd = open(a, O_CREAT | O_RDWR, 0600);
	memset(buf, 'p', LEN);
	CHECK(write(fd, buf, LEN));
	int path = open(a, O_PATH);
	CHECK(path >= 0);
	CHECK(unlink(a));
	CHECK(close(fd));
	CHECK(fstat(path, &st) == 0 && st.st_nlink == 0 && st.st_size == LEN);
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", path);
	fd = open(fdpath, O_RDONLY);
	CHECK(fd >= 0);
	memset(buf, 0, LEN);
	CHECK(read(fd, buf, LEN));
	CHECK(same(buf, 'p', LEN));
	CHECK(linkat(AT_FDCWD, fdpath, AT_FDCWD, b, AT_SYMLINK_FOLLOW));
	close(fd);
	close(path);

	/* A name renamed over keeps its open file; the new one is what opens find. */
	fd = open(a, O_CREAT | O_RDWR, 0600);
	CHECK(write(fd, "old", 3));
	int nfd = open(b, O_CREAT | O_RDWR, 0600);
	CHECK(write(nfd, "new!", 4));
	CHECK(rename(b, a));
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0 && st.st_size == 3);
	char s[8] = {0};
	CHECK(pread(fd, s, sizeof s, 0));
	printf("  old descriptor reads %s\n", s);
	close(fd);
	close(nfd);
	fd = open(a, O_RDONLY);
	memset(s, 0, sizeof s);
	CHECK(read(fd, s, sizeof s));
	printf("  the name reads %s\n", s);
	close(fd);

	/* Many files made, written, unlinked and closed: each one's memory goes back. */
	int ok = 1;
	memset(buf, 'c', LEN);
	for (int i = 0; i < 64 && ok; i++) {
		fd = open(a, O_CREAT | O_RDWR | O_TRUNC, 0600);
		for (int k = 0; k < 4 && ok; k++)
			ok = write(fd, buf, LEN) == LEN;
		ok = ok && unlink(a) == 0 && close(fd) == 0;
	}
	CHECK(ok);
	rmdir(dir);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	run("/tmp");
	run("/dev/shm");
	return 0;
}
