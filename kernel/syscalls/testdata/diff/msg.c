#include "common.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <fcntl.h>

/* waits until process pid sleeps (state S in /proc/PID/stat), at most 30 seconds */
static void until_sleeping(pid_t pid) {
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 15000; i++) {
		int fd = open(path, O_RDONLY);
		int n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		char *p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		usleep(2000);
	}
}

/* System V message queues: types, selection rules, truncation, blocking, limits, removal. */

struct m { long type; char text[64]; };

int main(void) {
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	CHECK(q >= 0);
	struct m m;
	for (int i = 1; i <= 4; i++) {
		m.type = i % 3 + 1;
		snprintf(m.text, sizeof m.text, "msg%d", i);
		CHECK(msgsnd(q, &m, strlen(m.text) + 1, 0));
	}
	struct msqid_ds ds;
	CHECK(msgctl(q, IPC_STAT, &ds));
	printf("qnum %lu cbytes %lu qbytes %lu\n", ds.msg_qnum, ds.__msg_cbytes, ds.msg_qbytes);
	CHECK(msgrcv(q, &m, sizeof m.text, 3, 0));
	printf("type 3: %s\n", m.text);
	CHECK(msgrcv(q, &m, sizeof m.text, 3, MSG_EXCEPT));
	printf("not 3: %ld %s\n", m.type, m.text);
	CHECK(msgrcv(q, &m, sizeof m.text, -2, 0));
	printf("lowest <= 2: %ld %s\n", m.type, m.text);
	CHECK(msgrcv(q, &m, 2, 0, 0));
	CHECK(msgrcv(q, &m, 2, 0, MSG_NOERROR));
	printf("truncated: %.2s\n", m.text);
	CHECK(msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT));
	/* A child blocks in msgrcv until we send. */
	pid_t c = fork();
	if (c == 0) {
		struct m r;
		_exit(msgrcv(q, &r, sizeof r.text, 7, 0) > 0 && strcmp(r.text, "late") == 0 ? 0 : 1);
	}
	usleep(50000);
	m.type = 7;
	strcpy(m.text, "late");
	CHECK(msgsnd(q, &m, 5, 0));
	int st;
	waitpid(c, &st, 0);
	printf("child got it: %d\n", WEXITSTATUS(st) == 0);
	/* A full queue: IPC_NOWAIT says EAGAIN. */
	ds.msg_qbytes = 10;
	CHECK(msgctl(q, IPC_SET, &ds));
	CHECK(msgsnd(q, &m, 8, IPC_NOWAIT));
	CHECK(msgsnd(q, &m, 8, IPC_NOWAIT));
	/* Removal wakes a blocked receiver with EIDRM. */
	c = fork();
	if (c == 0) {
		struct m r;
		int n = msgrcv(q, &r, sizeof r.text, 99, 0);
		_exit(n < 0 && errno == EIDRM ? 0 : 1);
	}
	until_sleeping(c);
	CHECK(msgctl(q, IPC_RMID, NULL));
	waitpid(c, &st, 0);
	printf("EIDRM seen: %d\n", WEXITSTATUS(st) == 0);
	CHECK(msgsnd(q, &m, 8, 0));
	m.type = 0;
	int q2 = msgget(IPC_PRIVATE, 0600);
	CHECK(msgsnd(q2, &m, 8, 0));
	m.type = 1;
	CHECK(msgsnd(q2, &m, 9000, 0));
	CHECK(msgctl(q2, IPC_RMID, NULL));
	return 0;
}
