/* Extended attributes on tmpfs (/dev/shm): user.* set/get/list/remove, XATTR_CREATE and
 * XATTR_REPLACE, size queries and ERANGE, bad names and namespaces, values too large,
 * symlinks and FIFOs (user.* only on files and directories), trusted.* for root only. */
#include "common.h"
#include <sys/xattr.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

/* printlist prints an attribute list sorted (its order is the filesystem's). */
static void printlist(char *buf, int n) {
	char *names[32];
	int k = 0;
	for (int i = 0; i < n && k < 32; i += strlen(buf + i) + 1) names[k++] = buf + i;
	qsort(names, k, sizeof names[0], cmp);
	printf("  list");
	for (int i = 0; i < k; i++) printf(" %s", names[i]);
	printf("\n");
}

static char dir[64] = "/dev/shm/sbxdiff-xattr-XXXXXX";

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || chdir(dir) != 0) { perror("dir"); return 2; }
	close(open("f", O_CREAT | O_WRONLY, 0644));
	char buf[256];
	CHECK(setxattr("f", "user.a", "one", 3, 0));
	CHECK(getxattr("f", "user.a", buf, sizeof buf));
	CHECK(getxattr("f", "user.a", NULL, 0));
	CHECK(getxattr("f", "user.a", buf, 2));
	CHECK(getxattr("f", "user.missing", buf, sizeof buf));
	CHECK(setxattr("f", "user.a", "two", 3, XATTR_CREATE));
	CHECK(setxattr("f", "user.b", "two", 3, XATTR_REPLACE));
	CHECK(setxattr("f", "user.b", "", 0, XATTR_CREATE));
	CHECK(getxattr("f", "user.b", buf, sizeof buf));
	CHECK(setxattr("f", "user.c", "x", 1, XATTR_CREATE | XATTR_REPLACE));
	CHECK(setxattr("f", "user.c", "x", 1, 4));
	CHECK(listxattr("f", NULL, 0));
	CHECK(listxattr("f", buf, 3));
	int n = listxattr("f", buf, sizeof buf);
	printlist(buf, n);
	CHECK(setxattr("f", "", "x", 1, 0));
	CHECK(setxattr("f", "user.", "x", 1, 0));
	CHECK(setxattr("f", "bogus.a", "x", 1, 0));
	CHECK(setxattr("f", "a", "x", 1, 0));
	char longname[300];
	memset(longname, 'n', sizeof longname);
	memcpy(longname, "user.", 5);
	longname[256] = 0;
	CHECK(setxattr("f", longname, "x", 1, 0));
	longname[255] = 0;
	CHECK(setxattr("f", longname, "x", 1, 0));
	CHECK(removexattr("f", longname));
	static char big[70000];
	CHECK(setxattr("f", "user.big", big, 65537, 0));
	CHECK(setxattr("f", "user.big", big, 65536, 0));
	CHECK(getxattr("f", "user.big", NULL, 0));
	CHECK(removexattr("f", "user.big"));
	CHECK(removexattr("f", "user.big"));
	CHECK(removexattr("f", "user.a"));
	CHECK(getxattr("f", "user.a", buf, sizeof buf));
	CHECK(setxattr("missing", "user.a", "x", 1, 0));
	CHECK(setxattr("f", "user.a", NULL, 1, 0));
	CHECK(setxattr("f", NULL, "x", 1, 0));
	/* user.* on a symlink or FIFO is EPERM; on a directory fine */
	symlink("f", "l");
	mkfifo("p", 0644);
	mkdir("d", 0755);
	CHECK(lsetxattr("l", "user.a", "x", 1, 0));
	CHECK(lgetxattr("l", "user.a", buf, sizeof buf));
	CHECK(setxattr("l", "user.l", "x", 1, 0));
	CHECK(setxattr("p", "user.a", "x", 1, 0));
	CHECK(setxattr("d", "user.a", "x", 1, 0));
	CHECK(llistxattr("l", buf, sizeof buf));
	/* fd forms */
	int fd = open("f", O_RDONLY);
	CHECK(fsetxattr(fd, "user.fd", "y", 1, 0));
	CHECK(fgetxattr(fd, "user.fd", buf, sizeof buf));
	CHECK(flistxattr(fd, buf, sizeof buf));
	CHECK(fremovexattr(fd, "user.fd"));
	CHECK(fgetxattr(-1, "user.fd", buf, sizeof buf));
	close(fd);
	/* trusted.* is root's; someone else's file is not ours to change */
	CHECK(setxattr("f", "trusted.t", "z", 1, 0));
	CHECK(getxattr("f", "trusted.t", buf, sizeof buf));
	n = listxattr("f", buf, sizeof buf);
	printlist(buf, n);
	chmod("f", 0444);
	CHECK(setxattr("f", "user.ro", "z", 1, 0));
	if (getuid() != 0) {
		CHECK(setxattr("/", "user.x", "z", 1, 0));
		CHECK(getxattr("/dev/shm", "user.x", buf, sizeof buf));
	}
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	chdir("/");
	return system(cmd);
}
