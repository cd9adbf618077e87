#include "common.h"
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

/* shm_nattch counts every mapping of a System V segment, as Linux's: a fork's inherited
 * copy, each piece mprotect or munmap splits off, a mremap copy; exit and exec detach, and
 * a removed segment goes with its last mapping. shm_lpid is the last process to attach or
 * detach (shown compared with known pids, never raw); shmdt wants the segment's start. */

static void stat_line(const char *what, int id, pid_t who) {
	struct shmid_ds ds;
	errno = 0;
	if (shmctl(id, IPC_STAT, &ds) < 0) {
		printf("%-24s stat %s\n", what, errname(errno));
		return;
	}
	printf("%-24s nattch %lu lpid %s atime %d dtime %d dest %d\n", what, ds.shm_nattch,
	       ds.shm_lpid == getpid() ? "self" : ds.shm_lpid == 0 ? "none" : ds.shm_lpid == who ? "other" : "else",
	       ds.shm_atime != 0, ds.shm_dtime != 0, (ds.shm_perm.mode & SHM_DEST) != 0);
	fflush(stdout);
}

static pid_t spawn(int *go) {
	int fds[2];
	if (pipe(fds) < 0)
		exit(1);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(fds[1]);
		char b;
		read(fds[0], &b, 1);
		_exit(0);
	}
	close(fds[0]);
	*go = fds[1];
	return c;
}

static void reap(pid_t c, int go) {
	close(go);
	int st;
	waitpid(c, &st, 0);
}

int main(int argc, char **argv) {
	if (argc > 1) { /* the exec'd image: waits for the parent to close the pipe */
		char b;
		return read(atoi(argv[1]), &b, 1) == 0 ? 7 : 1;
	}
	long pg = sysconf(_SC_PAGESIZE);
	int id = shmget(IPC_PRIVATE, 3 * pg, IPC_CREAT | 0600);
	CHECK(id >= 0);
	stat_line("created", id, 0);
	char *p = shmat(id, NULL, 0);
	CHECK(p != (void *)-1);
	stat_line("attached", id, 0);

	/* A fork's child holds a mapping of its own; it detaches on exit. */
	int go;
	pid_t c = spawn(&go);
	stat_line("forked", id, c);
	reap(c, go);
	stat_line("child exited", id, c);

	/* The child sees its inherited mapping counted, and its shmdt sets lpid. */
	fflush(stdout);
	c = fork();
	if (c == 0) {
		stat_line("in child", id, getppid());
		CHECK(shmdt(p));
		stat_line("child detached", id, getppid());
		_exit(0);
	}
	waitpid(c, NULL, 0);
	stat_line("after child", id, c);

	/* shmdt wants an attachment's start. */
	CHECK(shmdt(p + pg));
	CHECK(shmdt(p + 1));
	CHECK(shmdt(p + 3 * pg));
	stat_line("bad detaches", id, 0);

	/* mprotect splits: every piece counts; munmap of one drops it; shmdt takes the rest. */
	CHECK(mprotect(p + pg, pg, PROT_READ));
	stat_line("split in three", id, 0);
	CHECK(munmap(p + pg, pg));
	stat_line("middle unmapped", id, 0);
	CHECK(shmdt(p + 2 * pg));
	CHECK(shmdt(p));
	stat_line("detached", id, 0);
	CHECK(shmdt(p));

	/* With its first page unmapped, the attachment still detaches at its start. */
	p = shmat(id, NULL, 0);
	CHECK(munmap(p, pg));
	stat_line("head unmapped", id, 0);
	CHECK(shmdt(p + pg));
	CHECK(shmdt(p));
	stat_line("detached", id, 0);

	/* mremap: a move keeps the count, a copy (old size 0) adds one. */
	p = shmat(id, NULL, 0);
	char *q = mremap(p, 3 * pg, 3 * pg, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED);
	char *dst = mmap(NULL, 3 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q = mremap(p, 3 * pg, 3 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	CHECK(q == dst);
	stat_line("moved", id, 0);
	char *r = mremap(q, 0, 3 * pg, MREMAP_MAYMOVE);
	CHECK(r != MAP_FAILED);
	stat_line("copied", id, 0);
	CHECK(shmdt(r));
	CHECK(shmdt(q));
	stat_line("detached", id, 0);

	/* A removed segment lives while a child still maps it, and goes when it exits. */
	p = shmat(id, NULL, 0);
	c = spawn(&go);
	CHECK(shmdt(p));
	CHECK(shmctl(id, IPC_RMID, NULL));
	stat_line("removed", id, c);
	reap(c, go);
	stat_line("last exited", id, c);

	/* ... or when it execs (the new image waits for the parent's look). */
	id = shmget(IPC_PRIVATE, pg, IPC_CREAT | 0600);
	p = shmat(id, NULL, 0);
	CHECK(shmctl(id, IPC_RMID, NULL));
	int start[2], hold[2], ex[2];
	CHECK(pipe(start));
	CHECK(pipe(hold));
	CHECK(pipe2(ex, O_CLOEXEC));
	fflush(stdout);
	c = fork();
	if (c == 0) {
		close(hold[1]);
		close(ex[0]);
		close(start[1]);
		char b;
		read(start[0], &b, 1);
		char fd[16];
		snprintf(fd, sizeof fd, "%d", hold[0]);
		execl("/proc/self/exe", "shmnattch", fd, NULL);
		_exit(1);
	}
	close(hold[0]);
	close(ex[1]);
	close(start[0]);
	CHECK(shmdt(p));
	stat_line("child maps it", id, c);
	close(start[1]);
	char b;
	CHECK(read(ex[0], &b, 1)); /* 0: the child's exec closed it */
	stat_line("child execed", id, c);
	close(hold[1]);
	int st;
	waitpid(c, &st, 0);
	printf("exec status %d\n", WEXITSTATUS(st));
	return 0;
}
