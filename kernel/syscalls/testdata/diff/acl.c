/* sbx-diff: host-rw-dir
 * POSIX ACLs through setxattr(2), as GNU sed -i, cp -p and coreutils' install set them: an
 * access ACL equivalent to the mode bits (owner, group, other) changes the mode and stores
 * nothing (getxattr then says ENODATA); invalid ACLs are EINVAL; only the owner may set one
 * (EPERM); a default ACL on a non-directory is EACCES; removing it with an empty value
 * succeeds. In a host directory and in /tmp. */
#include "common.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/xattr.h>

#define ACL_USER_OBJ 0x01
#define ACL_USER 0x02
#define ACL_GROUP_OBJ 0x04
#define ACL_GROUP 0x08
#define ACL_MASK 0x10
#define ACL_OTHER 0x20

struct entry {
	uint16_t tag, perm;
	uint32_t id;
};

static int acl(struct entry *e, int n, unsigned char *buf, uint32_t version) {
	memcpy(buf, &version, 4);
	memcpy(buf + 4, e, n * sizeof *e);
	return 4 + n * sizeof *e;
}

static void mode(const char *what, const char *name) {
	struct stat st;
	if (stat(name, &st) != 0) {
		printf("%s: stat %s\n", what, errname(errno));
		return;
	}
	printf("%s: mode %o\n", what, st.st_mode & 07777);
}

static void cases(const char *top) {
	unsigned char buf[256];
	int n;
	int fd = open("f", O_CREAT | O_RDWR, 0644);
	mode("created", "f");
	struct entry equiv[] = {{ACL_USER_OBJ, 6, -1}, {ACL_GROUP_OBJ, 4, -1}, {ACL_OTHER, 0, -1}};
	n = acl(equiv, 3, buf, 2);
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, n, 0));
	mode("after equivalent ACL 640", "f");
	CHECK(fgetxattr(fd, "system.posix_acl_access", buf, sizeof buf));
	struct entry rwx[] = {{ACL_USER_OBJ, 7, -1}, {ACL_GROUP_OBJ, 5, -1}, {ACL_OTHER, 1, -1}};
	n = acl(rwx, 3, buf, 2);
	CHECK(setxattr("f", "system.posix_acl_access", buf, n, 0));
	mode("after equivalent ACL 751", "f");
	CHECK(fchmod(fd, 04755));
	n = acl(equiv, 3, buf, 2);
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, n, XATTR_REPLACE));
	mode("setuid kept", "f");
	/* invalid ACLs */
	struct entry noother[] = {{ACL_USER_OBJ, 6, -1}, {ACL_GROUP_OBJ, 4, -1}};
	n = acl(noother, 2, buf, 2);
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, n, 0));
	struct entry order[] = {{ACL_GROUP_OBJ, 4, -1}, {ACL_USER_OBJ, 6, -1}, {ACL_OTHER, 0, -1}};
	n = acl(order, 3, buf, 2);
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, n, 0));
	struct entry perm[] = {{ACL_USER_OBJ, 8, -1}, {ACL_GROUP_OBJ, 4, -1}, {ACL_OTHER, 0, -1}};
	n = acl(perm, 3, buf, 2);
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, n, 0));
	struct entry badtag[] = {{ACL_USER_OBJ, 6, -1}, {0x40, 4, -1}, {ACL_OTHER, 0, -1}};
	n = acl(badtag, 3, buf, 2);
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, n, 0));
	struct entry twice[] = {{ACL_USER_OBJ, 6, -1}, {ACL_USER_OBJ, 6, -1}, {ACL_GROUP_OBJ, 4, -1}, {ACL_OTHER, 0, -1}};
	n = acl(twice, 4, buf, 2);
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, n, 0));
	n = acl(equiv, 3, buf, 1);
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, n, 0));
	n = acl(equiv, 3, buf, 2);
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, n - 3, 0));
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, 2, 0));
	mode("after invalid ACLs", "f");
	/* removing (an empty value) */
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, 0, 0));
	CHECK(fsetxattr(fd, "system.posix_acl_access", buf, 4, 0));
	mode("after removal", "f");
	/* default ACLs */
	n = acl(equiv, 3, buf, 2);
	CHECK(fsetxattr(fd, "system.posix_acl_default", buf, n, 0));
	CHECK(fsetxattr(fd, "system.posix_acl_default", buf, 0, 0));
	CHECK(mkdir("d", 0755));
	CHECK(setxattr("d", "system.posix_acl_default", buf, 0, 0));
	CHECK(getxattr("d", "system.posix_acl_default", buf, sizeof buf));
	n = acl(rwx, 3, buf, 2);
	CHECK(setxattr("d", "system.posix_acl_access", buf, n, 0));
	mode("directory", "d");
	close(fd);
	/* someone else's file: only its owner may */
	struct stat st;
	stat(top, &st);
	struct entry same[] = {{ACL_USER_OBJ, (st.st_mode >> 6) & 7, -1}, {ACL_GROUP_OBJ, (st.st_mode >> 3) & 7, -1},
		{ACL_OTHER, st.st_mode & 7, -1}};
	n = acl(same, 3, buf, 2);
	errno = 0;
	long r = setxattr(top, "system.posix_acl_access", buf, n, 0);
	printf("ACL on the top directory: %s\n", r == 0 ? "OK" : errname(errno));
	mode("top", top);
	CHECK(setxattr("f", "system.no_such_attr", buf, n, 0));
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: acl DIR\n");
		return 2;
	}
	char dir[] = "acl-XXXXXX";
	if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	umask(022);
	printf("host directory\n");
	cases(argv[1]);
	workdir("acl");
	printf("/tmp\n");
	cases("/tmp");
	return 0;
}
