#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/openat2.h>
#include <termios.h>
#include <time.h>

int main(void) {
	workdir("misc");
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC));
	struct pollfd pfd[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
	CHECK(poll(pfd, 2, 0));
	printf("revents %x %x\n", pfd[0].revents, pfd[1].revents);
	CHECK(write(p[1], "x", 1));
	CHECK(poll(pfd, 1, 100));
	printf("revents %x\n", pfd[0].revents);
	struct pollfd bad = {999, POLLIN, 0};
	CHECK(poll(&bad, 1, 0));
	printf("revents %x\n", bad.revents);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	struct timeval tv = {0, 0};
	CHECK(select(p[0] + 1, &r, NULL, NULL, &tv));
	printf("isset %d\n", FD_ISSET(p[0], &r));
	FD_ZERO(&r);
	FD_SET(500, &r);
	CHECK(select(501, &r, NULL, NULL, &tv));
	struct timespec ts = {0, 1000000};
	char c;
	CHECK(read(p[0], &c, 1));
	pfd[0].revents = 0;
	CHECK(ppoll(pfd, 1, &ts, NULL));
	CHECK(close(p[1]));
	CHECK(poll(pfd, 1, 0));
	printf("hup revents %x\n", pfd[0].revents);
	/* ioctl */
	int f = open("file", O_CREAT | O_RDWR, 0644);
	CHECK(write(f, "12345", 5));
	struct termios t;
	CHECK(ioctl(f, TCGETS, &t));
	int n = -1;
	CHECK(lseek(f, 1, SEEK_SET));
	CHECK(ioctl(f, FIONREAD, &n));
	printf("fionread %d\n", n);
	CHECK(ioctl(f, FIOCLEX));
	CHECK(fcntl(f, F_GETFD));
	CHECK(ioctl(f, FIONCLEX));
	CHECK(fcntl(f, F_GETFD));
	CHECK(ioctl(-1, FIOCLEX));
	/* memfd shared mappings */
	int m = memfd_create("test", MFD_CLOEXEC);
	CHECK(m >= 0);
	CHECK(ftruncate(m, 8192));
	char *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	char *b = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	CHECK(a != MAP_FAILED && b != MAP_FAILED);
	a[4000] = 'Q';
	printf("shared view: %c\n", b[4000]);
	char rb;
	CHECK(pread(m, &rb, 1, 4000));
	printf("file sees: %c\n", rb);
	struct stat st;
	CHECK(fstat(m, &st));
	printf("memfd size %ld mode %o\n", (long)st.st_size, st.st_mode & 0777);
	CHECK(memfd_create("x", 0x1000));
	/* statx, statfs */
	struct statx sx;
	CHECK(statx(AT_FDCWD, "file", 0, STATX_BASIC_STATS, &sx));
	printf("statx size %llu type %o\n", (unsigned long long)sx.stx_size, sx.stx_mode & S_IFMT);
	CHECK(statx(AT_FDCWD, "file", 0x12345678, STATX_BASIC_STATS, &sx));
	CHECK(statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &sx));
	struct statfs sf;
	CHECK(statfs("/", &sf) == 0 && sf.f_bsize > 0);
	CHECK(statfs("/missing", &sf));
	/* openat2 */
	struct open_how how = {.flags = O_RDONLY, .resolve = RESOLVE_BENEATH};
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(symlink("/etc/hostname", "abs") == 0 && symlink("file", "rel") == 0);
	CHECK(syscall(SYS_openat2, dir, "file", &how, sizeof how) >= 0);
	CHECK(syscall(SYS_openat2, dir, "../x", &how, sizeof how));
	CHECK(syscall(SYS_openat2, dir, "abs", &how, sizeof how));
	how.resolve = RESOLVE_NO_SYMLINKS;
	CHECK(syscall(SYS_openat2, dir, "rel", &how, sizeof how));
	how.resolve = 0x1000;
	CHECK(syscall(SYS_openat2, dir, "file", &how, sizeof how));
	how.resolve = 0;
	CHECK(syscall(SYS_openat2, dir, "file", &how, 8));
	/* utimensat */
	struct timespec times[2] = {{1000000000, 0}, {1200000000, 500}};
	CHECK(utimensat(AT_FDCWD, "file", times, 0));
	CHECK(stat("file", &st));
	printf("atime %ld mtime %ld.%09ld\n", (long)st.st_atime, (long)st.st_mtime, st.st_mtim.tv_nsec);
	times[0].tv_nsec = UTIME_OMIT;
	times[1].tv_nsec = 2000000000;
	CHECK(utimensat(AT_FDCWD, "file", times, 0));
	/* record locks */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
	CHECK(fcntl(f, F_SETLK, &fl));
	fl.l_type = F_RDLCK;
	CHECK(fcntl(f, F_GETLK, &fl));
	printf("getlk type %d\n", fl.l_type);
	fl.l_type = 99;
	CHECK(fcntl(f, F_SETLK, &fl));
	/* uname and /proc/self */
	struct utsname u;
	CHECK(uname(&u));
	printf("sysname %s machine %s\n", u.sysname, u.machine);
	char buf[256];
	ssize_t k = readlink("/proc/self/exe", buf, sizeof buf - 1);
	buf[k > 0 ? k : 0] = 0;
	printf("exe ends with /misc: %d\n", k > 5 && strcmp(buf + k - 5, "/misc") == 0);
	FILE *cl = fopen("/proc/self/cmdline", "r");
	size_t got = fread(buf, 1, sizeof buf, cl);
	printf("cmdline bytes %zu\n", got);
	FILE *sf2 = fopen("/proc/self/status", "r");
	char line[256];
	fgets(line, sizeof line, sf2);
	printf("status first line: %s", line);
	CHECK(access("/proc/self/fd/0", F_OK));
	CHECK(access("/proc/self/maps", R_OK));
	return 0;
}
