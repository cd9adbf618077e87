/* sbx-diff: host-rw-dir
 * open(2) flags and their errno paths, in a host directory (served by the gofer), on
 * tmpfs (/dev/shm) and on /proc where they apply: O_DIRECTORY, O_NOFOLLOW, O_EXCL on
 * links and directories, O_NOATIME by a non-owner, O_DIRECT, the flags F_GETFL shows
 * (O_LARGEFILE, O_CLOEXEC not among them), F_SETFL's changeable flags, O_ASYNC, trailing
 * slashes, opens of directories for writing, of sockets and of /proc files, creat(2)'s
 * mode, and access modes against file permissions. */
#include "common.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static void put(const char *name, int mode) {
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, mode);
	write(fd, "data", 4);
	close(fd);
	chmod(name, mode);
}

static void fl(const char *what, int fd) {
	if (fd < 0) {
		printf("  %s: %s\n", what, errname(errno));
		return;
	}
	int f = fcntl(fd, F_GETFL);
	printf("  %s: flags %o fd flags %d\n", what, f, fcntl(fd, F_GETFD));
	close(fd);
}

static void cases(int host) {
	put("f", 0644);
	put("ro", 0444);
	put("wo", 0200);
	mkdir("d", 0755);
	symlink("f", "l");
	symlink("d", "ld");
	symlink("nowhere", "dangling");
	fl("O_RDONLY", open("f", O_RDONLY));
	fl("O_WRONLY|O_APPEND", open("f", O_WRONLY | O_APPEND));
	fl("O_RDWR|O_CLOEXEC", open("f", O_RDWR | O_CLOEXEC));
	fl("O_RDONLY|O_LARGEFILE", open("f", O_RDONLY | O_LARGEFILE));
	fl("O_RDWR|O_SYNC", open("f", O_RDWR | O_SYNC));
	fl("O_RDWR|O_DSYNC", open("f", O_RDWR | O_DSYNC));
	fl("O_RDONLY|O_NONBLOCK", open("f", O_RDONLY | O_NONBLOCK));
	fl("O_RDONLY|O_NOCTTY", open("f", O_RDONLY | O_NOCTTY));
	fl("O_ACCMODE 3", open("f", 3));
	fl("O_RDONLY|O_ASYNC", open("f", O_RDONLY | O_ASYNC));
	fl("O_DIRECT", open("f", O_RDWR | O_DIRECT));
	fl("dir O_RDONLY", open("d", O_RDONLY));
	fl("dir O_DIRECTORY", open("d", O_RDONLY | O_DIRECTORY));
	fl("dir O_WRONLY", open("d", O_WRONLY));
	fl("dir O_RDWR", open("d", O_RDWR));
	fl("dir O_CREAT", open("d", O_RDONLY | O_CREAT, 0644));
	fl("dir O_CREAT|O_EXCL", open("d", O_RDONLY | O_CREAT | O_EXCL, 0644));
	fl("dir O_TRUNC", open("d", O_RDONLY | O_TRUNC));
	fl("file O_DIRECTORY", open("f", O_RDONLY | O_DIRECTORY));
	fl("file/", open("f/", O_RDONLY));
	fl("file/ O_CREAT", open("f/", O_RDONLY | O_CREAT, 0644));
	fl("new/ O_CREAT", open("newx/", O_RDONLY | O_CREAT, 0644));
	fl("dir/", open("d/", O_RDONLY));
	fl("link O_NOFOLLOW", open("l", O_RDONLY | O_NOFOLLOW));
	fl("link O_NOFOLLOW|O_PATH", open("l", O_NOFOLLOW | O_PATH));
	fl("link/dir O_NOFOLLOW", open("ld", O_RDONLY | O_NOFOLLOW | O_DIRECTORY));
	fl("link/dir/ O_NOFOLLOW", open("ld/", O_RDONLY | O_NOFOLLOW));
	fl("link O_CREAT|O_EXCL", open("l", O_RDWR | O_CREAT | O_EXCL, 0644));
	fl("dangling O_CREAT|O_EXCL", open("dangling", O_RDWR | O_CREAT | O_EXCL, 0644));
	fl("dangling O_RDONLY", open("dangling", O_RDONLY));
	fl("dangling O_CREAT|O_NOFOLLOW", open("dangling", O_RDWR | O_CREAT | O_NOFOLLOW, 0644));
	fl("file O_CREAT|O_EXCL", open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
	/* Root's override of file permissions: not on host files, which the gofer opens
	 * without it (it holds no capabilities). */
	if (!host || getuid() != 0) {
		fl("ro O_RDWR", open("ro", O_RDWR));
		fl("ro O_RDONLY|O_TRUNC", open("ro", O_RDONLY | O_TRUNC));
		fl("wo O_RDONLY", open("wo", O_RDONLY));
	}
	fl("wo O_WRONLY", open("wo", O_WRONLY));
	fl("O_NOATIME own", open("f", O_RDONLY | O_NOATIME));
	fl("bad flags high", open("f", O_RDONLY | 0x40000000));
	fl("O_TMPFILE without dir", open("f", O_TMPFILE | O_RDWR, 0600));
	fl("O_TMPFILE read-only", open("d", O_TMPFILE | O_RDONLY, 0600));
	fl("nodir/x O_CREAT", open("nodir/x", O_RDWR | O_CREAT, 0644));
	fl("f/x O_CREAT", open("f/x", O_RDWR | O_CREAT, 0644));
	int fd = creat("cr", 0751);
	struct stat st;
	fstat(fd, &st);
	printf("  creat mode %o flags %o\n", st.st_mode, fcntl(fd, F_GETFL));
	close(fd);
	/* F_SETFL changes only O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME, O_NONBLOCK */
	fd = open("f", O_RDONLY);
	CHECK(fcntl(fd, F_SETFL, O_RDWR | O_APPEND | O_NONBLOCK | O_SYNC | O_CREAT | O_TRUNC));
	printf("  after F_SETFL %o\n", fcntl(fd, F_GETFL));
	CHECK(fcntl(fd, F_SETFL, O_NOATIME));
	printf("  after F_SETFL O_NOATIME %o\n", fcntl(fd, F_GETFL));
	CHECK(fcntl(fd, F_SETFL, O_DIRECT));
	printf("  after F_SETFL O_DIRECT %o\n", fcntl(fd, F_GETFL));
	CHECK(fcntl(fd, F_SETFL, 0));
	close(fd);
	/* a socket file does not open */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "sock");
	bind(s, (struct sockaddr *)&a, sizeof a);
	fl("socket O_RDONLY", open("sock", O_RDONLY));
	fl("socket O_PATH", open("sock", O_PATH));
	close(s);
	if (getuid() == 0) {
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			setresuid(65534, 65534, 65534);
			fl("O_NOATIME not owner", open("f", O_RDONLY | O_NOATIME));
			fl("ro not owner O_WRONLY", open("ro", O_WRONLY));
			fd = open("f", O_RDONLY);
			CHECK(fcntl(fd, F_SETFL, O_NOATIME));
			fflush(stdout);
			_exit(0);
		}
		waitpid(p, NULL, 0);
	}
	unlink("f"); unlink("ro"); unlink("wo"); unlink("l"); unlink("ld"); unlink("dangling");
	unlink("cr"); unlink("sock"); rmdir("d");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: fsopen DIR\n");
		return 2;
	}
	char dir[] = "fsopen-XXXXXX";
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	umask(022);
	printf("== host directory\n");
	cases(1);
	char shm[] = "/dev/shm/sbxdiff-fsopen-XXXXXX";
	if (mkdtemp(shm) == NULL || chmod(shm, 0755) != 0 || chdir(shm) != 0) {
		perror("shmdir");
		return 2;
	}
	printf("== tmpfs\n");
	cases(0);
	printf("== /proc\n");
	fl("/proc/self/status O_RDWR", open("/proc/self/status", O_RDWR));
	fl("/proc/self/status O_WRONLY", open("/proc/self/status", O_WRONLY));
	fl("/proc/self/comm O_RDWR", open("/proc/self/comm", O_RDWR));
	fl("/proc/self O_DIRECTORY", open("/proc/self", O_RDONLY | O_DIRECTORY));
	fl("/proc/self/fd O_WRONLY", open("/proc/self/fd", O_WRONLY));
	fl("/proc/new O_CREAT", open("/proc/new", O_RDWR | O_CREAT, 0644));
	fl("/proc/self/status O_TRUNC", open("/proc/self/status", O_RDONLY | O_TRUNC));
	fl("/proc/self/exe O_NOFOLLOW", open("/proc/self/exe", O_RDONLY | O_NOFOLLOW));
	fl("/proc/self/exe O_PATH|O_NOFOLLOW", open("/proc/self/exe", O_PATH | O_NOFOLLOW));
	fl("/proc/self/status O_DIRECT", open("/proc/self/status", O_RDONLY | O_DIRECT));
	return 0;
}
