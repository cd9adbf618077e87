#include "common.h"
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>

/* System V semaphores: values, atomic multi-operations, blocking with a child, timeouts,
 * SEM_UNDO at exit, removal waking a waiter, and the errors. */

union semun { int val; struct semid_ds *buf; unsigned short *array; };

int main(void) {
	int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	CHECK(id >= 0);
	unsigned short init[3] = {1, 0, 5};
	CHECK(semctl(id, 0, SETALL, (union semun){.array = init}));
	CHECK(semctl(id, 2, GETVAL));
	struct sembuf two[2] = {{0, -1, 0}, {2, -3, 0}};
	CHECK(semop(id, two, 2));
	unsigned short now[3];
	CHECK(semctl(id, 0, GETALL, (union semun){.array = now}));
	printf("after: %d %d %d\n", now[0], now[1], now[2]);
	/* All or nothing: the second op cannot proceed, so the first is not applied either. */
	struct sembuf nope[2] = {{2, -1, 0}, {0, -1, IPC_NOWAIT}};
	CHECK(semop(id, nope, 2));
	CHECK(semctl(id, 2, GETVAL));
	/* A child waits on semaphore 1 until we post it. */
	pid_t c = fork();
	if (c == 0) {
		struct sembuf w = {1, -1, 0};
		_exit(semop(id, &w, 1) == 0 ? 0 : 1);
	}
	for (int i = 0; i < 15000 && semctl(id, 1, GETNCNT) == 0; i++)
		usleep(2000); /* until the child waits (30 s on a loaded machine) */
	CHECK(semctl(id, 1, GETNCNT));
	struct sembuf post = {1, 1, 0};
	CHECK(semop(id, &post, 1));
	int st;
	waitpid(c, &st, 0);
	printf("child got it: %d\n", WEXITSTATUS(st) == 0);
	/* Timeout. */
	struct timespec ts = {0, 30000000};
	struct sembuf w1 = {1, -1, 0};
	CHECK(semtimedop(id, &w1, 1, &ts));
	/* Wait-for-zero. */
	struct sembuf z = {0, 0, IPC_NOWAIT};
	CHECK(semop(id, &z, 1));
	/* SEM_UNDO: a child's decrement is given back when it exits. */
	c = fork();
	if (c == 0) {
		struct sembuf u = {2, -2, SEM_UNDO};
		semop(id, &u, 1);
		_exit(0);
	}
	waitpid(c, &st, 0);
	CHECK(semctl(id, 2, GETVAL));
	/* Removal wakes a waiter with EIDRM. */
	c = fork();
	if (c == 0) {
		struct sembuf w = {1, -1, 0};
		int r = semop(id, &w, 1);
		_exit(r < 0 && errno == EIDRM ? 0 : 1);
	}
	for (int i = 0; i < 15000 && semctl(id, 1, GETNCNT) == 0; i++)
		usleep(2000);
	CHECK(semctl(id, 0, IPC_RMID));
	waitpid(c, &st, 0);
	printf("waiter saw EIDRM: %d\n", WEXITSTATUS(st) == 0);
	CHECK(semctl(id, 0, GETVAL));
	/* Errors. */
	int k = semget(IPC_PRIVATE, 1, 0600);
	struct sembuf big = {5, 1, 0};
	CHECK(semop(k, &big, 1));
	CHECK(semctl(k, 0, SETVAL, (union semun){.val = 40000}));
	CHECK(semget(IPC_PRIVATE, 0, 0600));
	CHECK(semop(k, &big, 0));
	struct semid_ds ds;
	CHECK(semctl(k, 0, IPC_STAT, (union semun){.buf = &ds}));
	printf("nsems %lu mode %o\n", ds.sem_nsems, ds.sem_perm.mode & 0777);
	CHECK(semctl(k, 0, IPC_RMID));
	return 0;
}
