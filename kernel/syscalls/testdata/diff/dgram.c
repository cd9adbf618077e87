#include "common.h"
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* AF_UNIX datagram sockets: bind, sendto/recvfrom with addresses, connect, boundaries,
 * truncation, poll, and the errors. */

static socklen_t addr_of(struct sockaddr_un *a, const char *path) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strcpy(a->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

int main(void) {
	workdir("dgram");
	struct sockaddr_un sa, ca, from;
	socklen_t sl = addr_of(&sa, "server"), cl = addr_of(&ca, "client"), fl;
	int srv = socket(AF_UNIX, SOCK_DGRAM, 0), cli = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(srv, (struct sockaddr *)&sa, sl));
	int anon = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(sendto(anon, "anonymous", 9, 0, (struct sockaddr *)&sa, sl));
	CHECK(bind(cli, (struct sockaddr *)&ca, cl));
	CHECK(sendto(cli, "hello", 5, 0, (struct sockaddr *)&sa, sl));
	CHECK(sendto(cli, "world!", 6, 0, (struct sockaddr *)&sa, sl));
	char buf[64];
	fl = sizeof from;
	int n = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	printf("%d bytes %.*s from len %d\n", n, n, buf, (int)fl);
	fl = sizeof from;
	n = recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	printf("%d bytes %.*s from %s\n", n, n, buf, from.sun_path);
	/* A short buffer truncates one datagram; the next is intact. */
	CHECK(recv(srv, buf, 3, 0));
	CHECK(sendto(srv, "reply", 5, 0, (struct sockaddr *)&from, fl));
	CHECK(recv(cli, buf, sizeof buf, 0));
	/* connect: a default destination, send/write without an address. */
	CHECK(connect(cli, (struct sockaddr *)&sa, sl));
	CHECK(write(cli, "via write", 9));
	CHECK(send(cli, "via send", 8, 0));
	struct pollfd p = {srv, POLLIN, 0};
	CHECK(poll(&p, 1, 30000));
	struct iovec iov = {buf, 4};
	struct msghdr m = {0};
	m.msg_name = &from;
	m.msg_namelen = sizeof from;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	CHECK(recvmsg(srv, &m, 0));
	printf("recvmsg: trunc %d name %s\n", (m.msg_flags & MSG_TRUNC) != 0, from.sun_path);
	CHECK(recv(srv, buf, sizeof buf, MSG_TRUNC));
	CHECK(recv(srv, buf, sizeof buf, MSG_DONTWAIT));
	/* Errors. */
	struct sockaddr_un none;
	socklen_t nl = addr_of(&none, "nobody-here");
	CHECK(sendto(srv, "x", 1, 0, (struct sockaddr *)&none, nl));
	int unb = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(send(unb, "x", 1, 0));
	CHECK(listen(srv, 1));
	close(srv);
	CHECK(send(cli, "gone", 4, 0));
	return 0;
}
