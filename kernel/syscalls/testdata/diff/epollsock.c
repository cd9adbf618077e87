#include "common.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* epoll(7) watches the open file description, whatever happens to the socket afterwards:
 * sockets added to an epoll set before they connect (blocking and non-blocking, edge- and
 * level-triggered) or before they bind and listen on the loopback report the readiness
 * of what they became. Inside the sandbox these are its private loopback's sockets. */

static void wait1(int ep, const char *what) {
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, 30000);
	/* Which files are ready, not the order of the ready list. */
	if (n == 2 && ev[0].data.u64 > ev[1].data.u64) {
		struct epoll_event x = ev[0];
		ev[0] = ev[1];
		ev[1] = x;
	}
	printf("%s: %d", what, n);
	for (int i = 0; i < n; i++)
		printf(" [data %d in %d out %d hup %d err %d]", (int)ev[i].data.u64, !!(ev[i].events & EPOLLIN),
		       !!(ev[i].events & EPOLLOUT), !!(ev[i].events & EPOLLHUP), !!(ev[i].events & EPOLLERR));
	for (int i = 0; i < n; i++)
		if (ev[i].events & EPOLLRDHUP)
			printf(" [data %d rdhup]", (int)ev[i].data.u64);
	printf("\n");
}

static void run(int family, const char *loop, int et, int nonblock) {
	printf("--- family %d et %d nonblock %d\n", family, et, nonblock);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sl;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, loop, &a->sin_addr);
		sl = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, loop, &a->sin6_addr);
		sl = sizeof *a;
	}
	int ep = epoll_create1(0);
	int l = socket(family, SOCK_STREAM, 0);
	struct epoll_event ev = {.events = EPOLLIN | (et ? EPOLLET : 0), .data.u64 = 1};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev));
	CHECK(bind(l, (struct sockaddr *)&ss, sl));
	CHECK(listen(l, 4));
	getsockname(l, (struct sockaddr *)&ss, &sl);
	CHECK(epoll_wait(ep, &ev, 1, 0));

	int c = socket(family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | (et ? EPOLLET : 0);
	ev.data.u64 = 2;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev));
	int r = connect(c, (struct sockaddr *)&ss, sl);
	printf("connect: %s\n", r == 0 || errno == EINPROGRESS ? "OK or EINPROGRESS" : errname(errno));
	/* The listener has a connection to accept; the client is writable. */
	wait1(ep, "after connect");
	int a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	if (et)
		CHECK(epoll_wait(ep, &ev, 1, 0));
	CHECK(write(a, "hello", 5));
	wait1(ep, "after the server wrote");
	char b[8];
	CHECK(read(c, b, sizeof b));
	if (et)
		CHECK(epoll_wait(ep, &ev, 1, 0));
	close(a);
	wait1(ep, "after the server closed");
	/* Hung up once both directions are shut. */
	CHECK(shutdown(c, SHUT_WR));
	if (!et)
		wait1(ep, "after shutting down writing too");
	close(c);
	close(l);
	close(ep);
}

int main(void) {
	for (int et = 0; et < 2; et++)
		for (int nb = 0; nb < 2; nb++) {
			run(AF_INET, "127.0.0.1", et, nb);
			run(AF_INET6, "::1", et, nb);
		}
	return 0;
}
