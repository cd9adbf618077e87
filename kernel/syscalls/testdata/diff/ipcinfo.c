/* msgctl(2) IPC_INFO/MSG_INFO and semctl(2) IPC_INFO/SEM_INFO: struct msginfo and struct
 * seminfo carry the namespace's limits field by field (msgctl(2), semctl(2)); MSG_INFO
 * and SEM_INFO replace some with what is in use (queues, messages, bytes; sets,
 * semaphores), and the call returns the highest index in use. Run in a new IPC namespace
 * (through a new user namespace as a user), whose limits are Linux's defaults and which
 * holds only this program's objects. */
#include "common.h"
#include <sched.h>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

static int enter(void) {
	if (geteuid() == 0) return unshare(CLONE_NEWIPC);
	return enter_userns(CLONE_NEWIPC);
}

static void msginfo(const char *what, int cmd) {
	struct msginfo mi;
	memset(&mi, 0xa5, sizeof mi);
	int r = msgctl(0, cmd, (struct msqid_ds *)&mi);
	printf("%s = %d: pool %d map %d max %d mnb %d mni %d ssz %d tql %d seg %u\n", what, r,
	       mi.msgpool, mi.msgmap, mi.msgmax, mi.msgmnb, mi.msgmni, mi.msgssz, mi.msgtql, mi.msgseg);
}

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };

static void seminfo(const char *what, int cmd) {
	struct seminfo si;
	memset(&si, 0xa5, sizeof si);
	union semun arg = {.__buf = &si};
	int r = semctl(0, 0, cmd, arg);
	printf("%s = %d: map %d mni %d mns %d mnu %d msl %d opm %d ume %d usz %d vmx %d aem %d\n", what, r,
	       si.semmap, si.semmni, si.semmns, si.semmnu, si.semmsl, si.semopm, si.semume, si.semusz, si.semvmx, si.semaem);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (enter() < 0) { printf("enter: %s\n", errname(errno)); return 1; }
	msginfo("IPC_INFO empty", IPC_INFO);
	msginfo("MSG_INFO empty", MSG_INFO);
	int q1 = msgget(IPC_PRIVATE, 0600), q2 = msgget(IPC_PRIVATE, 0600);
	printf("queues made: %d\n", q1 >= 0 && q2 >= 0);
	struct { long type; char text[32]; } m = {1, "0123456789"};
	CHECK(msgsnd(q1, &m, 10, 0));
	CHECK(msgsnd(q1, &m, 3, 0));
	CHECK(msgsnd(q2, &m, 7, 0));
	msginfo("IPC_INFO two queues", IPC_INFO);
	msginfo("MSG_INFO two queues", MSG_INFO);
	CHECK(msgrcv(q1, &m, sizeof m.text, 0, 0));
	msginfo("MSG_INFO after a receive", MSG_INFO);
	CHECK(msgctl(q2, IPC_RMID, NULL));
	msginfo("MSG_INFO after a removal", MSG_INFO);
	CHECK(msgctl(0, IPC_INFO, (struct msqid_ds *)8));

	seminfo("IPC_INFO empty", IPC_INFO);
	seminfo("SEM_INFO empty", SEM_INFO);
	int s1 = semget(IPC_PRIVATE, 3, 0600), s2 = semget(IPC_PRIVATE, 5, 0600);
	printf("sets made: %d\n", s1 >= 0 && s2 >= 0);
	seminfo("IPC_INFO two sets", IPC_INFO);
	seminfo("SEM_INFO two sets", SEM_INFO);
	CHECK(semctl(s1, 0, IPC_RMID));
	seminfo("SEM_INFO after a removal", SEM_INFO);
	union semun bad = {.__buf = (struct seminfo *)8};
	CHECK(semctl(0, 0, IPC_INFO, bad));
	return 0;
}
