/* Reopening open files through /proc/self/fd/N, /dev/fd/N and /dev/stdin makes a new open
 * file description of the same object (its own offset and flags), as bash's <(...) and
 * `cat /dev/stdin` need: pipes (either end, any access mode), memfds, regular and unlinked
 * files; sockets give ENXIO. The links read as Linux's: pipe:[N] and socket:[N] with the
 * file's inode number, /memfd:NAME (deleted), anon_inode:[eventfd] and the like. */
#include "common.h"
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <signal.h>

static char path[64];

static const char *fdpath(const char *dir, int fd) {
	snprintf(path, sizeof path, "%s/%d", dir, fd);
	return path;
}

/* showlink prints the link text, with the inode number replaced when it is the file's own. */
static void showlink(int fd) {
	char buf[256] = {0};
	struct stat st;
	fstat(fd, &st);
	long n = readlink(fdpath("/proc/self/fd", fd), buf, sizeof buf - 1);
	if (n < 0) {
		printf("readlink fd: %s\n", errname(errno));
		return;
	}
	char ino[64];
	snprintf(ino, sizeof ino, "[%lu]", (unsigned long)st.st_ino);
	char *at = strstr(buf, ino);
	if (at != NULL)
		printf("link: %.*s[ino]%s\n", (int)(at - buf), buf, at + strlen(ino));
	else if (strncmp(buf, "/tmp/", 5) == 0)
		printf("link: .../%s\n", strrchr(buf, '/') + 1);
	else
		printf("link: %s\n", buf);
}

/* fdinfo's ino is the file's inode number, as fstat gives it. */
static void fdinfo(const char *what, int fd) {
	char path[64], buf[512] = {0};
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY);
	read(f, buf, sizeof buf - 1);
	close(f);
	struct stat st;
	fstat(fd, &st);
	char *ino = strstr(buf, "ino:");
	printf("%s: fdinfo ino matches fstat %d\n", what, ino != NULL && strtoul(ino + 4, NULL, 10) == st.st_ino);
}

static void attrs(const char *what, int fd) {
	struct stat st;
	if (fstat(fd, &st) != 0) {
		printf("%s: fstat %s\n", what, errname(errno));
		return;
	}
	printf("%s: type %o mode %o mine %d nlink %lu\n", what, st.st_mode & S_IFMT, st.st_mode & 07777,
		st.st_uid == geteuid() && st.st_gid == getegid(), (unsigned long)st.st_nlink);
}

static void readall(const char *what, int fd) {
	char buf[64] = {0};
	errno = 0;
	long n = read(fd, buf, sizeof buf - 1);
	printf("%s: read %ld %s \"%s\"\n", what, n, n < 0 ? errname(errno) : "OK", n > 0 ? buf : "");
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	workdir("reopen");

	/* Pipes: either end, reopened for reading, writing or both. */
	int p[2];
	CHECK(pipe(p));
	showlink(p[0]);
	showlink(p[1]);
	attrs("pipe", p[0]);
	fdinfo("pipe", p[0]);
	write(p[1], "hello", 5);
	int r = open(fdpath("/proc/self/fd", p[0]), O_RDONLY);
	CHECK(r >= 0);
	readall("pipe reopened", r);
	CHECK(fcntl(r, F_GETFL) & O_ACCMODE);
	int w = open(fdpath("/dev/fd", p[1]), O_WRONLY | O_NONBLOCK);
	CHECK(w >= 0);
	CHECK((fcntl(w, F_GETFL) & O_NONBLOCK) != 0);
	CHECK((fcntl(p[1], F_GETFL) & O_NONBLOCK) != 0);
	CHECK(write(w, "via w", 5));
	readall("pipe after write", p[0]);
	int rw = open(fdpath("/proc/self/fd", p[1]), O_RDWR);
	CHECK(rw >= 0);
	CHECK(write(rw, "rw", 2));
	readall("pipe rw", rw);
	int rd = open(fdpath("/proc/self/fd", p[1]), O_RDONLY);
	CHECK(rd >= 0);
	write(p[1], "x", 1);
	readall("read end of write end", rd);
	close(r);
	close(w);
	close(rw);
	close(rd);
	/* /dev/stdin of a pipe */
	int saved = dup(0);
	dup2(p[0], 0);
	write(p[1], "stdin data", 10);
	int s = open("/dev/stdin", O_RDONLY);
	CHECK(s >= 0);
	readall("/dev/stdin", s);
	close(s);
	dup2(saved, 0);
	close(p[0]);
	close(p[1]);

	/* memfds: a new description with its own offset. */
	int m = memfd_create("mine", 0);
	showlink(m);
	attrs("memfd", m);
	write(m, "memdata", 7);
	int m2 = open(fdpath("/proc/self/fd", m), O_RDWR);
	CHECK(m2 >= 0);
	CHECK(lseek(m, 0, SEEK_CUR));
	CHECK(lseek(m2, 0, SEEK_CUR));
	readall("memfd reopened", m2);
	CHECK(pwrite(m2, "MEM", 3, 0));
	char buf[16] = {0};
	CHECK(pread(m, buf, 7, 0));
	printf("memfd through the first fd: %s\n", buf);
	showlink(m2);
	CHECK(fcntl(m2, F_GETFL) & O_ACCMODE);
	int m3 = open(fdpath("/dev/fd", m), O_RDONLY | O_TRUNC);
	CHECK(m3 >= 0);
	struct stat st;
	fstat(m, &st);
	printf("memfd size after O_TRUNC read-only open: %ld\n", (long)st.st_size);
	int m4 = open(fdpath("/dev/fd", m), O_WRONLY | O_TRUNC);
	CHECK(m4 >= 0);
	fstat(m, &st);
	printf("memfd size after O_TRUNC: %ld\n", (long)st.st_size);
	close(m2);
	close(m3);
	close(m4);
	/* a read-only reopening maps the same memory (Firefox's shared-memory probe) */
	ftruncate(m, 4096);
	pwrite(m, "shared", 6, 0);
	int ro = open(fdpath("/proc/self/fd", m), O_RDONLY);
	CHECK(ro >= 0);
	char *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
	printf("read-only shared map: %s\n", map == MAP_FAILED ? errname(errno) : map);
	pwrite(m, "SHARED", 6, 0);
	if (map != MAP_FAILED)
		printf("after a write through the first fd: %.6s\n", map);
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED);
	CHECK(write(ro, "x", 1));
	close(ro);
	close(m);

	/* Regular files, also once unlinked. */
	int f = open("file", O_CREAT | O_RDWR, 0600);
	write(f, "0123456789", 10);
	int f2 = open(fdpath("/proc/self/fd", f), O_RDONLY);
	CHECK(f2 >= 0);
	readall("file reopened", f2);
	CHECK(lseek(f, 0, SEEK_CUR));
	CHECK(unlink("file"));
	showlink(f);
	int f3 = open(fdpath("/proc/self/fd", f), O_RDONLY);
	CHECK(f3 >= 0);
	readall("unlinked file reopened", f3);
	CHECK(open(fdpath("/proc/self/fd", f), O_RDONLY | O_CREAT | O_EXCL, 0600));
	close(f);
	close(f2);
	close(f3);

	/* Sockets cannot be opened; the links still read. */
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	showlink(sv[0]);
	attrs("socket", sv[0]);
	fdinfo("socket", sv[0]);
	CHECK(open(fdpath("/proc/self/fd", sv[0]), O_RDWR));
	CHECK(open(fdpath("/dev/fd", sv[1]), O_RDONLY));
	int us = socket(AF_UNIX, SOCK_DGRAM, 0);
	showlink(us);
	CHECK(open(fdpath("/proc/self/fd", us), O_RDWR));
	close(sv[0]);
	close(sv[1]);
	close(us);

	/* Anonymous-inode files. */
	int e = eventfd(0, 0);
	showlink(e);
	int ep = epoll_create1(0);
	showlink(ep);
	int tf = timerfd_create(CLOCK_MONOTONIC, 0);
	showlink(tf);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	int sf = signalfd(-1, &set, 0);
	showlink(sf);
	return 0;
}
