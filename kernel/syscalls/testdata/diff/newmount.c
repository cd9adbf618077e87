/* The new mount API (fsopen(2), fsconfig(2), fsmount(2), move_mount(2), open_tree(2),
 * fspick(2), mount_setattr(2)): a tmpfs made through an fs context, mounted detached,
 * used through its descriptor, attached and moved; reconfigured through fspick (not from
 * a user namespace below the mounter's: EPERM, which ends the context); bind
 * copies made with open_tree (recursive or not) and attached; mount attributes set and
 * cleared, with the atime rules and propagation; and the errno of each documented misuse.
 * Privileged parts run in a new user and mount namespace (as root and as a user); first,
 * without one, a user gets EPERM. mountinfo lines are printed without IDs. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <linux/mount.h>
#include <sys/wait.h>

static int enter(void) {
	if (enter_userns(CLONE_NEWNS) < 0) return -1;
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static int fsopen_(const char *n, unsigned f) { return syscall(SYS_fsopen, n, f); }
static int fsconfig_(int fd, unsigned cmd, const char *k, const void *v, int aux) { return syscall(SYS_fsconfig, fd, cmd, k, v, aux); }
static int fsmount_(int fd, unsigned f, unsigned a) { return syscall(SYS_fsmount, fd, f, a); }
static int move_mount_(int ffd, const char *fp, int tfd, const char *tp, unsigned f) { return syscall(SYS_move_mount, ffd, fp, tfd, tp, f); }
static int open_tree_(int dfd, const char *p, unsigned f) { return syscall(SYS_open_tree, dfd, p, f); }
static int fspick_(int dfd, const char *p, unsigned f) { return syscall(SYS_fspick, dfd, p, f); }
static int setattr_(int dfd, const char *p, unsigned f, struct mount_attr *a, size_t s) { return syscall(SYS_mount_setattr, dfd, p, f, a, s); }

static char base[512];

/* mi prints the mountinfo lines of mounts under base: place, flags, optional fields
 * without numbers, type, source, options. */
static void mi(const char *title) {
	printf("-- mountinfo: %s\n", title);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024];
	while (f && fgets(line, sizeof line, f)) {
		char point[512], flags[256];
		if (sscanf(line, "%*d %*d %*s %*s %511s %255s", point, flags) != 2) continue;
		if (strncmp(point, base, strlen(base)) != 0) continue;
		char *rest = strstr(line, flags) + strlen(flags);
		char *sep = strstr(rest, " - ");
		printf("%s %s%s", point + strlen(base), flags, strstr(rest, "shared:") && strstr(rest, "shared:") < sep ? " shared" : "");
		printf(" -%s", sep + 2);
	}
	if (f) fclose(f);
}

static long blocks(const char *p) {
	struct statfs s;
	return statfs(p, &s) < 0 ? -errno : (long)s.f_blocks;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	workdir("newmount");
	getcwd(base, sizeof base);
	int fd = fsopen_("tmpfs", 0);
	printf("fsopen before a namespace: %s\n", fd >= 0 ? "ok" : errname(errno));
	if (fd >= 0) close(fd);
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	errno = 0;
	printf("mount_setattr before a namespace: %s\n", setattr_(AT_FDCWD, ".", 0, &ro, sizeof ro) == 0 ? "ok" : errname(errno));
	if (enter() < 0) { printf("enter: %s\n", errname(errno)); return 1; }
	mkdir("m", 0755); mkdir("m2", 0755); mkdir("m3", 0755); mkdir("m4", 0755); mkdir("m5", 0755);

	printf("-- fsopen\n");
	CHECK(fsopen_("tmpfs", 2));
	CHECK(fsopen_("nosuchfs", 0));
	CHECK(fsopen_(NULL, 0));
	int fsc = fsopen_("tmpfs", FSOPEN_CLOEXEC);
	printf("fsopen tmpfs: %d, close-on-exec %d\n", fsc >= 0, (fcntl(fsc, F_GETFD) & FD_CLOEXEC) != 0);
	char buf[64];
	CHECK(read(fsc, buf, sizeof buf));

	printf("-- fsconfig\n");
	int plain = open(".", O_RDONLY);
	CHECK(fsconfig_(-1, FSCONFIG_SET_STRING, "size", "64k", 0));
	CHECK(fsconfig_(fsc, 99, NULL, NULL, 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_FLAG, "inode64", "x", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "size", NULL, 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "size", "64k", 1));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_BINARY, "size", "64k", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_FD, "size", NULL, -1));
	CHECK(fsconfig_(fsc, FSCONFIG_CMD_CREATE, "size", NULL, 0));
	CHECK(fsconfig_(plain, FSCONFIG_SET_STRING, "size", "64k", 0));
	CHECK(fsconfig_(999, FSCONFIG_SET_STRING, "size", "64k", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "size", "64k", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "nr_inodes", "8", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "bogus", "1", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_FLAG, "size", NULL, 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "size", "1x", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_FLAG, "inode64", NULL, 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "source", "mysrc", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "source", "again", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_FLAG, "source", NULL, 0));
	CHECK(fsmount_(fsc, 0, 0));
	CHECK(fsconfig_(fsc, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
	CHECK(fsconfig_(fsc, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	CHECK(fsconfig_(fsc, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "size", "128k", 0));

	printf("-- fsmount\n");
	CHECK(fsmount_(fsc, 2, 0));
	CHECK(fsmount_(fsc, 0, 0x30));
	CHECK(fsmount_(fsc, 0, 0x1000));
	CHECK(fsmount_(plain, 0, 0));
	int mfd = fsmount_(fsc, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOATIME);
	printf("fsmount: %d\n", mfd >= 0);
	CHECK(fsmount_(fsc, 0, 0));
	CHECK(read(mfd, buf, 1));
	int f = openat(mfd, "f", O_CREAT | O_WRONLY, 0644);
	CHECK(write(f, "hello", 5));
	close(f);
	struct statfs sf;
	fstatfs(mfd, &sf);
	printf("detached tmpfs: blocks %ld\n", (long)sf.f_blocks);
	mi("detached: not shown");

	printf("-- move_mount\n");
	CHECK(move_mount_(mfd, "", AT_FDCWD, "m", 0));
	CHECK(move_mount_(mfd, "", AT_FDCWD, "m", 0x1000));
	CHECK(move_mount_(mfd, "", AT_FDCWD, "m", 0x200 /* BENEATH */ | MOVE_MOUNT_SET_GROUP));
	CHECK(move_mount_(mfd, "", AT_FDCWD, "nosuch", MOVE_MOUNT_F_EMPTY_PATH));
	CHECK(move_mount_(mfd, "", AT_FDCWD, "m", MOVE_MOUNT_F_EMPTY_PATH));
	CHECK(access("m/f", F_OK));
	mi("attached on m");
	CHECK(move_mount_(mfd, "", AT_FDCWD, "m2", MOVE_MOUNT_F_EMPTY_PATH));
	CHECK(access("m/f", F_OK));
	CHECK(access("m2/f", F_OK));
	CHECK(move_mount_(AT_FDCWD, "m2", AT_FDCWD, "m", 0));
	CHECK(close(mfd));
	CHECK(access("m/f", F_OK));
	CHECK(move_mount_(AT_FDCWD, ".", AT_FDCWD, "m2", 0));

	printf("-- fsconfig after fsmount, fspick\n");
	CHECK(fsconfig_(fsc, FSCONFIG_SET_STRING, "size", "96k", 0));
	CHECK(fsconfig_(fsc, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
	printf("blocks now %ld\n", blocks("m"));
	close(fsc);
	CHECK(fspick_(AT_FDCWD, "m", 0x10));
	CHECK(fspick_(AT_FDCWD, "m/..", 0));
	CHECK(fspick_(AT_FDCWD, "nosuch", 0));
	int fp = fspick_(AT_FDCWD, "m", FSPICK_CLOEXEC);
	printf("fspick: %d\n", fp >= 0);
	CHECK(fsconfig_(fp, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	CHECK(fsconfig_(fp, FSCONFIG_SET_STRING, "size", "128k", 0));
	CHECK(fsconfig_(fp, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
	printf("blocks now %ld\n", blocks("m"));
	mi("reconfigured");
	CHECK(fsmount_(fp, 0, 0));
	CHECK(fsconfig_(fp, FSCONFIG_SET_STRING, "size", "4k", 0));
	f = open("m/f2", O_CREAT | O_WRONLY, 0644);
	CHECK(write(f, buf, 64) > 0 && pwrite(f, buf, 1, 8192));
	close(f);
	CHECK(fsconfig_(fp, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
	CHECK(fsconfig_(fp, FSCONFIG_SET_STRING, "size", "1M", 0));
	CHECK(fsconfig_(fp, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
	close(fp);
	pid_t pid = fork();
	if (pid == 0) {
		if (enter() < 0) _exit(1);
		int np = fspick_(AT_FDCWD, "m", 0);
		printf("fspick in a nested user namespace: %d\n", np >= 0);
		CHECK(fsconfig_(np, FSCONFIG_SET_STRING, "size", "256k", 0));
		CHECK(fsconfig_(np, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
		CHECK(fsconfig_(np, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("blocks now %ld\n", blocks("m"));

	printf("-- open_tree\n");
	CHECK(open_tree_(AT_FDCWD, "m", 0x4));
	CHECK(open_tree_(AT_FDCWD, "m", AT_RECURSIVE));
	CHECK(open_tree_(AT_FDCWD, "nosuch", OPEN_TREE_CLONE));
	int o = open_tree_(AT_FDCWD, "m", OPEN_TREE_CLOEXEC);
	printf("open_tree: %d, O_PATH %d\n", o >= 0, (fcntl(o, F_GETFL) & O_PATH) != 0);
	CHECK(read(o, buf, 1));
	close(o);
	mkdir("m/sub", 0755);
	CHECK(mount("none", "m/sub", "tmpfs", 0, "size=16k"));
	close(open("m/sub/x", O_CREAT | O_WRONLY, 0644));
	int c1 = open_tree_(AT_FDCWD, "m", OPEN_TREE_CLONE);
	int c2 = open_tree_(AT_FDCWD, "m", OPEN_TREE_CLONE | AT_RECURSIVE);
	int c3 = open_tree_(AT_FDCWD, "m", OPEN_TREE_CLONE);
	printf("clones: %d %d %d\n", c1 >= 0, c2 >= 0, c3 >= 0);
	CHECK(faccessat(c1, "f", F_OK, 0));
	CHECK(faccessat(c1, "sub/x", F_OK, 0));
	CHECK(faccessat(c2, "sub/x", F_OK, 0));
	CHECK(move_mount_(c1, "", AT_FDCWD, "m3", MOVE_MOUNT_F_EMPTY_PATH));
	CHECK(move_mount_(c2, "", AT_FDCWD, "m4", MOVE_MOUNT_F_EMPTY_PATH));
	CHECK(close(c3));
	CHECK(access("m3/sub/x", F_OK));
	CHECK(access("m4/sub/x", F_OK));
	close(open("m3/g", O_CREAT | O_WRONLY, 0644));
	CHECK(access("m/g", F_OK));
	mi("clones attached");

	printf("-- mount_setattr\n");
	struct mount_attr a = {0};
	CHECK(setattr_(AT_FDCWD, "nosuch", 0, &a, sizeof a));
	a.attr_set = MOUNT_ATTR_RDONLY;
	CHECK(setattr_(AT_FDCWD, "m3", 0x1, &a, sizeof a));
	CHECK(setattr_(AT_FDCWD, "m3", 0, &a, 16));
	CHECK(setattr_(AT_FDCWD, "m3", 0, &a, 8192));
	CHECK(setattr_(AT_FDCWD, "m3", 0, NULL, sizeof a));
	char big[64] = {0};
	memcpy(big, &a, sizeof a);
	big[40] = 1;
	CHECK(setattr_(AT_FDCWD, "m3", 0, (struct mount_attr *)big, sizeof big));
	big[40] = 0;
	CHECK(setattr_(AT_FDCWD, "m3", 0, (struct mount_attr *)big, sizeof big));
	CHECK(open("m3/h", O_CREAT | O_WRONLY, 0644));
	CHECK(access("m/f", W_OK));
	CHECK(setattr_(AT_FDCWD, "m3/sub/..", 0, &a, sizeof a));
	a = (struct mount_attr){.attr_set = 0x400};
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a = (struct mount_attr){.attr_set = MOUNT_ATTR_NOATIME};
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a = (struct mount_attr){.attr_clr = MOUNT_ATTR_NOATIME};
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a = (struct mount_attr){.attr_set = 0x30, .attr_clr = MOUNT_ATTR__ATIME};
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a = (struct mount_attr){.attr_set = MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_NOSUID, .attr_clr = MOUNT_ATTR__ATIME | MOUNT_ATTR_NODEV};
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a = (struct mount_attr){.propagation = 0x1234};
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a = (struct mount_attr){.attr_set = MOUNT_ATTR_NOEXEC, .propagation = MS_SHARED};
	CHECK(setattr_(AT_FDCWD, "m4", AT_RECURSIVE, &a, sizeof a));
	mi("attributes");
	a = (struct mount_attr){.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = -1};
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a.userns_fd = 999;
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a.userns_fd = plain;
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	int mnsfd = open("/proc/self/ns/mnt", O_RDONLY), usfd = open("/proc/self/ns/user", O_RDONLY);
	a.userns_fd = mnsfd;
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a.userns_fd = usfd;
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	a = (struct mount_attr){.attr_clr = MOUNT_ATTR_IDMAP};
	CHECK(setattr_(AT_FDCWD, "m4", 0, &a, sizeof a));
	for (const char *p = "m4/sub\0m4\0m3\0m/sub\0m\0"; *p; p += strlen(p) + 1) CHECK(umount(p));
	return 0;
}
