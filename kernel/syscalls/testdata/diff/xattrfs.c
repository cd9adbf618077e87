/* sbx-diff: host-rw-dir
 * Extended attributes in a host directory (served by the gofer) and on tmpfs (/dev/shm):
 * user.* on files, directories and (refused) symlinks, XATTR_CREATE/XATTR_REPLACE, size
 * probes, names outside every namespace (EOPNOTSUPP after the permission check), empty
 * names, oversized values, bad flags, listxattr sizes, removal. trusted.* only on tmpfs:
 * the gofer holds no capabilities, so root in the sandbox cannot set it on host files. */
#include "common.h"
#include <sys/xattr.h>

static void cases(int host) {
	int fd = open("xf", O_CREAT | O_RDWR, 0644);
	close(fd);
	mkdir("xd", 0755);
	symlink("xf", "xl");
	char b[70000];
	CHECK(setxattr("xf", "user.a", "1", 1, 0));
	CHECK(setxattr("xf", "user.a", "1", 1, XATTR_CREATE));
	CHECK(setxattr("xf", "user.b", "1", 1, XATTR_REPLACE));
	CHECK(getxattr("xf", "user.a", b, sizeof b));
	CHECK(getxattr("xf", "user.a", b, 0));
	CHECK(getxattr("xf", "user.a", NULL, 0));
	CHECK(getxattr("xf", "user.nope", b, sizeof b));
	CHECK(setxattr("xf", "bogus.a", "1", 1, 0));
	CHECK(getxattr("xf", "bogus.a", b, sizeof b));
	CHECK(removexattr("xf", "bogus.a"));
	CHECK(setxattr("xf", "user.", "1", 1, 0));
	CHECK(setxattr("xf", "", "1", 1, 0));
	if (!host || getuid() != 0) {
		CHECK(setxattr("xf", "trusted.a", "1", 1, 0));
		CHECK(getxattr("xf", "trusted.a", b, sizeof b));
	}
	CHECK(setxattr("xd", "user.d", "1", 1, 0));
	CHECK(lsetxattr("xl", "user.l", "1", 1, 0));
	CHECK(lgetxattr("xl", "user.a", b, sizeof b));
	CHECK(getxattr("xl", "user.a", b, sizeof b));
	memset(b, 'v', sizeof b);
	CHECK(setxattr("xf", "user.big", b, 65537, 0));
	CHECK(setxattr("xf", "user.a", "1", 1, 4));
	CHECK(listxattr("xf", b, 0));
	CHECK(listxattr("xf", b, 3));
	CHECK(removexattr("xf", "user.a"));
	CHECK(removexattr("xf", "user.a"));
	CHECK(getxattr("xf", "system.posix_acl_access", b, sizeof b));
	unlink("xf"); rmdir("xd"); unlink("xl");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: xattrfs DIR\n");
		return 2;
	}
	char dir[] = "xattrfs-XXXXXX";
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	printf("== host directory\n");
	cases(1);
	char shm[] = "/dev/shm/sbxdiff-xattrfs-XXXXXX";
	if (mkdtemp(shm) == NULL || chmod(shm, 0755) != 0 || chdir(shm) != 0) {
		perror("shmdir");
		return 2;
	}
	printf("== tmpfs\n");
	cases(0);
	return 0;
}
