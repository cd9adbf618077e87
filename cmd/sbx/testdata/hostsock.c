// hostsock: a host peer (hostsock_test.go) passes one end of a socketpair over the socket
// named by $WAYLAND_DISPLAY (brokered under sbx); this program reads from that socket, then
// passes the write end of a pipe over it, which the peer writes into. It prints what it saw;
// the test compares that with a native run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int main(void) {
	const char *path = getenv("WAYLAND_DISPLAY");
	if (!path || path[0] != '/') {
		printf("WAYLAND_DISPLAY is not a path\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strncpy(a.sun_path, path, sizeof(a.sun_path) - 1);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	char tag, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&tag, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	if (recvmsg(s, &m, MSG_CMSG_CLOEXEC) != 1 || !CMSG_FIRSTHDR(&m)) {
		printf("recvmsg: %s\n", strerror(errno));
		return 1;
	}
	int peer;
	memcpy(&peer, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	int type = 0, domain = 0;
	socklen_t l = sizeof(int);
	getsockopt(peer, SOL_SOCKET, SO_TYPE, &type, &l);
	l = sizeof(int);
	getsockopt(peer, SOL_SOCKET, SO_DOMAIN, &domain, &l);
	struct stat st;
	fstat(peer, &st);
	printf("tag %c: socket %d, unix %d, stream %d\n", tag, S_ISSOCK(st.st_mode), domain == AF_UNIX, type == SOCK_STREAM);
	char buf[64] = {0};
	ssize_t n = recv(peer, buf, sizeof(buf) - 1, 0);
	printf("recv on it: %zd %s %s\n", n, buf, n < 0 ? strerror(errno) : "");

	// A file over the received socket.
	int p[2];
	pipe2(p, O_CLOEXEC);
	struct msghdr w = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	tag = 'P';
	struct cmsghdr *c = CMSG_FIRSTHDR(&w);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	n = sendmsg(peer, &w, 0);
	printf("sendmsg on it: %zd %s\n", n, n < 0 ? strerror(errno) : "");
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("pipe: %s\n", buf);
	return 0;
}
