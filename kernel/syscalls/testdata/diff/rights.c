#include "common.h"
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* Passing open files over AF_UNIX sockets (SCM_RIGHTS): to another process, several at a
 * time, with MSG_CMSG_CLOEXEC, truncated control buffers, and the errors. */

static int send_fds(int s, const int *fds, int n, const char *data) {
	char ctl[CMSG_SPACE(sizeof(int) * 8)] = {0};
	struct iovec iov = {(void *)data, strlen(data)};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(s, &m, 0);
}

static int recv_fds(int s, int *fds, int max, size_t ctllen, int flags, char *data, int *mflags) {
	char ctl[256];
	struct iovec iov = {data, 63};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = ctllen;
	int n = recvmsg(s, &m, flags);
	if (n < 0)
		return -1;
	data[n] = 0;
	*mflags = m.msg_flags;
	int got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && got < max; i++)
				memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	return got;
}

int main(void) {
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	int p[2];
	pipe(p);
	/* Send a pipe's write end to a child, which writes through it. */
	pid_t c = fork();
	if (c == 0) {
		close(sv[0]);
		int fds[4], mf;
		char data[64];
		int got = recv_fds(sv[1], fds, 4, 256, 0, data, &mf);
		if (got != 1)
			_exit(1);
		write(fds[0], "via passed fd", 13);
		_exit(0);
	}
	close(sv[1]);
	CHECK(send_fds(sv[0], &p[1], 1, "take this"));
	close(p[1]);
	int st;
	waitpid(c, &st, 0);
	char buf[64] = {0};
	CHECK(read(p[0], buf, sizeof buf - 1));
	printf("child status %d, read: %s\n", WEXITSTATUS(st), buf);
	CHECK(read(p[0], buf, sizeof buf)); /* EOF: every copy of the write end is closed */
	/* Several files at once, data boundaries kept, MSG_CMSG_CLOEXEC. */
	int a[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a));
	int f1 = open("/etc/hostname", O_RDONLY), f2 = dup(f1), f3 = open("/dev/null", O_WRONLY);
	int three[3] = {f1, f2, f3};
	CHECK(send(a[0], "plain", 5, 0));
	CHECK(send_fds(a[0], three, 3, "three"));
	CHECK(send(a[0], "after", 5, 0));
	int fds[8], mf;
	char data[64];
	/* A stream read runs on into the message carrying files and stops after it. */
	int got = recv_fds(a[1], fds, 8, 256, MSG_CMSG_CLOEXEC, data, &mf);
	printf("first: %d files, data %s, flags %x\n", got, data, mf);
	lseek(f1, 3, SEEK_SET);
	printf("cloexec: %d; shares the offset: %d\n", fcntl(fds[0], F_GETFD) & FD_CLOEXEC, lseek(fds[0], 0, SEEK_CUR) == 3);
	printf("second: %d files, data %s\n", recv_fds(a[1], fds, 8, 256, 0, data, &mf), data);
	/* A control buffer with room for one file: the rest are dropped, MSG_CTRUNC. */
	CHECK(send_fds(a[0], three, 3, "trunc"));
	got = recv_fds(a[1], fds, 8, CMSG_SPACE(sizeof(int)), 0, data, &mf);
	printf("truncated: %d files, ctrunc %d\n", got, (mf & MSG_CTRUNC) != 0);
	CHECK(send_fds(a[0], three, 3, "none"));
	got = recv_fds(a[1], fds, 8, 0, 0, data, &mf);
	printf("no room: %d files, ctrunc %d\n", got, (mf & MSG_CTRUNC) != 0);
	/* Errors. */
	int bad = 999;
	CHECK(send_fds(a[0], &bad, 1, "x"));
	/* Files sent and never received are released when the socket goes. */
	int q[2];
	pipe(q);
	int s2[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, s2);
	CHECK(send_fds(s2[0], &q[1], 1, "lost"));
	close(q[1]);
	close(s2[0]);
	close(s2[1]);
	fcntl(q[0], F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 3000 && read(q[0], buf, 1) != 0; i++) { /* 30 s on a loaded machine */
		int t2[2];
		socketpair(AF_UNIX, SOCK_STREAM, 0, t2); /* a later send collects lost files */
		send_fds(t2[0], &f3, 1, "gc");
		close(t2[0]);
		close(t2[1]);
		usleep(10000);
	}
	CHECK(read(q[0], buf, 1));
	return 0;
}
