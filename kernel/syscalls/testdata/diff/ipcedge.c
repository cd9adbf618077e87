/* SysV IPC and POSIX message-queue edges: msgrcv MSG_COPY/MSG_EXCEPT/MSG_NOERROR/E2BIG,
 * msgsnd type and size rules, semop's counts (GETNCNT/GETZCNT/GETPID), EFBIG/E2BIG/
 * ERANGE, SEM_UNDO on exit, semtimedop timeouts, a waiter's EIDRM, shm attach counts and
 * IPC_RMID with attachments, and mq_open/mq_notify/mq_getsetattr rules. Private keys
 * only, so concurrent runs do not meet. */
#include "common.h"
#include <mqueue.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

union semun { int val; struct semid_ds *buf; unsigned short *array; };

struct msg { long type; char text[64]; };

static void msgs(void) {
	int q = msgget(IPC_PRIVATE, 0600);
	struct msg m;
	for (int i = 1; i <= 3; i++) {
		m.type = i;
		snprintf(m.text, sizeof m.text, "message-%d", i);
		CHECK(msgsnd(q, &m, strlen(m.text) + 1, 0));
	}
	m.type = 0;
	CHECK(msgsnd(q, &m, 4, 0));
	m.type = -1;
	CHECK(msgsnd(q, &m, 4, 0));
	m.type = 1;
	CHECK(msgsnd(q, &m, -1, 0));
	CHECK(msgsnd(q, &m, 8193, 0));
	CHECK(msgsnd(q, (void *)8, 4, 0));
	/* MSG_COPY: by position, without removing; needs IPC_NOWAIT */
	CHECK(msgrcv(q, &m, sizeof m.text, 1, MSG_COPY | IPC_NOWAIT));
	printf("copy 1: type=%ld %s\n", m.type, m.text);
	CHECK(msgrcv(q, &m, sizeof m.text, 5, MSG_COPY | IPC_NOWAIT));
	CHECK(msgrcv(q, &m, sizeof m.text, 1, MSG_COPY));
	CHECK(msgrcv(q, &m, sizeof m.text, 1, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT));
	CHECK(msgrcv(q, &m, 3, 0, MSG_COPY | IPC_NOWAIT));
	/* too long without MSG_NOERROR: E2BIG and the message stays */
	CHECK(msgrcv(q, &m, 3, 1, IPC_NOWAIT));
	CHECK(msgrcv(q, &m, 3, 1, IPC_NOWAIT | MSG_NOERROR));
	printf("truncated: %.3s\n", m.text);
	CHECK(msgrcv(q, &m, sizeof m.text, 1, MSG_EXCEPT | IPC_NOWAIT));
	printf("except 1: type=%ld\n", m.type);
	CHECK(msgrcv(q, &m, sizeof m.text, -2, IPC_NOWAIT));
	CHECK(msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT));
	printf("last: type=%ld\n", m.type);
	CHECK(msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT));
	CHECK(msgrcv(q, &m, -1, 0, IPC_NOWAIT));
	CHECK(msgrcv(q, (void *)8, 4, 0, IPC_NOWAIT));
	struct msqid_ds ds;
	CHECK(msgctl(q, IPC_STAT, &ds));
	printf("qnum=%lu qbytes>0=%d lspid ok=%d\n", (unsigned long)ds.msg_qnum, ds.msg_qbytes > 0, ds.msg_lspid == getpid());
	ds.msg_qbytes = 16;
	CHECK(msgctl(q, IPC_SET, &ds));
	m.type = 1;
	CHECK(msgsnd(q, &m, 16, IPC_NOWAIT));
	CHECK(msgsnd(q, &m, 1, IPC_NOWAIT));
	CHECK(msgsnd(q, &m, 17, IPC_NOWAIT));
	/* a blocked receiver sees EIDRM */
	pid_t c = fork();
	if (c == 0) {
		int q2 = msgget(IPC_PRIVATE, 0600);
		_exit(q2 < 0);
	}
	waitpid(c, NULL, 0);
	CHECK(msgctl(q, IPC_RMID, NULL));
	CHECK(msgctl(q, IPC_RMID, NULL));
	CHECK(msgsnd(q, &m, 1, IPC_NOWAIT));
	CHECK(msgctl(q, 99, &ds));
}

static int ncnt_ready(int s, int num, int cmd, int want) {
	for (int i = 0; i < 5000; i++) {
		if (semctl(s, num, cmd) == want) return 1;
		usleep(1000);
	}
	return 0;
}

static void sems(void) {
	int s = semget(IPC_PRIVATE, 3, 0600);
	struct sembuf op = {0, 1, 0};
	CHECK(semop(s, &op, 1));
	op.sem_num = 3;
	CHECK(semop(s, &op, 1));
	op.sem_num = 0;
	CHECK(semop(s, &op, 0));
	CHECK(semop(s, &op, 501));
	op.sem_op = 32767;
	CHECK(semop(s, &op, 1));
	op.sem_op = 1;
	CHECK(semop(s, (void *)8, 1));
	union semun u;
	u.val = 32768;
	CHECK(semctl(s, 0, SETVAL, u));
	u.val = -1;
	CHECK(semctl(s, 0, SETVAL, u));
	CHECK(semctl(s, 5, GETVAL));
	CHECK(semctl(s, 0, GETVAL));
	CHECK(semctl(s, 0, GETPID) == getpid());
	CHECK(semctl(s, 1, GETPID));
	unsigned short vals[3] = {1, 2, 32768};
	u.array = vals;
	CHECK(semctl(s, 0, SETALL, u));
	vals[2] = 3;
	CHECK(semctl(s, 0, SETALL, u));
	unsigned short got[3] = {0};
	u.array = got;
	CHECK(semctl(s, 0, GETALL, u));
	printf("all=%u,%u,%u\n", got[0], got[1], got[2]);
	CHECK(semctl(s, 0, SETVAL, (union semun){.val = 0}));
	/* waiters: one waits for >0 (ncnt), one for zero on sem 1 after setting it to 1 */
	pid_t c1 = fork();
	if (c1 == 0) {
		struct sembuf w = {0, -1, 0};
		_exit(semop(s, &w, 1) == 0 ? 0 : errno);
	}
	semctl(s, 1, SETVAL, (union semun){.val = 1});
	pid_t c2 = fork();
	if (c2 == 0) {
		struct sembuf w = {1, 0, 0};
		_exit(semop(s, &w, 1) == 0 ? 0 : errno);
	}
	printf("ncnt=%d zcnt=%d\n", ncnt_ready(s, 0, GETNCNT, 1), ncnt_ready(s, 1, GETZCNT, 1));
	struct sembuf ops[2] = {{0, 1, 0}, {1, -1, 0}};
	CHECK(semop(s, ops, 2));
	int st;
	waitpid(c1, &st, 0);
	printf("c1 exit=%d ", WEXITSTATUS(st));
	waitpid(c2, &st, 0);
	printf("c2 exit=%d\n", WEXITSTATUS(st));
	/* SEM_UNDO: a child's adjustments are undone at its exit */
	semctl(s, 2, SETVAL, (union semun){.val = 5});
	pid_t c = fork();
	if (c == 0) {
		struct sembuf w = {2, -3, SEM_UNDO};
		semop(s, &w, 1);
		struct sembuf w2 = {2, 1, SEM_UNDO};
		semop(s, &w2, 1);
		_exit(semctl(s, 2, GETVAL));
	}
	waitpid(c, &st, 0);
	printf("in child=%d after exit=%d\n", WEXITSTATUS(st), semctl(s, 2, GETVAL));
	/* semtimedop */
	struct sembuf w = {0, -5, 0};
	struct timespec ts = {0, 1000000};
	CHECK(semtimedop(s, &w, 1, &ts));
	ts.tv_nsec = 1000000000;
	CHECK(semtimedop(s, &w, 1, &ts));
	ts.tv_nsec = -1;
	CHECK(semtimedop(s, &w, 1, &ts));
	w.sem_flg = IPC_NOWAIT;
	CHECK(semtimedop(s, &w, 1, NULL));
	/* a waiter sees EIDRM when the set goes */
	c = fork();
	if (c == 0) {
		struct sembuf w3 = {0, -5, 0};
		_exit(semop(s, &w3, 1) == 0 ? 0 : errno);
	}
	ncnt_ready(s, 0, GETNCNT, 1);
	CHECK(semctl(s, 0, IPC_RMID));
	waitpid(c, &st, 0);
	printf("waiter errno=%s\n", errname(WEXITSTATUS(st)));
	CHECK(semop(s, &op, 1));
	CHECK(semget(IPC_PRIVATE, 0, 0600) >= 0 ? 0 : -1);
	CHECK(semget(IPC_PRIVATE, 32001, 0600));
	CHECK(semget(IPC_PRIVATE, -1, 0600));
}

static void shms(void) {
	int id = shmget(IPC_PRIVATE, 4096, 0600);
	struct shmid_ds ds;
	char *p1 = shmat(id, NULL, 0), *p2 = shmat(id, NULL, SHM_RDONLY);
	shmctl(id, IPC_STAT, &ds);
	printf("nattch=%lu segsz=%zu cpid ok=%d\n", (unsigned long)ds.shm_nattch, ds.shm_segsz, ds.shm_cpid == getpid());
	p1[0] = 'x';
	printf("shared view=%c\n", p2[0]);
	CHECK(shmctl(id, IPC_RMID, NULL));
	CHECK(shmctl(id, IPC_STAT, &ds));
	printf("after rmid: mode dest=%d key=%d nattch=%lu\n", (ds.shm_perm.mode & SHM_DEST) != 0, ds.shm_perm.__key, (unsigned long)ds.shm_nattch);
	CHECK(shmat(id, NULL, 0) == (void *)-1 ? -1 : 0);
	CHECK(shmdt(p1));
	CHECK(shmdt(p1));
	CHECK(shmdt(p2 + 1));
	CHECK(shmdt(p2));
	CHECK(shmctl(id, IPC_STAT, &ds));
	CHECK(shmget(IPC_PRIVATE, 0, 0600));
	CHECK(shmget(IPC_PRIVATE, 1, 0600) >= 0 ? 0 : -1);
	CHECK(shmat(-1, NULL, 0) == (void *)-1 ? -1 : 0);
	id = shmget(IPC_PRIVATE, 4096, 0600);
	CHECK(shmat(id, (void *)4097, 0) == (void *)-1 ? -1 : 0);
	void *p = shmat(id, (void *)0x7f0000001000, SHM_RND);
	printf("SHM_RND ok=%d\n", p != (void *)-1);
	shmdt(p);
	CHECK(shmctl(id, 99, &ds));
	CHECK(shmctl(id, IPC_STAT, (void *)8));
	shmctl(id, IPC_RMID, NULL);
}

static void mqs(void) {
	char name[64];
	snprintf(name, sizeof name, "/sbxdiff-ipcedge-%d", getpid());
	struct mq_attr at = {.mq_maxmsg = 2, .mq_msgsize = 16};
	mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, &at);
	mq_unlink(name);
	CHECK(mq_send(q, "a", 1, 5));
	CHECK(mq_send(q, "b", 1, 9));
	CHECK(mq_send(q, "c", 1, 1));
	CHECK(mq_send(q, "0123456789abcdefg", 17, 1));
	char buf[64];
	unsigned prio;
	CHECK(mq_receive(q, buf, 15, &prio));
	CHECK(mq_receive(q, buf, sizeof buf, &prio));
	printf("first prio=%u %c\n", prio, buf[0]);
	CHECK(mq_send(q, "d", 1, 32768));
	struct mq_attr cur, nw = {.mq_flags = 0, .mq_maxmsg = 99};
	CHECK(mq_getattr(q, &cur));
	printf("flags nonblock=%d maxmsg=%ld msgsize=%ld curmsgs=%ld\n", (cur.mq_flags & O_NONBLOCK) != 0, cur.mq_maxmsg, cur.mq_msgsize, cur.mq_curmsgs);
	CHECK(mq_setattr(q, &nw, &cur));
	CHECK(mq_getattr(q, &cur));
	printf("after setattr nonblock=%d maxmsg=%ld\n", (cur.mq_flags & O_NONBLOCK) != 0, cur.mq_maxmsg);
	nw.mq_flags = O_NONBLOCK | O_APPEND;
	CHECK(syscall(SYS_mq_getsetattr, q, &nw, NULL));
	nw.mq_flags = O_NONBLOCK;
	mq_setattr(q, &nw, NULL);
	struct sigevent ev = {.sigev_notify = SIGEV_NONE};
	CHECK(mq_notify(q, &ev));
	CHECK(mq_notify(q, &ev));
	pid_t c = fork();
	if (c == 0) _exit(mq_notify(q, &ev) == 0 ? 0 : errno);
	int st;
	waitpid(c, &st, 0);
	printf("other process notify=%s\n", errname(WEXITSTATUS(st)));
	CHECK(mq_notify(q, NULL));
	CHECK(mq_notify(q, NULL));
	ev.sigev_notify = 99;
	CHECK(mq_notify(q, &ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = 0;
	CHECK(mq_notify(q, &ev));
	ev.sigev_signo = 65;
	CHECK(mq_notify(q, &ev));
	mq_close(q);
	CHECK(mq_send(q, "x", 1, 0));
	at.mq_maxmsg = 0;
	CHECK(mq_open(name, O_RDWR | O_CREAT, 0600, &at));
	at.mq_maxmsg = 2; at.mq_msgsize = 0;
	CHECK(mq_open(name, O_RDWR | O_CREAT, 0600, &at));
	CHECK(mq_open("/", O_RDWR | O_CREAT, 0600, NULL));
	CHECK(mq_open("noslash", O_RDWR, 0600, NULL));
	CHECK(mq_open("/a/b", O_RDWR | O_CREAT, 0600, NULL));
	CHECK(mq_unlink("/sbxdiff-ipcedge-nonexistent"));
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	msgs();
	sems();
	shms();
	mqs();
	return 0;
}
