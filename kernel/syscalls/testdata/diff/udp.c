#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

/* UDP over IPv4 and IPv6 on the loopback (inside the sandbox: its private loopback): bind,
 * names, sendto/recvfrom, boundaries, MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT, SO_RCVTIMEO, poll,
 * connect (a connected socket hears only its peer; getpeername), AF_UNSPEC dissolving it,
 * and ECONNREFUSED after sending to a port nothing listens on. */

static socklen_t loop(int family, struct sockaddr_storage *ss, int port) {
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof *a;
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	a->sin6_addr = in6addr_loopback;
	return sizeof *a;
}

static int port_of(struct sockaddr_storage *ss) { return ntohs(((struct sockaddr_in *)ss)->sin_port); }

static void run(int family) {
	printf("--- family %d\n", family);
	struct sockaddr_storage sa, ca, from;
	socklen_t al = loop(family, &sa, 0), fl;
	int s = socket(family, SOCK_DGRAM, 0), c = socket(family, SOCK_DGRAM, 0), o = socket(family, SOCK_DGRAM, 0);
	CHECK(bind(s, (struct sockaddr *)&sa, al));
	CHECK(bind(s, (struct sockaddr *)&sa, al));
	socklen_t l = sizeof sa;
	CHECK(getsockname(s, (struct sockaddr *)&sa, &l));
	printf("bound: family %d len %d port>0 %d\n", sa.ss_family, (int)l, port_of(&sa) > 0);
	char buf[64];
	CHECK(recv(s, buf, sizeof buf, MSG_DONTWAIT));
	struct timeval tv = {0, 100000};
	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	CHECK(recv(s, buf, sizeof buf, 0));
	CHECK(sendto(c, "hello", 5, 0, (struct sockaddr *)&sa, al));
	CHECK(sendto(c, "world!", 6, 0, (struct sockaddr *)&sa, al));
	struct pollfd p = {s, POLLIN, 0};
	CHECK(poll(&p, 1, 30000));
	printf("revents %x\n", p.revents);
	CHECK(recv(s, buf, 2, MSG_PEEK | MSG_TRUNC));
	fl = sizeof from;
	memset(buf, 0, sizeof buf);
	CHECK(recvfrom(s, buf, 3, 0, (struct sockaddr *)&from, &fl));
	printf("got %s from family %d len %d\n", buf, from.ss_family, (int)fl);
	l = sizeof ca;
	getsockname(c, (struct sockaddr *)&ca, &l);
	printf("sender port matches: %d\n", port_of(&ca) == port_of(&from));
	struct iovec iov = {buf, sizeof buf};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	memset(buf, 0, sizeof buf);
	CHECK(recvmsg(s, &m, 0));
	printf("got %s flags %x\n", buf, m.msg_flags);
	/* Connected to c: o's datagrams are not heard. */
	CHECK(getpeername(s, (struct sockaddr *)&from, &fl));
	CHECK(connect(s, (struct sockaddr *)&from, sizeof from < fl ? sizeof from : fl));
	CHECK(connect(s, (struct sockaddr *)&ca, l));
	fl = sizeof from;
	CHECK(getpeername(s, (struct sockaddr *)&from, &fl));
	CHECK(sendto(o, "other", 5, 0, (struct sockaddr *)&sa, al));
	CHECK(sendto(c, "peer", 4, 0, (struct sockaddr *)&sa, al));
	memset(buf, 0, sizeof buf);
	CHECK(recv(s, buf, sizeof buf, 0));
	printf("got %s\n", buf);
	CHECK(send(s, "back", 4, 0));
	memset(buf, 0, sizeof buf);
	CHECK(recv(c, buf, sizeof buf, 0));
	printf("got %s\n", buf);
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	CHECK(connect(s, &unspec, sizeof unspec));
	fl = sizeof from;
	CHECK(getpeername(s, (struct sockaddr *)&from, &fl));
	CHECK(send(s, "x", 1, 0));
	close(s), close(c), close(o);
	/* Connected to a port nothing listens on: the next receive reports ECONNREFUSED. */
	int z = socket(family, SOCK_DGRAM, 0);
	al = loop(family, &sa, 0);
	bind(z, (struct sockaddr *)&sa, al);
	l = sizeof sa;
	getsockname(z, (struct sockaddr *)&sa, &l);
	close(z);
	int k = socket(family, SOCK_DGRAM, 0);
	CHECK(connect(k, (struct sockaddr *)&sa, al));
	CHECK(send(k, "a", 1, 0));
	p = (struct pollfd){k, POLLIN, 0};
	CHECK(poll(&p, 1, 30000) > 0);
	CHECK(recv(k, buf, sizeof buf, MSG_DONTWAIT));
	CHECK(recv(k, buf, sizeof buf, MSG_DONTWAIT));
	close(k);
}

int main(void) {
	run(AF_INET);
	run(AF_INET6);
	return 0;
}
