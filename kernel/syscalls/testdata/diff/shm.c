#include "common.h"
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

/* System V shared memory: create, attach, share with a child, stat, detach, remove. */

int main(void) {
	int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
	CHECK(id >= 0);
	char *p = shmat(id, NULL, 0);
	CHECK(p != (void *)-1);
	strcpy(p, "hello");
	struct shmid_ds ds;
	CHECK(shmctl(id, IPC_STAT, &ds));
	printf("size %zu nattch %lu mode %o cpid ok %d\n", ds.shm_segsz, ds.shm_nattch, ds.shm_perm.mode & 0777, ds.shm_cpid == getpid());
	pid_t c = fork();
	if (c == 0) {
		char *q = shmat(id, NULL, SHM_RDONLY);
		int ok = q != (void *)-1 && strcmp(q, "hello") == 0;
		strcpy(p + 100, "from child");
		shmdt(q);
		_exit(ok ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	printf("child ok %d, wrote: %s\n", WEXITSTATUS(st) == 0, p + 100);
	/* A second attachment of the same segment sees the same bytes. */
	char *p2 = shmat(id, NULL, 0);
	printf("same memory: %d\n", strcmp(p2, "hello") == 0 && p2 != p);
	p2[0] = 'J';
	printf("through first: %c\n", p[0]);
	CHECK(shmdt(p2));
	CHECK(shmdt(p2));
	CHECK(shmdt(p + 4096));
	/* Keys: IPC_EXCL, lookups, sizes. */
	key_t key = 0x5b780000 + (getpid() & 0xffff);
	int k1 = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0644);
	CHECK(k1 >= 0);
	CHECK(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0644));
	CHECK(shmget(key, 4096, 0) == k1);
	CHECK(shmget(key, 8192, 0));
	CHECK(shmget(key + 1, 4096, 0));
	CHECK(shmget(IPC_PRIVATE, 0, 0600));
	/* IPC_SET, then RMID while attached: gone for new lookups, alive for its users. */
	ds.shm_perm.mode = 0640;
	CHECK(shmctl(id, IPC_SET, &ds));
	CHECK(shmctl(id, IPC_STAT, &ds));
	printf("mode now %o\n", ds.shm_perm.mode & 0777);
	CHECK(shmctl(id, IPC_RMID, NULL));
	printf("still readable: %c\n", p[0]);
	CHECK(shmctl(id, IPC_STAT, &ds));
	printf("marked: %d\n", (ds.shm_perm.mode & SHM_DEST) != 0);
	CHECK(shmdt(p));
	CHECK(shmctl(id, IPC_STAT, &ds));
	CHECK(shmat(id, NULL, 0) == (void *)-1);
	CHECK(shmctl(k1, IPC_RMID, NULL));
	CHECK(shmctl(k1, IPC_RMID, NULL));
	CHECK(shmctl(12345678, IPC_STAT, &ds));
	/* A fixed, unaligned address without SHM_RND fails; with it, it rounds down. */
	int id3 = shmget(IPC_PRIVATE, 4096, 0600);
	char *hint = shmat(id3, NULL, 0);
	shmdt(hint);
	CHECK(shmat(id3, hint + 5, 0) == (void *)-1);
	CHECK(shmat(id3, hint + 5, SHM_RND) == hint);
	CHECK(shmctl(id3, IPC_RMID, NULL));
	return 0;
}
