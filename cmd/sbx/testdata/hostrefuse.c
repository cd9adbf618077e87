// hostrefuse: files with no host form cannot go to a host peer. Over the socket named by
// $WAYLAND_DISPLAY (brokered under sbx) it sends an eventfd (a kernel object), then a pipe
// end together with an eventfd, each refused as a whole with EOPNOTSUPP and nothing sent,
// then a plain message the peer (hostsock_test.go) must see first, and prints what it got.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *send_fds(int s, char tag, int *fds, int n) {
	char cbuf[CMSG_SPACE(sizeof(int) * 2)];
	struct iovec iov = {&tag, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(s, &m, 0) == 1 ? "sent" : strerrorname_np(errno);
}

int main(void) {
	const char *path = getenv("WAYLAND_DISPLAY");
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strncpy(a.sun_path, path ? path : "", sizeof(a.sun_path) - 1);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	int efd = eventfd(0, EFD_CLOEXEC), p[2];
	pipe2(p, O_CLOEXEC);
	printf("eventfd: %s\n", send_fds(s, 'E', &efd, 1));
	int both[2] = {p[1], efd};
	printf("pipe and eventfd: %s\n", send_fds(s, 'B', both, 2));
	printf("plain: %zd\n", write(s, "D", 1));
	char buf[32] = {0};
	printf("peer says: %.*s\n", (int)read(s, buf, sizeof(buf) - 1), buf);
	return 0;
}
