/* O_TMPFILE on tmpfs (/dev/shm): flag rules, an unnamed file that reads and writes, shows
 * no name, is linked into the directory through /proc/self/fd (or AT_EMPTY_PATH, which
 * needs CAP_DAC_READ_SEARCH), once; O_EXCL makes it unlinkable. */
#include "common.h"
#include <dirent.h>

static char dir[64] = "/dev/shm/sbxdiff-tmpfile-XXXXXX";

static int entries(void) {
	DIR *d = opendir(".");
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') n++;
	closedir(d);
	return n;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || chdir(dir) != 0) { perror("dir"); return 2; }
	umask(022);
	CHECK(open(".", O_TMPFILE | O_RDONLY, 0600));
	CHECK(open(".", O_TMPFILE | O_RDWR | O_CREAT, 0600));
	CHECK(open(".", 020000000 | O_RDWR, 0600));
	CHECK(open("missing", O_TMPFILE | O_RDWR, 0600));
	close(open("reg", O_CREAT | O_WRONLY, 0644));
	CHECK(open("reg", O_TMPFILE | O_RDWR, 0600));
	int fd = open(".", O_TMPFILE | O_RDWR, 0666);
	CHECK(fd >= 0);
	struct stat st;
	CHECK(fstat(fd, &st));
	printf("  mode %o nlink %lu size %ld\n", st.st_mode, (unsigned long)st.st_nlink, (long)st.st_size);
	CHECK(fcntl(fd, F_GETFL) & (O_ACCMODE | O_DIRECTORY));
	CHECK(write(fd, "hello", 5));
	CHECK(pread(fd, (char[8]){0}, 8, 0));
	CHECK(entries());
	char path[64], link[256];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	if (n > 0) link[n] = 0;
	printf("  link deleted %d\n", n > 0 && strstr(link, "(deleted)") != NULL);
	CHECK(linkat(AT_FDCWD, path, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
	CHECK(stat("named", &st));
	printf("  nlink %lu size %ld\n", (unsigned long)st.st_nlink, (long)st.st_size);
	CHECK(entries());
	CHECK(fstat(fd, &st));
	printf("  nlink %lu\n", (unsigned long)st.st_nlink);
	CHECK(linkat(AT_FDCWD, path, AT_FDCWD, "named2", AT_SYMLINK_FOLLOW));
	CHECK(unlink("named"));
	CHECK(unlink("named2"));
	CHECK(linkat(AT_FDCWD, path, AT_FDCWD, "named3", AT_SYMLINK_FOLLOW));
	close(fd);
	/* AT_EMPTY_PATH */
	fd = open(".", O_TMPFILE | O_WRONLY, 0600);
	CHECK(linkat(fd, "", AT_FDCWD, "empty", AT_EMPTY_PATH));
	close(fd);
	/* O_EXCL: never linkable */
	fd = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
	CHECK(fd >= 0);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	CHECK(linkat(AT_FDCWD, path, AT_FDCWD, "excl", AT_SYMLINK_FOLLOW));
	close(fd);
	CHECK(entries());
	/* a directory the caller can not write */
	if (getuid() != 0) CHECK(open("/", O_TMPFILE | O_RDWR, 0600));
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	chdir("/");
	return system(cmd);
}
