#include "common.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>

/* flock and record locks between processes: conflicts, LOCK_NB, waiting for a release,
 * shared locks, release at close and at exit.
 *
 * Waiting is checked without timing: the holder sets a flag in shared memory just before
 * it lets go (unlock, or exit), and the waiter looks at it once its wait ends; a wait that
 * ended early sees the flag still clear. Handshakes over pipes order the rest. The holder
 * pauses before letting go only so that a broken wait shows up; the output of a correct
 * kernel does not depend on it. */

static volatile int *released;

static void byte_to(int fd) {
	if (write(fd, "x", 1) != 1)
		_exit(2);
}
static void byte_from(int fd) {
	char c;
	if (read(fd, &c, 1) != 1)
		_exit(2);
}

int main(void) {
	workdir("locks");
	int fd = open("f", O_RDWR | O_CREAT, 0644);
	released = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(released != MAP_FAILED);
	int ready[2], go[2];
	CHECK(pipe(ready));
	CHECK(pipe(go));
	CHECK(flock(fd, LOCK_EX));
	pid_t c = fork();
	if (c == 0) {
		int f2 = open("f", O_RDWR);
		int nb = flock(f2, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK;
		byte_to(ready[1]);
		int ok = flock(f2, LOCK_EX) == 0; /* waits for the parent's unlock */
		_exit(nb && ok && *released ? 0 : 1);
	}
	byte_from(ready[0]);
	usleep(20000); /* (not needed for the output: gives a broken wait time to show) */
	*released = 1;
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
	*released = 0;
	c = fork();
	if (c == 0) {
		struct flock l = {F_WRLCK, SEEK_SET, 0, 10};
		int ok = fcntl(fd, F_SETLK, &l) == 0;
		byte_to(ready[1]);
		byte_from(go[0]);
		usleep(20000); /* (as above) */
		*released = 1;
		_exit(ok ? 0 : 1); /* exit releases the lock: no unlock, no close */
	}
	byte_from(ready[0]);
	struct flock l = {F_WRLCK, SEEK_SET, 0, 10};
	CHECK(fcntl(fd, F_SETLK, &l));
	byte_to(go[1]);
	CHECK(fcntl(fd, F_SETLKW, &l));
	printf("waited for the child's exit: %d\n", *released);
	waitpid(c, &st, 0);
	printf("child held the lock: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	struct flock g = {F_WRLCK, SEEK_SET, 0, 10};
	CHECK(fcntl(fd, F_GETLK, &g));
	printf("own lock is no conflict: %d\n", g.l_type == F_UNLCK);
	return 0;
}
