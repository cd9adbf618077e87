#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>

/* TCP over IPv4 and IPv6 on the loopback (inside the sandbox: its private loopback): socket
 * errors, bind, listen, blocking and non-blocking connect, accept, names, options, MSG_PEEK,
 * MSG_DONTWAIT, MSG_WAITALL, SO_RCVTIMEO, shutdown, edge-triggered epoll, and a refused
 * connect to a port nothing listens on. Ports differ between runs and are not printed. */

static void show(const char *what, struct sockaddr *sa) {
	char buf[64] = "?";
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, buf, sizeof buf);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, buf, sizeof buf);
	printf("%s: family %d addr %s port>0 %d\n", what, sa->sa_family, buf,
	       ntohs(((struct sockaddr_in *)sa)->sin_port) > 0);
}

static int optint(int s, int level, int name) {
	int v = -1;
	socklen_t l = sizeof v;
	if (getsockopt(s, level, name, &v, &l) < 0)
		return -errno;
	return v;
}

static void pair(int family, const char *loop) {
	printf("--- family %d\n", family);
	struct sockaddr_storage ss, got;
	memset(&ss, 0, sizeof ss);
	socklen_t al;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, loop, &a->sin_addr);
		al = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, loop, &a->sin6_addr);
		al = sizeof *a;
	}
	int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(l >= 0);
	printf("SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d SO_ACCEPTCONN %d\n", optint(l, SOL_SOCKET, SO_TYPE),
	       optint(l, SOL_SOCKET, SO_DOMAIN), optint(l, SOL_SOCKET, SO_PROTOCOL), optint(l, SOL_SOCKET, SO_ACCEPTCONN));
	CHECK(bind(l, (struct sockaddr *)&ss, al - 1));
	CHECK(bind(l, (struct sockaddr *)&ss, al));
	CHECK(bind(l, (struct sockaddr *)&ss, al));
	CHECK(listen(l, 4));
	printf("SO_ACCEPTCONN after listen %d\n", optint(l, SOL_SOCKET, SO_ACCEPTCONN));
	socklen_t gl = sizeof got;
	CHECK(getsockname(l, (struct sockaddr *)&got, &gl));
	show("listener", (struct sockaddr *)&got);
	printf("name len %d\n", (int)gl);
	gl = sizeof got;
	CHECK(getpeername(l, (struct sockaddr *)&got, &gl));
	struct sockaddr_storage srv = ss;
	socklen_t sl = sizeof srv;
	getsockname(l, (struct sockaddr *)&srv, &sl);

	fcntl(l, F_SETFL, O_NONBLOCK);
	CHECK(accept(l, NULL, NULL));
	fcntl(l, F_SETFL, 0);

	/* A blocking connect. */
	int c = socket(family, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&srv, sl));
	CHECK(connect(c, (struct sockaddr *)&srv, sl));
	gl = sizeof got;
	CHECK(getpeername(c, (struct sockaddr *)&got, &gl));
	show("client's peer", (struct sockaddr *)&got);
	struct pollfd pfd = {l, POLLIN, 0};
	CHECK(poll(&pfd, 1, 30000));
	gl = sizeof got;
	int s = accept4(l, (struct sockaddr *)&got, &gl, SOCK_CLOEXEC);
	CHECK(s >= 0);
	show("accepted peer", (struct sockaddr *)&got);
	gl = sizeof got;
	CHECK(getsockname(s, (struct sockaddr *)&got, &gl));
	show("accepted local", (struct sockaddr *)&got);

	int one = 1;
	CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	printf("TCP_NODELAY %d SO_ERROR %d\n", optint(c, IPPROTO_TCP, TCP_NODELAY), optint(c, SOL_SOCKET, SO_ERROR));
	CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, 2));
	CHECK(setsockopt(c, SOL_SOCKET, 9999, &one, sizeof one));

	char buf[64];
	CHECK(recv(s, buf, sizeof buf, MSG_DONTWAIT));
	struct timeval tv = {0, 100000};
	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	CHECK(recv(s, buf, sizeof buf, 0));
	CHECK(send(c, "hello", 5, 0));
	memset(buf, 0, sizeof buf);
	CHECK(recv(s, buf, 2, MSG_PEEK | MSG_WAITALL));
	CHECK(recv(s, buf, sizeof buf, MSG_WAITALL * 0));
	printf("got %s\n", buf);
	CHECK(send(c, "abcdef", 6, MSG_NOSIGNAL));
	memset(buf, 0, sizeof buf);
	CHECK(recv(s, buf, 6, MSG_WAITALL));
	printf("got %s\n", buf);

	/* Edge-triggered epoll: one event per arrival. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = s}, out[4];
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	CHECK(epoll_wait(ep, out, 4, 0));
	CHECK(send(c, "x", 1, 0));
	CHECK(epoll_wait(ep, out, 4, 30000));
	CHECK(epoll_wait(ep, out, 4, 0));
	CHECK(send(c, "y", 1, 0));
	CHECK(epoll_wait(ep, out, 4, 30000));
	CHECK(recv(s, buf, sizeof buf, 0));
	close(ep);

	/* shutdown: the peer reads the end. */
	CHECK(shutdown(c, 7));
	CHECK(shutdown(c, SHUT_WR));
	CHECK(recv(s, buf, sizeof buf, 0));
	CHECK(send(s, "back", 4, 0));
	memset(buf, 0, sizeof buf);
	CHECK(recv(c, buf, sizeof buf, 0));
	printf("got %s\n", buf);
	close(c);
	close(s);

	/* A non-blocking connect: done now or in progress, then writable with SO_ERROR 0. */
	c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(c, (struct sockaddr *)&srv, sl);
	printf("non-blocking connect: %s\n", r == 0 || errno == EINPROGRESS ? "ok or in progress" : errname(errno));
	pfd = (struct pollfd){c, POLLOUT, 0};
	CHECK(poll(&pfd, 1, 30000));
	printf("SO_ERROR %d\n", optint(c, SOL_SOCKET, SO_ERROR));
	s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	close(s);
	close(c);
	close(l);

	/* Nothing listens there any more. */
	c = socket(family, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&srv, sl));
	close(c);
}

int main(void) {
	CHECK(socket(AF_INET, SOCK_SEQPACKET, 0));
	CHECK(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	CHECK(socket(AF_INET6, SOCK_DGRAM, IPPROTO_TCP));
	CHECK(socket(AF_INET, 77, 0));
	int sv[2];
	CHECK(socketpair(AF_INET, SOCK_STREAM, 0, sv));
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(1)};
	CHECK(connect(s, (struct sockaddr *)&a6, sizeof a6));
	CHECK(connect(s, (struct sockaddr *)&a6, 1));
	char b;
	CHECK(recv(s, &b, 1, 0));
	CHECK(send(s, &b, 1, MSG_NOSIGNAL));
	CHECK(getpeername(s, (struct sockaddr *)&a6, &(socklen_t){sizeof a6}));
	CHECK(shutdown(s, SHUT_RD));
	close(s);
	pair(AF_INET, "127.0.0.1");
	pair(AF_INET6, "::1");
	return 0;
}
