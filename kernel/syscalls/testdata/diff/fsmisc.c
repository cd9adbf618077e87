/* sbx-diff: host-rw-dir
 * File calls beyond read and write, in a host directory (served by the gofer) and on
 * tmpfs (/dev/shm): record locks (F_SETLK/F_GETLK between processes, OFD locks and their
 * rules, lock splitting and merging as F_GETLK shows it), flock errno paths,
 * sync_file_range, posix_fadvise, readahead, name_to_handle_at, fallocate modes,
 * lseek SEEK_DATA/SEEK_HOLE, statx masks and flags, and RLIMIT_FSIZE on the calls that
 * write files without write(2): sendfile, copy_file_range, splice. */
#include "common.h"
#include <linux/falloc.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200
#endif
#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif

static void put(const char *name, int size) {
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	char b[4096];
	memset(b, 'x', sizeof b);
	while (size > 0) {
		int n = size > (int)sizeof b ? (int)sizeof b : size;
		write(fd, b, n);
		size -= n;
	}
	close(fd);
}

static void showlk(const char *what, struct flock *l, pid_t child) {
	const char *t = l->l_type == F_RDLCK ? "RD" : l->l_type == F_WRLCK ? "WR" : l->l_type == F_UNLCK ? "UN" : "?";
	const char *who = l->l_pid == 0 ? "0" : l->l_pid == -1 ? "-1" : l->l_pid == child ? "child" : l->l_pid == getpid() ? "self" : "other";
	printf("  %s: %s start %ld len %ld pid %s\n", what, t, (long)l->l_start, (long)l->l_len, who);
}

static int getlk(int fd, int cmd, short type, off_t start, off_t len, struct flock *l) {
	memset(l, 0, sizeof *l);
	l->l_type = type;
	l->l_whence = SEEK_SET;
	l->l_start = start;
	l->l_len = len;
	return fcntl(fd, cmd, l);
}

static void lock_cases(void) {
	printf("-- record locks\n");
	put("lk", 100);
	int fd = open("lk", O_RDWR);
	struct flock l;
	CHECK(getlk(fd, F_SETLK, F_WRLCK, 10, 10, &l));
	CHECK(getlk(fd, F_SETLK, F_RDLCK, 30, 0, &l));
	CHECK(getlk(fd, F_GETLK, F_WRLCK, 0, 0, &l));
	showlk("own", &l, 0);
	int p1[2], p2[2];
	pipe(p1);
	pipe(p2);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char x;
		int cfd = open("lk", O_RDWR);
		struct flock m;
		CHECK(getlk(cfd, F_GETLK, F_WRLCK, 0, 0, &m));
		showlk("child sees", &m, 0);
		CHECK(getlk(cfd, F_GETLK, F_RDLCK, 0, 0, &m));
		showlk("child rd sees", &m, 0);
		CHECK(getlk(cfd, F_GETLK, F_RDLCK, 40, 5, &m));
		showlk("child rd at 40", &m, 0);
		CHECK(getlk(cfd, F_GETLK, F_WRLCK, 25, 3, &m));
		showlk("child gap", &m, 0);
		CHECK(getlk(cfd, F_SETLK, F_WRLCK, 15, 1, &m));
		CHECK(getlk(cfd, F_SETLK, F_RDLCK, 15, 1, &m));
		CHECK(getlk(cfd, F_SETLK, F_RDLCK, 50, 1, &m));
		CHECK(getlk(cfd, F_SETLK, F_WRLCK, 20, 5, &m));
		/* OFD lock conflicts with the parent's process lock */
		CHECK(getlk(cfd, F_OFD_SETLK, F_WRLCK, 12, 1, &m));
		CHECK(getlk(cfd, F_OFD_GETLK, F_WRLCK, 12, 1, &m));
		showlk("child ofd sees", &m, 0);
		write(p1[1], "r", 1);
		read(p2[0], &x, 1);
		_exit(0);
	}
	char x;
	read(p1[0], &x, 1);
	CHECK(getlk(fd, F_GETLK, F_WRLCK, 20, 5, &l));
	showlk("parent sees child", &l, c);
	CHECK(getlk(fd, F_GETLK, F_RDLCK, 50, 1, &l));
	showlk("parent rd at 50", &l, c);
	CHECK(getlk(fd, F_SETLK, F_WRLCK, 50, 1, &l));
	write(p2[1], "g", 1);
	waitpid(c, NULL, 0);
	CHECK(getlk(fd, F_SETLK, F_WRLCK, 50, 1, &l));
	/* errno paths */
	CHECK(getlk(fd, F_SETLK, 7, 0, 1, &l));
	CHECK(getlk(fd, F_SETLK, F_WRLCK, -5, 1, &l));
	CHECK(getlk(fd, F_SETLK, F_WRLCK, 5, -10, &l));
	CHECK(getlk(fd, F_SETLK, F_WRLCK, 5, -3, &l));
	CHECK(getlk(fd, F_GETLK, F_UNLCK, 0, 0, &l));
	CHECK(fcntl(fd, F_GETLK, (void *)8));
	l.l_whence = 7;
	CHECK(fcntl(fd, F_SETLK, &l));
	int ro = open("lk", O_RDONLY);
	CHECK(getlk(ro, F_SETLK, F_WRLCK, 0, 1, &l));
	CHECK(getlk(ro, F_SETLK, F_RDLCK, 0, 1, &l));
	CHECK(getlk(ro, F_GETLK, F_WRLCK, 0, 1, &l));
	int wo = open("lk", O_WRONLY);
	CHECK(getlk(wo, F_SETLK, F_RDLCK, 0, 1, &l));
	/* closing any descriptor of the file drops the process's locks */
	close(ro);
	close(wo);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		int cfd = open("lk", O_RDWR);
		struct flock m;
		CHECK(getlk(cfd, F_GETLK, F_WRLCK, 0, 0, &m));
		showlk("after close", &m, 0);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	/* OFD locks: l_pid must be 0; owned by the description */
	int o1 = open("lk", O_RDWR), o2 = open("lk", O_RDWR);
	memset(&l, 0, sizeof l);
	l.l_type = F_WRLCK; l.l_pid = 1;
	CHECK(fcntl(o1, F_OFD_SETLK, &l));
	CHECK(fcntl(o1, F_OFD_GETLK, &l));
	CHECK(getlk(o1, F_OFD_SETLK, F_WRLCK, 0, 10, &l));
	CHECK(getlk(o1, F_OFD_SETLK, F_WRLCK, 0, 10, &l));
	CHECK(getlk(o2, F_OFD_SETLK, F_WRLCK, 5, 1, &l));
	CHECK(getlk(o2, F_OFD_GETLK, F_WRLCK, 5, 1, &l));
	showlk("ofd other desc", &l, 0);
	CHECK(getlk(o2, F_OFD_GETLK, F_WRLCK, 60, 1, &l));
	showlk("ofd free", &l, 0);
	CHECK(getlk(o2, F_SETLK, F_WRLCK, 5, 1, &l));
	int d = dup(o1);
	CHECK(getlk(d, F_OFD_SETLK, F_RDLCK, 0, 10, &l));
	close(o1);
	CHECK(getlk(o2, F_OFD_SETLK, F_WRLCK, 5, 1, &l));
	close(d);
	CHECK(getlk(o2, F_OFD_SETLK, F_WRLCK, 5, 1, &l));
	CHECK(getlk(o2, F_OFD_SETLKW, F_UNLCK, 0, 0, &l));
	close(o2);
	/* splitting: unlock the middle of a lock */
	CHECK(getlk(fd, F_SETLK, F_UNLCK, 0, 0, &l));
	CHECK(getlk(fd, F_SETLK, F_WRLCK, 0, 30, &l));
	CHECK(getlk(fd, F_SETLK, F_UNLCK, 10, 10, &l));
	CHECK(getlk(fd, F_SETLK, F_RDLCK, 25, 10, &l));
	fflush(stdout);
	c = fork();
	if (c == 0) {
		int cfd = open("lk", O_RDWR);
		struct flock m;
		for (int s = 0; s < 40; s += 5) {
			getlk(cfd, F_GETLK, F_WRLCK, s, 1, &m);
			printf("  at %d: %s\n", s, m.l_type == F_UNLCK ? "free" : m.l_type == F_RDLCK ? "RD" : "WR");
		}
		getlk(cfd, F_GETLK, F_WRLCK, 0, 0, &m);
		showlk("first", &m, 0);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	close(fd);

	printf("-- flock\n");
	fd = open("lk", O_RDONLY);
	CHECK(flock(fd, LOCK_EX | LOCK_NB));
	CHECK(flock(fd, 0));
	CHECK(flock(fd, LOCK_SH | LOCK_EX));
	CHECK(flock(fd, 77));
	CHECK(flock(-1, LOCK_SH));
	CHECK(flock(fd, LOCK_UN));
	CHECK(flock(fd, LOCK_UN));
	int fd2 = open("lk", O_RDONLY);
	CHECK(flock(fd, LOCK_SH));
	CHECK(flock(fd2, LOCK_SH | LOCK_NB));
	CHECK(flock(fd2, LOCK_EX | LOCK_NB));
	CHECK(flock(fd, LOCK_UN));
	CHECK(flock(fd2, LOCK_EX | LOCK_NB));
	CHECK(flock(fd, LOCK_SH | LOCK_NB));
	close(fd); close(fd2);
	unlink("lk");
}

static void hint_cases(void) {
	printf("-- sync_file_range, fadvise, readahead\n");
	put("h", 10000);
	int fd = open("h", O_RDWR);
	CHECK(sync_file_range(fd, 0, 0, 0));
	CHECK(sync_file_range(fd, 0, 100, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
	CHECK(sync_file_range(fd, 0, 100, 8));
	CHECK(sync_file_range(fd, -1, 100, 0));
	CHECK(sync_file_range(fd, 0, -1, 0));
	CHECK(sync_file_range(fd, 0x7fffffffffffffffL, 2, 0));
	CHECK(sync_file_range(99, 0, 0, 0));
	int p[2];
	pipe(p);
	CHECK(sync_file_range(p[0], 0, 0, 0));
	int ro = open("h", O_RDONLY);
	CHECK(sync_file_range(ro, 0, 0, SYNC_FILE_RANGE_WRITE));
	errno = 0;
	printf("fadvise normal = %s\n", errname(posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL)));
	printf("fadvise dontneed = %s\n", errname(posix_fadvise(fd, 0, 100, POSIX_FADV_DONTNEED)));
	printf("fadvise willneed = %s\n", errname(posix_fadvise(ro, 0, 100, POSIX_FADV_WILLNEED)));
	printf("fadvise noreuse = %s\n", errname(posix_fadvise(ro, 0, 100, POSIX_FADV_NOREUSE)));
	printf("fadvise bad advice = %s\n", errname(posix_fadvise(fd, 0, 0, 99)));
	printf("fadvise negative len = %s\n", errname(posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL)));
	printf("fadvise negative off = %s\n", errname(posix_fadvise(fd, -1, 10, POSIX_FADV_NORMAL)));
	printf("fadvise pipe = %s\n", errname(posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL)));
	printf("fadvise bad fd = %s\n", errname(posix_fadvise(99, 0, 0, POSIX_FADV_NORMAL)));
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	printf("fadvise dir = %s\n", errname(posix_fadvise(dfd, 0, 0, POSIX_FADV_NORMAL)));
	CHECK(readahead(ro, 0, 4096));
	CHECK(readahead(ro, -1, 4096));
	CHECK(readahead(p[0], 0, 4096));
	CHECK(readahead(99, 0, 4096));
	CHECK(readahead(dfd, 0, 4096));
	int wo = open("h", O_WRONLY);
	CHECK(readahead(wo, 0, 4096));
	int opath = open("h", O_PATH);
	CHECK(readahead(opath, 0, 4096));
	CHECK(fdatasync(opath));
	CHECK(fsync(dfd));
	CHECK(fdatasync(p[1]));
	CHECK(syncfs(fd));
	CHECK(syncfs(99));
	close(wo); close(opath); close(dfd); close(p[0]); close(p[1]); close(ro); close(fd);
	unlink("h");
}

static void handle_cases(int tmpfs) {
	printf("-- name_to_handle_at, open_by_handle_at\n");
	put("nh", 10);
	struct { struct file_handle h; char b[128]; } fh, fh2;
	int mnt, mnt2;
	fh.h.handle_bytes = 0;
	CHECK(name_to_handle_at(AT_FDCWD, "nh", &fh.h, &mnt, 0));
	printf("  needed %s type %d\n", fh.h.handle_bytes > 0 && fh.h.handle_bytes <= 128 ? "some" : "none", fh.h.handle_type);
	fh.h.handle_bytes = 129;
	CHECK(name_to_handle_at(AT_FDCWD, "nh", &fh.h, &mnt, 0));
	fh.h.handle_bytes = 128;
	CHECK(name_to_handle_at(AT_FDCWD, "nh", &fh.h, &mnt, 0x8000));
	CHECK(name_to_handle_at(AT_FDCWD, "nope", &fh.h, &mnt, 0));
	CHECK(name_to_handle_at(AT_FDCWD, "nh", NULL, &mnt, 0));
	CHECK(name_to_handle_at(AT_FDCWD, "nh", &fh.h, &mnt, 0));
	fh2.h.handle_bytes = 128;
	CHECK(name_to_handle_at(AT_FDCWD, "nh", &fh2.h, &mnt2, 0));
	printf("  same handle twice %d, same mount %d\n", fh.h.handle_bytes == fh2.h.handle_bytes &&
	       fh.h.handle_type == fh2.h.handle_type && !memcmp(fh.h.f_handle, fh2.h.f_handle, fh.h.handle_bytes), mnt == mnt2);
	int fd = open("nh", O_RDONLY);
	fh2.h.handle_bytes = 128;
	CHECK(name_to_handle_at(fd, "", &fh2.h, &mnt2, AT_EMPTY_PATH));
	printf("  by fd same %d\n", !memcmp(fh.h.f_handle, fh2.h.f_handle, fh.h.handle_bytes));
	close(fd);
	fh2.h.handle_bytes = 128;
	CHECK(name_to_handle_at(AT_FDCWD, "/proc/self/status", &fh2.h, &mnt2, 0));
	fh2.h.handle_bytes = 128;
	CHECK(name_to_handle_at(AT_FDCWD, "/proc/self/status", &fh2.h, &mnt2, AT_HANDLE_FID));
	printf("  fid size %d type %x\n", fh2.h.handle_bytes, fh2.h.handle_type);
	fh2.h.handle_bytes = 128;
	CHECK(name_to_handle_at(AT_FDCWD, "nh", &fh2.h, &mnt2, AT_HANDLE_FID));
	printf("  fid of an exporting fs is its handle %d\n", !memcmp(fh.h.f_handle, fh2.h.f_handle, fh.h.handle_bytes));
	/* opening by handle: CAP_DAC_READ_SEARCH; tmpfs only (host files need the host's
	 * generation number, which the gofer does not pass) */
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	fd = open_by_handle_at(dfd, &fh.h, O_RDONLY);
	if (!tmpfs && fd >= 0) {
		close(fd);
	} else if (fd >= 0 || errno != EPERM) {
		char b[16] = {0};
		printf("  open_by_handle_at %s", fd >= 0 ? "OK" : errname(errno));
		if (fd >= 0) {
			printf(" read %zd %s", read(fd, b, sizeof b - 1), b);
			close(fd);
		}
		printf("\n");
		errno = 0;
		fd = open_by_handle_at(dfd, &fh.h, O_RDWR | O_APPEND);
		printf("  rdwr %s\n", fd >= 0 ? "OK" : errname(errno));
		if (fd >= 0) close(fd);
		fd = open_by_handle_at(dfd, &fh.h, O_PATH);
		printf("  O_PATH %s\n", fd >= 0 ? "OK" : errname(errno));
		if (fd >= 0) close(fd);
		fh2 = fh;
		fh2.h.f_handle[5] ^= 0x55;
		fd = open_by_handle_at(dfd, &fh2.h, O_RDONLY);
		printf("  changed handle %s\n", fd >= 0 ? "OK" : errname(errno));
		unlink("nh");
		fd = open_by_handle_at(dfd, &fh.h, O_RDONLY);
		printf("  after unlink %s\n", fd >= 0 ? "OK" : errname(errno));
	} else {
		printf("  open_by_handle_at EPERM\n");
	}
	fh2 = fh;
	fh2.h.handle_bytes = 0;
	CHECK(open_by_handle_at(dfd, &fh2.h, O_RDONLY));
	fh2.h.handle_bytes = 129;
	CHECK(open_by_handle_at(dfd, &fh2.h, O_RDONLY));
	CHECK(open_by_handle_at(-7, &fh.h, O_RDONLY));
	CHECK(open_by_handle_at(dfd, NULL, O_RDONLY));
	close(dfd);
	unlink("nh");
}

static void alloc_cases(void) {
	printf("-- fallocate, SEEK_DATA/SEEK_HOLE\n");
	int fd = open("fa", O_CREAT | O_RDWR | O_TRUNC, 0644);
	struct stat st;
	CHECK(fallocate(fd, 0, 0, 8192));
	fstat(fd, &st);
	printf("  size %ld\n", (long)st.st_size);
	CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192));
	fstat(fd, &st);
	printf("  size %ld\n", (long)st.st_size);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	CHECK(fallocate(fd, 0x1000, 0, 4096));
	CHECK(fallocate(fd, 0, 0, 0));
	CHECK(fallocate(fd, 0, -1, 10));
	CHECK(fallocate(fd, 0, 0x7fffffffffffffffL, 10));
	int ro = open("fa", O_RDONLY);
	CHECK(fallocate(ro, 0, 0, 10));
	close(ro);
	int ap = open("fa", O_WRONLY | O_APPEND);
	CHECK(fallocate(ap, 0, 0, 10));
	CHECK(fallocate(ap, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 10));
	close(ap);
	ftruncate(fd, 0);
	pwrite(fd, "d", 1, 0);
	pwrite(fd, "d", 1, 3 << 20);
	CHECK(lseek(fd, 0, SEEK_DATA));
	CHECK(lseek(fd, 0, SEEK_HOLE) > 0);
	CHECK(lseek(fd, (3 << 20) + 1, SEEK_HOLE));
	CHECK(lseek(fd, (3 << 20) + 1, SEEK_DATA));
	CHECK(lseek(fd, (3 << 20) + 5, SEEK_DATA));
	CHECK(lseek(fd, -1, SEEK_DATA));
	CHECK(lseek(fd, 1 << 30, SEEK_HOLE));
	CHECK(lseek(fd, 0, 5));
	close(fd);
	unlink("fa");
}

static void statx_cases(int tmpfs) {
	printf("-- statx\n");
	put("sx", 10);
	struct statx sx;
	/* which bits come back: multigrain times only when asked for, btime only when asked
	 * for (host directories: the gofer does not pass birth times), unique mount IDs */
	unsigned reqs[] = {0, STATX_TYPE, STATX_BASIC_STATS, STATX_MTIME, STATX_CTIME, STATX_ATIME, STATX_MNT_ID,
		0x4000, STATX_BTIME, STATX_BASIC_STATS | STATX_BTIME};
	for (int i = 0; i < (int)(sizeof reqs / sizeof *reqs); i++) {
		if (!tmpfs && (reqs[i] & STATX_BTIME))
			continue;
		memset(&sx, 0, sizeof sx);
		int r = statx(AT_FDCWD, "sx", 0, reqs[i], &sx);
		printf("  statx mask %x: %d -> %x\n", reqs[i], r, sx.stx_mask);
		if (tmpfs)
			printf("    attributes %llx of %llx\n", (unsigned long long)sx.stx_attributes, (unsigned long long)sx.stx_attributes_mask);
	}
	const char *others[] = {"/proc", "/proc/self/stat", "/dev/null", "/dev/shm"};
	for (int i = 0; tmpfs && i < 4; i++) {
		memset(&sx, 0, sizeof sx);
		statx(AT_FDCWD, others[i], 0, STATX_BASIC_STATS | STATX_BTIME, &sx);
		printf("  %s: mask %x attributes %llx of %llx\n", others[i], sx.stx_mask, (unsigned long long)sx.stx_attributes, (unsigned long long)sx.stx_attributes_mask);
		statx(AT_FDCWD, others[i], 0, 0, &sx);
		printf("  %s: mask %x\n", others[i], sx.stx_mask);
	}
	memset(&sx, 0, sizeof sx);
	CHECK(statx(AT_FDCWD, "sx", 0, STATX_BASIC_STATS, &sx));
	printf("  basic mask has %x nlink %u size %llu\n", sx.stx_mask & (STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_SIZE | STATX_INO), sx.stx_nlink, (unsigned long long)sx.stx_size);
	CHECK(statx(AT_FDCWD, "sx", 0, STATX_TYPE, &sx));
	printf("  type mask has %x\n", sx.stx_mask & (STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_SIZE | STATX_INO));
	CHECK(statx(AT_FDCWD, "sx", 0, 0x80000000u, &sx));
	CHECK(statx(AT_FDCWD, "sx", 0x10000000, STATX_BASIC_STATS, &sx));
	CHECK(statx(AT_FDCWD, "sx", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx));
	CHECK(statx(AT_FDCWD, "sx", AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx));
	CHECK(statx(AT_FDCWD, "sx", AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx));
	CHECK(statx(AT_FDCWD, "sx", 0, STATX_BASIC_STATS, NULL));
	CHECK(statx(AT_FDCWD, NULL, 0, STATX_BASIC_STATS, &sx));
	CHECK(statx(AT_FDCWD, "", 0, STATX_BASIC_STATS, &sx));
	CHECK(statx(AT_FDCWD, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx));
	int fd = open("sx", O_RDONLY);
	CHECK(statx(fd, NULL, AT_EMPTY_PATH, STATX_BASIC_STATS, &sx));
	printf("  by fd size %llu\n", (unsigned long long)sx.stx_size);
	close(fd);
	CHECK(statx(-5, "sx", 0, STATX_BASIC_STATS, &sx));
	symlink("sx", "sxl");
	CHECK(statx(AT_FDCWD, "sxl", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx));
	printf("  link type %o\n", sx.stx_mode & S_IFMT);
	unlink("sxl");
	unlink("sx");
}

static volatile int xfsz;
static void onxfsz(int s) { (void)s; xfsz++; }

/* While the limit is set nothing is printed (stdout may be a file): results are kept. */
static char fsout[4096];
static void note(const char *what, long r) {
	size_t l = strlen(fsout);
	snprintf(fsout + l, sizeof fsout - l, "%-50s = %ld %s, xfsz %d\n", what, r < 0 ? -1L : r, r < 0 ? errname(errno) : "OK", xfsz);
}
#define NOTE(expr) do { errno = 0; long _r = (long)(expr); note(#expr, _r); } while (0)

static void fsize_cases(void) {
	printf("-- RLIMIT_FSIZE without write(2)\n");
	signal(SIGXFSZ, onxfsz);
	put("src", 10000);
	int in = open("src", O_RDONLY);
	int out = open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
	int p[2];
	pipe(p);
	char b[4096];
	memset(b, 'p', sizeof b);
	struct rlimit old, r = {5000, RLIM_INFINITY};
	getrlimit(RLIMIT_FSIZE, &old);
	fsout[0] = 0;
	xfsz = 0;
	setrlimit(RLIMIT_FSIZE, &r);
	off_t o = 0;
	NOTE(sendfile(out, in, &o, 8000));
	NOTE(sendfile(out, in, &o, 8000));
	NOTE(o);
	NOTE(sendfile(out, in, NULL, 8000));
	NOTE(lseek(in, 0, SEEK_CUR));
	NOTE(lseek(out, 0, SEEK_CUR));
	NOTE(sendfile(out, in, &o, 0));
	ftruncate(out, 0);
	lseek(out, 0, SEEK_SET);
	loff_t io = 0, oo = 0;
	NOTE(copy_file_range(in, &io, out, &oo, 8000, 0));
	NOTE(copy_file_range(in, &io, out, &oo, 8000, 0));
	NOTE(copy_file_range(in, &io, out, &oo, 0, 0));
	io = 20000;
	NOTE(copy_file_range(in, &io, out, &oo, 10, 0));
	oo = 4000;
	NOTE(copy_file_range(in, &io, out, &oo, 10, 0));
	ftruncate(out, 0);
	write(p[1], b, 4096);
	write(p[1], b, 4096);
	loff_t so = 0;
	NOTE(splice(p[0], NULL, out, &so, 8192, 0));
	NOTE(splice(p[0], NULL, out, &so, 8192, SPLICE_F_NONBLOCK));
	NOTE(splice(p[0], NULL, out, &so, 8192, 0));
	NOTE(read(p[0], b, sizeof b));
	lseek(out, 4990, SEEK_SET);
	write(p[1], b, 20);
	NOTE(splice(p[0], NULL, out, NULL, 20, 0));
	NOTE(read(p[0], b, sizeof b));
	struct stat st;
	fstat(out, &st);
	NOTE(st.st_size);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	fputs(fsout, stdout);
	close(p[0]); close(p[1]);
	close(in); close(out);
	unlink("src"); unlink("dst");
}

static void cases(int tmpfs) {
	lock_cases();
	hint_cases();
	handle_cases(tmpfs);
	alloc_cases();
	statx_cases(tmpfs);
	fsize_cases();
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: fsmisc DIR\n");
		return 2;
	}
	char dir[] = "fsmisc-XXXXXX";
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	printf("== host directory\n");
	cases(0);
	char shm[] = "/dev/shm/sbxdiff-fsmisc-XXXXXX";
	if (mkdtemp(shm) == NULL || chmod(shm, 0755) != 0 || chdir(shm) != 0) {
		perror("shmdir");
		return 2;
	}
	printf("== tmpfs\n");
	cases(1);
	return 0;
}
