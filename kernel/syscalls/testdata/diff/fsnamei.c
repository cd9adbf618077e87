/* sbx-diff: host-rw-dir
 * Path resolution and names, in a host directory (served by the gofer) and on tmpfs
 * (/dev/shm): openat2(2) (open_how checks, RESOLVE_* flags), O_PATH descriptors (what
 * they may and may not do), link/linkat (AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, errno paths),
 * symlink chains (ELOOP past 40), over-long names and paths (and which error wins when a
 * name is both missing and too long), directory link counts and getdents64 while the
 * directory changes. */
#include "common.h"
#include <dirent.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

static long openat2(int dfd, const char *p, struct open_how *h, size_t sz) {
	return syscall(SYS_openat2, dfd, p, h, sz);
}

static int o2(int dfd, const char *p, long flags, long mode, long resolve) {
	struct open_how h = {.flags = flags, .mode = mode, .resolve = resolve};
	return openat2(dfd, p, &h, sizeof h);
}

static void put(const char *name) {
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write(fd, "data", 4);
	close(fd);
}

static void openat2_cases(void) {
	printf("-- openat2\n");
	mkdir("d", 0755);
	mkdir("d/sub", 0755);
	put("d/f");
	symlink("f", "d/lnk");
	symlink("/etc", "d/abs");
	symlink("../..", "d/sub/up");
	int d = open("d", O_RDONLY | O_DIRECTORY);
	struct open_how h = {.flags = O_RDONLY};
	int fd;
	CHECK0(fd = openat2(d, "f", &h, sizeof h)); close(fd);
	CHECK(openat2(d, "f", &h, 0));
	CHECK(openat2(d, "f", &h, 8));
	CHECK(openat2(d, "f", NULL, sizeof h));
	char big[64] = {0};
	memcpy(big, &h, sizeof h);
	CHECK0(fd = openat2(d, "f", (struct open_how *)big, sizeof big)); close(fd);
	big[40] = 1;
	CHECK(openat2(d, "f", (struct open_how *)big, sizeof big));
	CHECK(openat2(d, "f", (struct open_how *)big, 8192));
	CHECK(o2(d, "f", O_RDONLY, 0644, 0));
	CHECK(o2(d, "f", 1L << 40, 0, 0));
	CHECK(o2(d, "f", O_RDONLY, 0, 1L << 20));
	CHECK(o2(d, "f", O_RDONLY, 07777 + 1, 0));
	CHECK(o2(d, "f", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT));
	CHECK0(fd = o2(d, "n", O_CREAT | O_WRONLY, 0600, 0)); close(fd);
	CHECK(o2(d, "n", O_CREAT | O_WRONLY, 01000000, 0));
	CHECK0(fd = o2(d, "lnk", O_RDONLY, 0, 0)); close(fd);
	CHECK(o2(d, "lnk", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
	CHECK(o2(d, "lnk", O_RDONLY | O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS) >= 0);
	CHECK(o2(d, "sub/../f", O_RDONLY, 0, RESOLVE_BENEATH) >= 0);
	CHECK(o2(d, "../d/f", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK(o2(d, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK(o2(d, "abs", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK(o2(d, "sub/up", O_RDONLY, 0, RESOLVE_BENEATH));
	CHECK(o2(d, "sub/up/f", O_RDONLY, 0, RESOLVE_BENEATH));
	/* RESOLVE_IN_ROOT: ".." and absolute names stay inside d. */
	CHECK(o2(d, "../../../f", O_RDONLY, 0, RESOLVE_IN_ROOT) >= 0);
	CHECK(o2(d, "/f", O_RDONLY, 0, RESOLVE_IN_ROOT) >= 0);
	CHECK(o2(d, "sub/up/sub/up/f", O_RDONLY, 0, RESOLVE_IN_ROOT) >= 0);
	CHECK(o2(d, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT));
	CHECK(o2(AT_FDCWD, "d/f", O_RDONLY, 0, RESOLVE_BENEATH) >= 0);
	CHECK(o2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV));
	CHECK(o2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, 0) >= 0);
	/* magic links */
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", d);
	CHECK(o2(AT_FDCWD, p, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
	CHECK(o2(AT_FDCWD, p, O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
	CHECK(o2(AT_FDCWD, p, O_RDONLY, 0, 0) >= 0);
	CHECK(o2(AT_FDCWD, p, O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_MAGICLINKS) >= 0);
	CHECK(o2(AT_FDCWD, "/proc/self/cwd", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
	CHECK(o2(d, "f", O_RDONLY, 0, RESOLVE_CACHED | 0) >= 0 || errno == EAGAIN);
	CHECK(o2(d, "new", O_RDONLY | O_CREAT, 0600, RESOLVE_CACHED));
	CHECK(o2(d, "f", O_RDWR | O_TRUNC, 0, RESOLVE_CACHED));
	CHECK(o2(d, "f", O_RDONLY | O_DIRECTORY, 0, 0));
	CHECK(o2(d, "sub", O_RDWR, 0, 0));
	CHECK(o2(d, "nope", O_RDONLY, 0, 0));
	CHECK(o2(d, "f/x", O_RDONLY, 0, 0));
	CHECK(o2(-5, "f", O_RDONLY, 0, 0));
	CHECK(o2(d, "f", O_RDONLY | O_CREAT | O_DIRECTORY, 0600, 0));
	CHECK(o2(d, "", O_RDONLY, 0, 0));
	close(d);
}

static void opath_cases(void) {
	printf("-- O_PATH\n");
	put("pf");
	symlink("pf", "pl");
	int fd = open("pf", O_PATH);
	char b[8];
	struct stat st;
	CHECK(read(fd, b, 1));
	CHECK(write(fd, "x", 1));
	CHECK(pread(fd, b, 1, 0));
	CHECK(lseek(fd, 0, SEEK_SET));
	CHECK(fstat(fd, &st));
	CHECK(fchmod(fd, 0600));
	CHECK(fchown(fd, -1, -1));
	CHECK(ftruncate(fd, 0));
	CHECK(fsync(fd));
	CHECK(flock(fd, LOCK_SH));
	CHECK(ioctl(fd, FIONREAD, b));
	CHECK((long)mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0));
	CHECK(fgetxattr(fd, "user.x", b, sizeof b));
	CHECK(fchdir(fd));
	CHECK(fcntl(fd, F_GETFL) & (O_PATH | O_ACCMODE));
	CHECK(fcntl(fd, F_GETFD));
	CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC));
	CHECK(fcntl(fd, F_SETFL, O_NONBLOCK));
	CHECK(fcntl(fd, F_GETFL) & (O_PATH | O_NONBLOCK));
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	CHECK(fcntl(fd, F_SETLK, &fl));
	CHECK(fcntl(fd, F_GETLK, &fl));
	int e = dup(fd);
	CHECK(e >= 0);
	close(e);
	CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH));
	CHECK(faccessat(fd, "", R_OK, AT_EMPTY_PATH));
	CHECK(openat(fd, "x", O_RDONLY));
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	int r = open(p, O_RDWR);
	CHECK(r >= 0);
	CHECK(read(r, b, 4));
	close(r);
	close(fd);
	/* O_PATH|O_NOFOLLOW on a symlink: the link itself. */
	fd = open("pl", O_PATH | O_NOFOLLOW);
	CHECK(fd >= 0);
	CHECK(fstat(fd, &st));
	CHECK(S_ISLNK(st.st_mode));
	char lb[16] = {0};
	CHECK(readlinkat(fd, "", lb, sizeof lb));
	printf("  link %s\n", lb);
	CHECK(fchownat(fd, "", -1, -1, AT_EMPTY_PATH));
	CHECK(open("pl", O_RDONLY | O_NOFOLLOW));
	close(fd);
	/* O_PATH on a directory: a dirfd, fchdir, but no getdents. */
	mkdir("pd", 0755);
	fd = open("pd", O_PATH | O_DIRECTORY);
	char dents[256];
	CHECK(syscall(SYS_getdents64, fd, dents, sizeof dents));
	CHECK(mkdirat(fd, "in", 0755));
	CHECK(fstatat(fd, "in", &st, 0));
	CHECK(fchdir(fd));
	CHECK(chdir(".."));
	CHECK(open("pd", O_PATH | O_WRONLY | O_CREAT | O_TRUNC, 0644) >= 0);
	close(fd);
	/* O_PATH on a FIFO does not block, on a missing name ENOENT. */
	mkfifo("pfifo", 0644);
	fd = open("pfifo", O_PATH);
	CHECK(fd >= 0);
	close(fd);
	CHECK(open("nothere", O_PATH));
	rmdir("pd/in"); rmdir("pd"); unlink("pf"); unlink("pl"); unlink("pfifo");
}

static void link_cases(void) {
	printf("-- link\n");
	put("a");
	symlink("a", "sa");
	symlink("missing", "dangling");
	mkdir("ld", 0755);
	struct stat st;
	CHECK(link("a", "b"));
	stat("a", &st);
	printf("  nlink %ld\n", (long)st.st_nlink);
	CHECK(link("a", "b"));
	CHECK(link("nope", "c"));
	CHECK(link("ld", "ld2"));
	CHECK(link("a", "nodir/c"));
	CHECK(link("a/x", "c"));
	CHECK(link("a", "a/c"));
	CHECK(link("a", ""));
	CHECK(link("", "c"));
	CHECK(linkat(AT_FDCWD, "sa", AT_FDCWD, "sa2", 0));
	lstat("sa2", &st);
	CHECK(S_ISLNK(st.st_mode));
	CHECK(linkat(AT_FDCWD, "sa", AT_FDCWD, "sa3", AT_SYMLINK_FOLLOW));
	lstat("sa3", &st);
	CHECK(S_ISREG(st.st_mode));
	CHECK(linkat(AT_FDCWD, "dangling", AT_FDCWD, "dg", AT_SYMLINK_FOLLOW));
	CHECK(linkat(AT_FDCWD, "dangling", AT_FDCWD, "dg", 0));
	CHECK(linkat(AT_FDCWD, "a", AT_FDCWD, "x", 0x8000));
	CHECK(linkat(-7, "a", AT_FDCWD, "x", 0));
	CHECK(linkat(AT_FDCWD, "a", -7, "x", 0));
	int fd = open("a", O_RDONLY);
	CHECK(linkat(fd, "a", AT_FDCWD, "x", 0));
	CHECK(linkat(fd, "", AT_FDCWD, "e1", 0));
	errno = 0;
	long r = linkat(fd, "", AT_FDCWD, "e1", AT_EMPTY_PATH);
	printf("linkat(fd, \"\", e1, AT_EMPTY_PATH) = %s\n", r == 0 ? "OK" : errname(errno));
	close(fd);
	int dfd = open("ld", O_RDONLY | O_DIRECTORY);
	r = linkat(dfd, "", AT_FDCWD, "e2", AT_EMPTY_PATH);
	printf("linkat(dirfd, \"\", e2, AT_EMPTY_PATH) = %s\n", r == 0 ? "OK" : errname(errno));
	close(dfd);
	/* an unlinked file cannot get a name back */
	put("gone");
	fd = open("gone", O_RDONLY);
	unlink("gone");
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	CHECK(linkat(AT_FDCWD, p, AT_FDCWD, "back", AT_SYMLINK_FOLLOW));
	close(fd);
	stat("a", &st);
	printf("  nlink %ld\n", (long)st.st_nlink);
	unlink("b"); unlink("sa3");
	stat("a", &st);
	printf("  nlink %ld\n", (long)st.st_nlink);
	unlink("e1"); unlink("e2"); unlink("sa"); unlink("sa2"); unlink("dangling"); unlink("a");
	rmdir("ld");
}

static void loop_cases(void) {
	printf("-- symlink loops and long names\n");
	mkdir("L", 0755);
	put("L/t0");
	char from[32], to[32];
	for (int i = 1; i <= 41; i++) {
		snprintf(from, sizeof from, "t%d", i - 1);
		snprintf(to, sizeof to, "L/t%d", i);
		symlink(from, to);
	}
	CHECK0(open("L/t40", O_RDONLY));
	CHECK(open("L/t41", O_RDONLY));
	struct stat st;
	CHECK(stat("L/t40", &st));
	CHECK(stat("L/t41", &st));
	CHECK(lstat("L/t41", &st));
	CHECK(open("L/t41", O_RDONLY | O_NOFOLLOW));
	CHECK(open("L/t41", O_PATH | O_NOFOLLOW) >= 0);
	symlink("self", "L/self");
	CHECK(open("L/self", O_RDONLY));
	CHECK(open("L/self/x", O_RDONLY));
	CHECK(mkdir("L/self", 0755));
	CHECK(mkdir("L/self/x", 0755));
	CHECK(open("L/self", O_CREAT | O_WRONLY, 0644));
	CHECK(access("L/self", F_OK));
	CHECK(unlink("L/self/x"));
	CHECK(truncate("L/self", 0));
	symlink("pingb", "L/pinga");
	symlink("pinga", "L/pingb");
	CHECK(chdir("L/pinga"));
	CHECK(rename("L/pinga/x", "L/y"));
	for (int i = 0; i <= 41; i++) {
		snprintf(to, sizeof to, "L/t%d", i);
		unlink(to);
	}
	unlink("L/self"); unlink("L/pinga"); unlink("L/pingb");
	rmdir("L");

	char n255[256], n256[257];
	memset(n255, 'n', 255); n255[255] = 0;
	memset(n256, 'm', 256); n256[256] = 0;
	put("src");
	CHECK(rename("src", n256));
	CHECK(rename("missing", n256));
	CHECK(rename(n256, "x"));
	CHECK(rename("missing", n255));
	CHECK(rename("src", n255));
	CHECK(rename(n255, "src"));
	CHECK(link("missing", n256));
	CHECK(link("src", n256));
	CHECK(symlink("missing", n256));
	CHECK(mkdir(n256, 0755));
	CHECK(rmdir(n256));
	CHECK(unlink(n256));
	CHECK(open(n256, O_RDONLY));
	CHECK(open(n256, O_CREAT | O_WRONLY, 0644));
	CHECK(stat(n256, &st));
	char nd[300];
	snprintf(nd, sizeof nd, "%s/x", n256);
	CHECK(stat(nd, &st));
	CHECK(mkdir(nd, 0755));
	CHECK(rename("nodir/x", n256));
	CHECK(rename("src", "nodir/x"));
	char lp[5000];
	memset(lp, 'a', sizeof lp);
	for (int i = 100; i < (int)sizeof lp; i += 100) lp[i] = '/';
	lp[4096] = 0;
	CHECK(stat(lp, &st));
	lp[4095] = 0;
	CHECK(stat(lp, &st));
	char sl[4200];
	memset(sl, 'b', sizeof sl); sl[4095] = 0;
	CHECK(symlink(sl, "longlink"));
	sl[4094] = 0;
	CHECK(symlink(sl, "longlink"));
	char rb[5000];
	CHECK(readlink("longlink", rb, sizeof rb));
	CHECK(symlink("", "emptylink"));
	unlink("longlink"); unlink("src");
}

static void nlink_cases(void) {
	printf("-- directory link counts\n");
	struct stat st;
	int here = open(".", O_RDONLY | O_DIRECTORY);
	mkdir("N", 0755);
	stat("N", &st); printf("  N %ld\n", (long)st.st_nlink);
	mkdir("N/a", 0755);
	mkdir("N/b", 0755);
	put("N/f");
	stat("N", &st); printf("  N %ld\n", (long)st.st_nlink);
	rename("N/a", "N/b/a");
	stat("N", &st); printf("  N %ld\n", (long)st.st_nlink);
	stat("N/b", &st); printf("  N/b %ld\n", (long)st.st_nlink);
	mkdir("N/c", 0755);
	CHECK(rename("N/c", "N/b"));
	CHECK(rename("N/b/a", "N/c"));
	stat("N", &st); printf("  N %ld\n", (long)st.st_nlink);
	stat("N/b", &st); printf("  N/b %ld\n", (long)st.st_nlink);
	CHECK(rename("N/b", "N/c"));
	stat("N", &st); printf("  N %ld\n", (long)st.st_nlink);
	int fd = open("N/c", O_RDONLY | O_DIRECTORY);
	rmdir("N/c");
	fstat(fd, &st); printf("  removed %ld\n", (long)st.st_nlink);
	CHECK(mkdirat(fd, "x", 0755));
	CHECK(openat(fd, "y", O_CREAT | O_WRONLY, 0644));
	char dents[512];
	CHECK(syscall(SYS_getdents64, fd, dents, sizeof dents));
	CHECK(fchdir(fd));
	CHECK(mkdir("z", 0755));
	CHECK(fchdir(here));
	close(here);
	close(fd);
	unlink("N/f");
	stat("N", &st); printf("  N %ld\n", (long)st.st_nlink);
	rmdir("N");
}

/* names read once each, and none unlinked before being read */
static void dents_cases(void) {
	printf("-- getdents64 while the directory changes\n");
	mkdir("G", 0755);
	char name[64];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "G/f%02d", i);
		put(name);
	}
	int fd = open("G", O_RDONLY | O_DIRECTORY);
	char buf[4096];
	char seen[64][64];
	int n = 0, dups = 0, stale = 0, first = 1;
	int removed[40] = {0};
	for (;;) {
		long r = syscall(SYS_getdents64, fd, buf, first ? 128 : sizeof buf);
		if (r <= 0) { if (r < 0) printf("  getdents64 %s\n", errname(errno)); break; }
		for (long o = 0; o < r;) {
			struct { unsigned long ino; long off; unsigned short reclen; unsigned char type; char name[]; } *e = (void *)(buf + o);
			o += e->reclen;
			if (e->name[0] == '.') continue;
			for (int i = 0; i < n; i++) if (!strcmp(seen[i], e->name)) dups++;
			int k = atoi(e->name + 1);
			if (e->name[0] == 'f' && removed[k]) stale++;
			if (n < 64) snprintf(seen[n++], 64, "%s", e->name);
		}
		if (first) {
			/* remove every name not yet read and add new ones */
			first = 0;
			for (int i = 0; i < 40; i++) {
				snprintf(name, sizeof name, "f%02d", i);
				int was = 0;
				for (int j = 0; j < n; j++) if (!strcmp(seen[j], name)) was = 1;
				if (!was && i % 2) {
					snprintf(name, sizeof name, "G/f%02d", i);
					unlink(name);
					removed[i] = 1;
				}
			}
			put("G/new1");
			put("G/new2");
		}
	}
	int f = 0;
	for (int i = 0; i < n; i++) if (seen[i][0] == 'f') f++;
	int want = 0;
	for (int i = 0; i < 40; i++) if (!removed[i]) want++;
	printf("  old names %s, dups %d, stale %d\n", f == want ? "all" : "missing", dups, stale);
	CHECK(lseek(fd, 0, SEEK_SET));
	long r = syscall(SYS_getdents64, fd, buf, sizeof buf);
	CHECK(r > 0);
	CHECK(syscall(SYS_getdents64, fd, buf, 8));
	CHECK(lseek(fd, 0, SEEK_SET));
	CHECK(syscall(SYS_getdents64, fd, buf, 8));
	CHECK(syscall(SYS_getdents64, fd, (void *)8, sizeof buf));
	CHECK(syscall(SYS_getdents64, -1, buf, sizeof buf));
	close(fd);
	fd = open("G/new1", O_RDONLY);
	CHECK(syscall(SYS_getdents64, fd, buf, sizeof buf));
	close(fd);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "G/f%02d", i);
		unlink(name);
	}
	unlink("G/new1"); unlink("G/new2");
	rmdir("G");
}

static void cases(void) {
	openat2_cases();
	opath_cases();
	link_cases();
	loop_cases();
	nlink_cases();
	dents_cases();
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: fsnamei DIR\n");
		return 2;
	}
	char dir[] = "fsnamei-XXXXXX";
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	printf("== host directory\n");
	cases();
	char shm[] = "/dev/shm/sbxdiff-fsnamei-XXXXXX";
	if (mkdtemp(shm) == NULL || chmod(shm, 0755) != 0 || chdir(shm) != 0) {
		perror("shmdir");
		return 2;
	}
	printf("== tmpfs\n");
	cases();
	return 0;
}
