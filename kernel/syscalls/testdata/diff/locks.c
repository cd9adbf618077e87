#include "common.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>

/* flock and record locks between processes: conflicts, LOCK_NB, waiting for a release,
 * shared locks, release at close and at exit. */

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
	workdir("locks");
	int fd = open("f", O_RDWR | O_CREAT, 0644);
	CHECK(flock(fd, LOCK_EX));
	pid_t c = fork();
	if (c == 0) {
		int f2 = open("f", O_RDWR);
		int nb = flock(f2, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK;
		double t0 = now();
		int ok = flock(f2, LOCK_EX) == 0; /* waits for the parent's unlock */
		_exit(nb && ok && now() - t0 > 0.05 ? 0 : 1);
	}
	usleep(150000);
	CHECK(flock(fd, LOCK_UN));
	int st;
	waitpid(c, &st, 0);
	printf("child: refused then waited: %d\n", WEXITSTATUS(st) == 0);
	/* Shared locks coexist; an exclusive one is refused while they are held. */
	int a = open("f", O_RDONLY), b = open("f", O_RDONLY);
	CHECK(flock(a, LOCK_SH));
	CHECK(flock(b, LOCK_SH | LOCK_NB));
	CHECK(flock(fd, LOCK_EX | LOCK_NB));
	close(a);
	close(b);
	CHECK(flock(fd, LOCK_EX | LOCK_NB)); /* closing released them */
	CHECK(flock(fd, LOCK_UN));
	CHECK(flock(fd, 99));
	/* Record locks: a child's lock is gone when it exits; F_SETLKW waits. */
	c = fork();
	if (c == 0) {
		struct flock l = {F_WRLCK, SEEK_SET, 0, 10};
		fcntl(fd, F_SETLK, &l);
		usleep(150000);
		_exit(0);
	}
	usleep(50000);
	struct flock l = {F_WRLCK, SEEK_SET, 0, 10};
	CHECK(fcntl(fd, F_SETLK, &l));
	double t0 = now();
	CHECK(fcntl(fd, F_SETLKW, &l));
	printf("waited for the child's exit: %d\n", now() - t0 > 0.03);
	waitpid(c, &st, 0);
	struct flock g = {F_WRLCK, SEEK_SET, 0, 10};
	CHECK(fcntl(fd, F_GETLK, &g));
	printf("own lock is no conflict: %d\n", g.l_type == F_UNLCK);
	return 0;
}
