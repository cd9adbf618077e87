/* Unix-domain sockets at their edges: SO_PASSCRED and SCM_CREDENTIALS (sent, received,
 * checked as uid 65534), MSG_PEEK/MSG_TRUNC/MSG_WAITALL/MSG_DONTWAIT on stream, datagram
 * and seqpacket sockets, shutdown directions, abstract and autobound names, socket option
 * reads (SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN) and the errno paths of bind,
 * connect, listen, accept and send. */
#include "common.h"
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static void creds(void) {
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	int on = 1;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
	int v = -1; socklen_t l = sizeof v;
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &l));
	printf("  passcred %d\n", v);
	/* with SO_PASSCRED the receiver gets the sender's credentials even when none are sent */
	CHECK(send(sv[0], "a", 1, 0));
	char buf[64], cbuf[256];
	struct iovec iov = {buf, sizeof buf};
	struct msghdr mh = {0};
	mh.msg_iov = &iov; mh.msg_iovlen = 1; mh.msg_control = cbuf; mh.msg_controllen = sizeof cbuf;
	CHECK(recvmsg(sv[1], &mh, 0));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (c) {
		struct ucred u;
		memcpy(&u, CMSG_DATA(c), sizeof u);
		printf("  cmsg level %d type %d len %zu pid-ok %d uid %u gid %u\n", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len,
			u.pid == getpid(), u.uid, u.gid);
	} else {
		printf("  no cmsg\n");
	}
	/* sending explicit credentials: one's own are fine, others' need privilege */
	struct ucred mine = {getpid(), getuid(), getgid()};
	char sbuf[CMSG_SPACE(sizeof mine)];
	memset(sbuf, 0, sizeof sbuf);
	struct msghdr sm = {0};
	struct iovec siov = {"b", 1};
	sm.msg_iov = &siov; sm.msg_iovlen = 1; sm.msg_control = sbuf; sm.msg_controllen = sizeof sbuf;
	c = CMSG_FIRSTHDR(&sm);
	c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_CREDENTIALS; c->cmsg_len = CMSG_LEN(sizeof mine);
	memcpy(CMSG_DATA(c), &mine, sizeof mine);
	CHECK(sendmsg(sv[0], &sm, 0));
	mh.msg_controllen = sizeof cbuf;
	CHECK(recvmsg(sv[1], &mh, 0));
	c = CMSG_FIRSTHDR(&mh);
	printf("  cmsg %d\n", c != NULL && c->cmsg_type == SCM_CREDENTIALS);
	struct ucred other = {getpid(), 12345, 12345};
	memcpy(CMSG_DATA(c = CMSG_FIRSTHDR(&sm)), &other, sizeof other);
	CHECK(sendmsg(sv[0], &sm, 0));
	if (getuid() == 0) {
		mh.msg_controllen = sizeof cbuf;
		CHECK(recvmsg(sv[1], &mh, 0));
		c = CMSG_FIRSTHDR(&mh);
		struct ucred u;
		memcpy(&u, CMSG_DATA(c), sizeof u);
		printf("  spoofed uid %u\n", u.uid);
	}
	struct ucred badpid = {0x3ffff0, getuid(), getgid()};
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&sm)), &badpid, sizeof badpid);
	if (getuid() != 0) CHECK(sendmsg(sv[0], &sm, 0));
	c = CMSG_FIRSTHDR(&sm);
	c->cmsg_len = CMSG_LEN(4);
	sm.msg_controllen = CMSG_SPACE(4);
	CHECK(sendmsg(sv[0], &sm, 0));
	/* without SO_PASSCRED on the receiver no credentials arrive */
	on = 0;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
	CHECK(send(sv[0], "c", 1, 0));
	mh.msg_controllen = sizeof cbuf;
	CHECK(recvmsg(sv[1], &mh, 0));
	printf("  controllen %zu\n", (size_t)mh.msg_controllen);
	/* a control buffer too small for them: MSG_CTRUNC */
	on = 1;
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	CHECK(send(sv[0], "d", 1, 0));
	mh.msg_controllen = sizeof(struct cmsghdr);
	CHECK(recvmsg(sv[1], &mh, 0));
	printf("  flags ctrunc %d controllen %zu\n", !!(mh.msg_flags & MSG_CTRUNC), (size_t)mh.msg_controllen);
	close(sv[0]); close(sv[1]);

	/* SO_PEERCRED of a socketpair and of a connected stream socket */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	struct ucred pc; l = sizeof pc;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &pc, &l));
	printf("  peercred pid-ok %d uid %u len %u\n", pc.pid == getpid(), pc.uid, l);
	l = 4;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &pc, &l));
	printf("  short len %u\n", l);
	close(sv[0]); close(sv[1]);
}

static void flags(void) {
	int sv[2];
	char buf[64];
	/* datagrams: MSG_TRUNC returns the real length; MSG_PEEK leaves the datagram */
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	CHECK(send(sv[0], "0123456789", 10, 0));
	CHECK(recv(sv[1], buf, 4, MSG_PEEK));
	CHECK(recv(sv[1], buf, 4, MSG_PEEK | MSG_TRUNC));
	CHECK(recv(sv[1], NULL, 0, MSG_PEEK | MSG_TRUNC));
	struct iovec iov = {buf, 4};
	struct msghdr mh = {0};
	mh.msg_iov = &iov; mh.msg_iovlen = 1;
	CHECK(recvmsg(sv[1], &mh, 0));
	printf("  msg_flags trunc %d\n", !!(mh.msg_flags & MSG_TRUNC));
	CHECK(recv(sv[1], buf, 4, MSG_DONTWAIT));
	CHECK(send(sv[0], "", 0, 0));
	CHECK(recv(sv[1], buf, 4, MSG_DONTWAIT));
	CHECK(recv(sv[1], buf, 4, MSG_DONTWAIT));
	static char big[300000];
	CHECK(send(sv[0], big, sizeof big, 0));
	CHECK(send(sv[0], buf, 4, 0x80000000));
	CHECK(recv(sv[1], buf, 4, MSG_OOB));
	shutdown(sv[0], SHUT_WR);
	CHECK(send(sv[0], "x", 1, MSG_NOSIGNAL));
	CHECK(recv(sv[1], buf, 4, MSG_DONTWAIT));
	close(sv[0]); close(sv[1]);

	/* streams: MSG_TRUNC discards, MSG_PEEK does not consume, MSG_WAITALL waits for all */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(send(sv[0], "abcdefgh", 8, 0));
	CHECK(recv(sv[1], buf, 3, MSG_PEEK));
	CHECK(recv(sv[1], NULL, 3, MSG_TRUNC));
	CHECK(recv(sv[1], buf, 64, MSG_DONTWAIT));
	buf[5] = 0;
	printf("  rest %s\n", buf);
	CHECK(recv(sv[1], buf, 64, MSG_DONTWAIT));
	CHECK(send(sv[0], "", 0, 0));
	CHECK(recv(sv[1], buf, 64, MSG_DONTWAIT));
	pid_t c = fork();
	if (c == 0) {
		for (int i = 0; i < 4; i++) { write(sv[0], "wxyz", 4); usleep(10000); }
		_exit(0);
	}
	CHECK(recv(sv[1], buf, 16, MSG_WAITALL));
	waitpid(c, NULL, 0);
	/* shutdown: reads after SHUT_RD are EOF, writes after SHUT_WR are EPIPE */
	CHECK(shutdown(sv[1], SHUT_RD));
	CHECK(recv(sv[1], buf, 4, 0));
	CHECK(shutdown(sv[1], 7));
	CHECK(shutdown(sv[0], SHUT_WR));
	signal(SIGPIPE, SIG_IGN);
	CHECK(send(sv[0], "x", 1, 0));
	CHECK(recv(sv[1], buf, 4, 0));
	CHECK(send(sv[1], "y", 1, 0));
	CHECK(recv(sv[0], buf, 4, 0));
	CHECK(shutdown(sv[0], SHUT_RDWR));
	CHECK(send(sv[1], "y", 1, 0));
	int fd = open("/dev/null", O_RDONLY);
	CHECK(shutdown(fd, SHUT_RD));
	CHECK(send(fd, "x", 1, 0));
	CHECK(recv(fd, buf, 1, 0));
	close(fd);
	close(sv[0]); close(sv[1]);

	/* seqpacket: record boundaries, MSG_TRUNC, MSG_EOR */
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	CHECK(send(sv[0], "12345", 5, MSG_EOR));
	CHECK(send(sv[0], "678", 3, 0));
	CHECK(recv(sv[1], buf, 2, 0));
	CHECK(recv(sv[1], buf, 64, 0));
	CHECK(send(sv[0], "12345", 5, 0));
	mh.msg_flags = 0; iov.iov_len = 2;
	CHECK(recvmsg(sv[1], &mh, MSG_TRUNC));
	printf("  seq flags trunc %d eor %d\n", !!(mh.msg_flags & MSG_TRUNC), !!(mh.msg_flags & MSG_EOR));
	CHECK(send(sv[0], "", 0, 0));
	CHECK(recv(sv[1], buf, 64, MSG_DONTWAIT));
	close(sv[0]);
	CHECK(recv(sv[1], buf, 64, 0));
	close(sv[1]);
	signal(SIGPIPE, SIG_DFL);
}

static void names(void) {
	struct sockaddr_un a = {AF_UNIX}, got;
	socklen_t l;
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	/* autobind: an empty address gets an abstract name of five hex digits */
	CHECK(bind(s, (struct sockaddr *)&a, sizeof(sa_family_t)));
	l = sizeof got;
	CHECK(getsockname(s, (struct sockaddr *)&got, &l));
	printf("  autobind len %u abstract %d\n", l, got.sun_path[0] == 0);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof(sa_family_t)));
	close(s);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	l = sizeof got;
	CHECK(getsockname(s, (struct sockaddr *)&got, &l));
	printf("  unbound len %u family %d\n", l, got.sun_family);
	char name[64];
	snprintf(name, sizeof name, "#sbxdiff-unixedge-%d", getpid());
	int n = strlen(name);
	memcpy(a.sun_path, name, n);
	a.sun_path[0] = 0;
	socklen_t al = offsetof(struct sockaddr_un, sun_path) + n;
	CHECK(bind(s, (struct sockaddr *)&a, al));
	l = sizeof got;
	CHECK(getsockname(s, (struct sockaddr *)&got, &l));
	printf("  abstract len-ok %d\n", l == al);
	CHECK(listen(s, 1));
	int v; socklen_t vl = sizeof v;
	CHECK(getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
	printf("  acceptconn %d\n", v);
	int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(s2, (struct sockaddr *)&a, al));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, al));
	CHECK(connect(c, (struct sockaddr *)&a, al));
	int acc = accept(s, NULL, NULL);
	CHECK(acc >= 0);
	l = sizeof got;
	CHECK(getpeername(c, (struct sockaddr *)&got, &l));
	printf("  peer len-ok %d\n", l == al);
	l = sizeof got;
	CHECK(getpeername(acc, (struct sockaddr *)&got, &l));
	printf("  accepted peer len %u\n", l);
	l = sizeof got;
	CHECK(getpeername(s, (struct sockaddr *)&got, &l));
	close(acc); close(c); close(s2);
	/* the name is free again once its socket is closed */
	close(s);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(s, (struct sockaddr *)&a, al));
	close(s);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, al));
	close(c);

	/* option reads */
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	vl = sizeof v;
	CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl)); printf("  type %d\n", v);
	CHECK(getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &vl)); printf("  domain %d\n", v);
	CHECK(getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &vl)); printf("  protocol %d\n", v);
	CHECK(getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl)); printf("  acceptconn %d\n", v);
	CHECK(getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &vl)); printf("  error %d\n", v);
	CHECK(fcntl(s, F_GETFL) & O_NONBLOCK ? 1 : 0);
	CHECK(fcntl(s, F_GETFD));
	CHECK(accept(s, NULL, NULL));
	CHECK(listen(s, 1));
	CHECK(accept(s, NULL, NULL));
	CHECK(accept4(s, NULL, NULL, 0x1234));
	close(s);

	/* errno paths */
	CHECK(socket(AF_UNIX, SOCK_STREAM, 1));
	CHECK(socket(AF_UNIX, SOCK_RAW, 0));
	CHECK(socket(AF_UNIX, 77, 0));
	CHECK(socket(1234, SOCK_STREAM, 0));
	CHECK(socket(AF_UNIX, SOCK_STREAM | 0x100000, 0));
	CHECK(socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, NULL));
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(listen(s, 1));
	CHECK(send(s, "x", 1, 0));
	CHECK(sendto(s, "x", 1, 0, (struct sockaddr *)&a, al));
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, "/nonexistent-sbxdiff/sock");
	CHECK(connect(s, (struct sockaddr *)&a, sizeof a));
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	a.sun_family = AF_INET;
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	CHECK(connect(s, (struct sockaddr *)&a, sizeof a));
	a.sun_family = AF_UNIX;
	CHECK(bind(s, (struct sockaddr *)&a, 1));
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a + 1));
	CHECK(bind(s, NULL, sizeof a));
	CHECK(connect(s, (struct sockaddr *)&a, 0));
	strcpy(a.sun_path, "/tmp");
	CHECK(connect(s, (struct sockaddr *)&a, sizeof a));
	close(s);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(send(s, "x", 1, MSG_NOSIGNAL));
	CHECK(recv(s, &v, 1, 0));
	CHECK(listen(s, -1));
	CHECK(connect(s, (struct sockaddr *)&a, sizeof a));
	close(s);
	CHECK(listen(0x7fff, 1));
	fd_set_check: {
		int fd = open("/dev/null", O_RDONLY);
		CHECK(listen(fd, 1));
		CHECK(getsockname(fd, (struct sockaddr *)&got, &l));
		CHECK(accept(fd, NULL, NULL));
		close(fd);
	}
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	creds();
	flags();
	names();
	return 0;
}
