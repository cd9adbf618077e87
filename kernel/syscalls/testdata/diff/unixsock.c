#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

/* AF_UNIX servers inside the sandbox: bind (path, abstract, autobind), listen, accept,
 * connect, names, poll/epoll on a listener, and the errors around them. */

static socklen_t addr_of(struct sockaddr_un *a, const char *path, int abstract) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (abstract) {
		memcpy(a->sun_path + 1, path, strlen(path));
		return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
	}
	strcpy(a->sun_path, path);
	return sizeof *a;
}

int main(void) {
	workdir("unixsock");
	struct sockaddr_un a, got;
	socklen_t len;
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	socklen_t al = addr_of(&a, "srv.sock", 0);
	CHECK(bind(l, (struct sockaddr *)&a, al));
	CHECK(bind(l, (struct sockaddr *)&a, al));
	struct stat st;
	CHECK(stat("srv.sock", &st));
	printf("is socket: %d\n", S_ISSOCK(st.st_mode));
	int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(l2, (struct sockaddr *)&a, al));
	CHECK(listen(l, 8));
	len = sizeof got;
	CHECK(getsockname(l, (struct sockaddr *)&got, &len));
	printf("name %s len %d\n", got.sun_path, (int)len);
	fcntl(l, F_SETFL, O_NONBLOCK);
	CHECK(accept4(l, NULL, NULL, SOCK_NONBLOCK));
	CHECK(accept(l, NULL, NULL));
	fcntl(l, F_SETFL, 0);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, al));
	struct pollfd pfd = {l, POLLIN, 0};
	CHECK(poll(&pfd, 1, 30000));
	printf("listener revents %x\n", pfd.revents);
	len = sizeof got;
	int s = accept(l, (struct sockaddr *)&got, &len);
	CHECK(s >= 0);
	printf("peer len %d\n", (int)len);
	CHECK(write(c, "ping", 4));
	char buf[16] = {0};
	CHECK(read(s, buf, sizeof buf));
	printf("server got %s\n", buf);
	CHECK(write(s, "pong", 4));
	memset(buf, 0, sizeof buf);
	CHECK(read(c, buf, sizeof buf));
	printf("client got %s\n", buf);
	len = sizeof got;
	CHECK(getpeername(c, (struct sockaddr *)&got, &len));
	printf("client's peer %s\n", got.sun_path);
	close(c);
	CHECK(read(s, buf, sizeof buf));
	close(s);
	/* A blocking accept woken by a child's connect; epoll on the listener. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev));
	CHECK(epoll_wait(ep, &out, 1, 0));
	pid_t child = fork();
	if (child == 0) {
		usleep(20000);
		int cc = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(cc, (struct sockaddr *)&a, al) != 0) _exit(1);
		write(cc, "from child", 10);
		_exit(0);
	}
	CHECK(epoll_wait(ep, &out, 1, 30000));
	printf("epoll data %u\n", out.data.u32);
	s = accept(l, NULL, NULL);
	memset(buf, 0, sizeof buf);
	CHECK(read(s, buf, 10));
	printf("got %s\n", buf);
	int status;
	waitpid(child, &status, 0);
	printf("child status %d\n", WEXITSTATUS(status));
	/* Abstract names and autobind. */
	int la = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	socklen_t aal = addr_of(&a, "sbx-test-abstract", 1);
	CHECK(bind(la, (struct sockaddr *)&a, aal));
	CHECK(listen(la, 1));
	int ca = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(connect(ca, (struct sockaddr *)&a, aal));
	int sa = accept(la, NULL, NULL);
	CHECK(send(ca, "one", 3, 0));
	CHECK(send(ca, "two!", 4, 0));
	CHECK(recv(sa, buf, sizeof buf, 0));
	CHECK(recv(sa, buf, sizeof buf, 0));
	len = sizeof got;
	CHECK(getsockname(la, (struct sockaddr *)&got, &len));
	printf("abstract len %d first %d name %s\n", (int)len, got.sun_path[0], got.sun_path + 1);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(ls, (struct sockaddr *)&a, aal));
	int auto_ = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(listen(auto_, 1));
	a.sun_family = AF_UNIX;
	CHECK(bind(auto_, (struct sockaddr *)&a, sizeof(sa_family_t)));
	len = sizeof got;
	CHECK(getsockname(auto_, (struct sockaddr *)&got, &len));
	printf("autobind len %d\n", (int)len);
	/* Errors. */
	int n = socket(AF_UNIX, SOCK_STREAM, 0);
	addr_of(&a, "nothing-here", 0);
	CHECK(connect(n, (struct sockaddr *)&a, sizeof a));
	addr_of(&a, "nobody-listens", 1);
	CHECK(connect(n, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + 15));
	int unl = socket(AF_UNIX, SOCK_STREAM, 0);
	addr_of(&a, "bound-only", 0);
	CHECK(bind(unl, (struct sockaddr *)&a, sizeof a));
	CHECK(connect(n, (struct sockaddr *)&a, sizeof a));
	CHECK(accept(unl, NULL, NULL));
	CHECK(accept4(l, NULL, NULL, 0x777));
	CHECK(listen(0, 1));
	CHECK(unlink("srv.sock"));
	addr_of(&a, "srv.sock", 0);
	CHECK(connect(n, (struct sockaddr *)&a, sizeof a));
	return 0;
}
