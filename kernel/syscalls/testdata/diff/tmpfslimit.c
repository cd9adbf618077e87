/* tmpfs size limits (tmpfs(5), mount(2), statfs(2), write(2), fallocate(2)): size=,
 * nr_blocks= and nr_inodes= with their k/m/g/t/p/e and % suffixes, values near 2^64 and
 * the ones Linux rejects (EINVAL); mode=, uid= and gid= (IDs must be mapped in the
 * mounter's user namespace); statfs's f_blocks/f_bfree/f_files/f_ffree as pages and
 * inodes are used and freed; a write beyond the limit is short (ENOSPC when nothing fits),
 * fallocate is all or nothing, a truncate that grows charges nothing, a punched hole and
 * a smaller size give pages back, an unlinked file's pages go when its last FD closes;
 * each file and each extra hard link takes an inode, a long symlink a page; remounting
 * changes a limit, but not to below what is used nor on a tmpfs mounted without one
 * (EINVAL), nor from a user namespace below the mounter's (EPERM, after the options
 * parsed). Run in a new user and mount namespace mapping the caller to 0 (as root and as
 * a user), so uid=/gid= see the same map either way. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <linux/falloc.h>
#include <sys/wait.h>

static int enter(void) {
	if (enter_userns(CLONE_NEWNS) < 0) return -1;
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

static unsigned long ram_pages;

static void sf(const char *what) {
	struct statfs s;
	if (statfs("m", &s) < 0) { printf("%-28s statfs: %s\n", what, errname(errno)); return; }
	printf("%-28s blocks %llu bfree %llu bavail %llu files %llu ffree %llu bsize %ld frsize %ld\n", what,
	       (unsigned long long)s.f_blocks, (unsigned long long)s.f_bfree, (unsigned long long)s.f_bavail,
	       (unsigned long long)s.f_files, (unsigned long long)s.f_ffree, (long)s.f_bsize, (long)s.f_frsize);
}

static void mountopts(void) {
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024], cwd[512];
	getcwd(cwd, sizeof cwd);
	strcat(cwd, "/m ");
	while (f && fgets(line, sizeof line, f)) {
		if (!strstr(line, cwd)) continue;
		char *sep = strstr(line, " - ");
		if (sep) printf("mountinfo: %s", sep + 3);
	}
	if (f) fclose(f);
}

/* opts mounts a tmpfs with options o and prints its statfs counts (or the errno). */
static void opts(const char *o) {
	if (mount("none", "m", "tmpfs", 0, o) < 0) { printf("%-40s EINVAL? %s\n", o, errname(errno)); return; }
	struct statfs s;
	struct stat st;
	statfs("m", &s);
	stat("m", &st);
	char b[32], f[32];
	/* Without a limit of their own, both are half the memory (which differs between runs). */
	snprintf(b, sizeof b, "%llu", (unsigned long long)s.f_blocks);
	snprintf(f, sizeof f, "%llu", (unsigned long long)s.f_files);
	printf("%-40s blocks %s files %s mode %o uid %d gid %d\n", o, s.f_blocks == ram_pages / 2 ? "default" : b,
	       s.f_files == ram_pages / 2 ? "default" : f, st.st_mode & 07777, st.st_uid, st.st_gid);
	mountopts();
	umount("m");
}

/* pct mounts with size=P% and compares f_blocks with P% of the memory /proc/meminfo shows. */
static void pct(int p) {
	char o[32];
	snprintf(o, sizeof o, "size=%d%%", p);
	if (mount("none", "m", "tmpfs", 0, o) < 0) { printf("%s: %s\n", o, errname(errno)); return; }
	struct statfs s;
	statfs("m", &s);
	unsigned long long want = ((unsigned long long)p * (ram_pages << 12) / 100 + 4095) / 4096;
	printf("%-40s f_blocks is %d%% of MemTotal: %d\n", o, p, s.f_blocks == want);
	umount("m");
}

static long put(const char *name, int flags, size_t n, off_t off) {
	static char buf[200000];
	memset(buf, 'x', sizeof buf);
	int fd = open(name, O_WRONLY | O_CREAT | flags, 0644);
	if (fd < 0) return -1;
	long r = pwrite(fd, buf, n, off);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	workdir("tmpfslimit");
	FILE *mi = fopen("/proc/meminfo", "r");
	char line[256];
	while (mi && fgets(line, sizeof line, mi))
		if (sscanf(line, "MemTotal: %lu kB", &ram_pages) == 1) ram_pages /= 4;
	if (mi) fclose(mi);
	if (enter() < 0) { printf("enter: %s\n", errname(errno)); return 1; }
	mkdir("m", 0755);

	printf("-- options\n");
	const char *list[] = {
		"size=64k", "size=65537", "size=1M", "size=1m", "size=2g", "size=1t", "size=1P", "size=1e",
		"size=0x10000", "size=010", "size=0", "size=", "size", "size=1x", "size=-1", "size=1kk",
		"size=18446744073709547520", "size=18446744073709551615", "size=18446744073709551616",
		"size=99999999999999999999", "size=16e", "size=17179869184g", "size=%",
		"nr_blocks=16", "nr_blocks=1k", "nr_blocks=9223372036854775807", "nr_blocks=9223372036854775808",
		"nr_blocks=8e", "nr_blocks=1%",
		"nr_inodes=10", "nr_inodes=1k", "nr_inodes=0", "nr_inodes=18014398509481983", "nr_inodes=18014398509481984",
		"nr_inodes=", "nr_inodes=5%",
		"mode=0700", "mode=700", "mode=17777", "mode=8", "mode=", "mode=0x1ff", "mode=77777777777",
		"uid=0,gid=0", "uid=1", "gid=1", "uid=-1", "uid=", "uid=abc",
		"size=64k,size=128k", "inode64", "noswap", "huge=never", "huge=bogus", "foo=1", "", ",,",
	};
	for (unsigned i = 0; i < sizeof list / sizeof list[0]; i++) opts(list[i]);
	pct(50);
	pct(10);
	pct(200);
	CHECK(mount("none", "m", "tmpfs", 0, NULL));
	{
		struct statfs s;
		statfs("m", &s);
		printf("no size: f_blocks is half of MemTotal: %d, f_files too: %d\n", s.f_blocks == ram_pages / 2, s.f_files == ram_pages / 2);
	}
	mountopts();
	CHECK(umount("m"));

	printf("-- limits: size=64k,nr_inodes=4\n");
	CHECK(mount("none", "m", "tmpfs", 0, "size=64k,nr_inodes=4"));
	mountopts();
	sf("fresh");
	CHECK(put("m/f1", 0, 100000, 0));
	sf("after a 100000-byte write");
	CHECK(put("m/f1", 0, 1, 65536));
	CHECK(put("m/f1", 0, 1, 100));
	CHECK(truncate("m/f1", 8192));
	sf("truncated to 8192");
	CHECK(truncate("m/f1", 1 << 30));
	sf("grown to 1 GiB");
	CHECK(put("m/f1", 0, 1, 1 << 29));
	sf("a byte at 512 MiB");
	int f2 = open("m/f2", O_RDWR | O_CREAT, 0644);
	CHECK(fallocate(f2, 0, 0, 17 * 4096));
	CHECK(fallocate(f2, 0, 0, 14 * 4096));
	sf("after failed fallocates");
	CHECK(fallocate(f2, 0, 0, 13 * 4096));
	sf("fallocate 13 pages");
	struct stat st;
	fstat(f2, &st);
	printf("f2 size %ld\n", (long)st.st_size);
	CHECK(fallocate(f2, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192));
	sf("punched 2 pages");
	CHECK(fallocate(f2, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4097, 8190));
	sf("punched within pages");
	CHECK(put("m/f2", 0, 12288, 0));
	sf("12288 bytes over 2 holes");
	CHECK(ftruncate(f2, 4 * 4096));
	sf("f2 truncated to 4 pages");
	CHECK(fallocate(f2, FALLOC_FL_KEEP_SIZE, 4 * 4096, 2 * 4096));
	sf("2 pages past the end");
	CHECK(ftruncate(f2, 4 * 4096));
	sf("same-size truncate");

	printf("-- inodes\n");
	CHECK(put("m/f3", 0, 0, 0));
	sf("three files");
	CHECK(put("m/f4", 0, 0, 0));
	CHECK(mkdir("m/d", 0755));
	CHECK(symlink("x", "m/s"));
	CHECK(link("m/f1", "m/l"));
	CHECK(mknod("m/p", S_IFIFO | 0644, 0));
	CHECK(mkdir("m/f3", 0755));
	CHECK(open("m/f3", O_CREAT | O_EXCL | O_WRONLY, 0644));
	CHECK(unlink("m/f3"));
	sf("unlinked f3");
	CHECK(link("m/f1", "m/l"));
	sf("a hard link");
	CHECK(put("m/f4", 0, 0, 0));
	CHECK(unlink("m/l"));
	sf("unlinked the link");

	printf("-- open unlinked file\n");
	int f1 = open("m/f1", O_RDWR);
	CHECK(unlink("m/f1"));
	sf("f1 unlinked, open");
	CHECK(close(f1));
	sf("f1 closed");
	CHECK(close(f2));
	CHECK(put("m/f2", O_TRUNC, 0, 0));
	sf("f2 opened with O_TRUNC");

	printf("-- long symlink\n");
	char target[201];
	memset(target, 'a', 200);
	target[200] = 0;
	CHECK(symlink(target, "m/long"));
	sf("a 200-byte symlink");
	CHECK(unlink("m/long"));
	target[127] = 0;
	CHECK(symlink(target, "m/short"));
	sf("a 127-byte symlink");
	CHECK(unlink("m/short"));

	printf("-- remount\n");
	CHECK(put("m/f1", 0, 12288, 0));
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "size=8k"));
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "size=12k"));
	sf("remounted size=12k");
	CHECK(put("m/f1", 0, 1, 12288));
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "nr_inodes=2"));
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "nr_inodes=3"));
	sf("remounted nr_inodes=3");
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "size=1M,nr_inodes=100"));
	sf("remounted size=1M,nr_inodes=100");
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "mode=0700,uid=0"));
	stat("m", &st);
	printf("root mode %o\n", st.st_mode & 07777);
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "bogus"));
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "size=0"));
	sf("remounted size=0");
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "size=1M"));
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "nr_inodes=0"));
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "nr_inodes=100"));
	sf("unlimited");
	mountopts();
	CHECK(umount2("m", MNT_DETACH));

	printf("-- remount from a nested user namespace\n");
	CHECK(mount("none", "m", "tmpfs", 0, "size=64k,nr_inodes=4"));
	pid_t pid = fork();
	if (pid == 0) {
		if (enter() < 0) { printf("nested enter: %s\n", errname(errno)); _exit(1); }
		CHECK(mount("none", "m", NULL, MS_REMOUNT, "bogus"));
		CHECK(mount("none", "m", NULL, MS_REMOUNT, "size=128k"));
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	sf("after the nested remount");
	CHECK(umount2("m", MNT_DETACH));
	CHECK(mount("none", "m", "tmpfs", 0, "size=0,nr_inodes=0"));
	CHECK(mount("none", "m", NULL, MS_REMOUNT, "size=1M"));
	CHECK(put("m/big", 0, 200000, 0));
	sf("unlimited tmpfs");
	CHECK(umount2("m", MNT_DETACH));
	return 0;
}
