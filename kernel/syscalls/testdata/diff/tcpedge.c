/* TCP and UDP edges on the loopback (inside the sandbox: its private loopback), from
 * socket(7), tcp(7), udp(7), ipv6(7): socket() errnos, bind errnos (EADDRINUSE,
 * EADDRNOTAVAIL, SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY), v4-mapped addresses,
 * non-blocking connect (EINPROGRESS, SO_ERROR), half-close, the reset a close with unread
 * data sends, SO_LINGER zero, option errnos and lengths, accept4 flags, sendmmsg and
 * recvmmsg, and poll events in each state. Ports differ between runs and are not
 * printed. */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static struct sockaddr_in v4(const char *ip, int port) {
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static struct sockaddr_in6 v6(const char *ip, int port) {
	struct sockaddr_in6 a = {0};
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return a;
}

static int port_of(int s) {
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	getsockname(s, (struct sockaddr *)&ss, &l);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int optint(int s, int level, int name) {
	int v = -1;
	socklen_t l = sizeof v;
	if (getsockopt(s, level, name, &v, &l) < 0) return -errno;
	return v;
}

static void pollstate(const char *what, int s) {
	struct pollfd p = {s, POLLIN | POLLOUT | POLLRDHUP | POLLPRI, 0};
	poll(&p, 1, 0);
	/* epoll must agree with poll. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI, {0}}, got = {0};
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	int n = epoll_wait(ep, &got, 1, 0);
	close(ep);
	printf("%s: revents %#x%s\n", what, p.revents, (n > 0 ? got.events : 0) == (unsigned)p.revents ? "" : " (epoll differs)");
}

/* listener returns a TCP listener on 127.0.0.1 and its port. */
static int listener(int *port) {
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = v4("127.0.0.1", 0);
	bind(l, (struct sockaddr *)&a, sizeof a);
	listen(l, 8);
	*port = port_of(l);
	return l;
}

/* connected makes a connection to l: *c the client, returns the accepted end. */
static int connected(int l, int port, int *c) {
	*c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = v4("127.0.0.1", port);
	if (connect(*c, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
	return accept(l, NULL, NULL);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);

	printf("-- socket errnos\n");
	CHECK(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	CHECK(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
	CHECK(socket(AF_INET, SOCK_SEQPACKET, 0));
	CHECK(socket(AF_INET6, SOCK_SEQPACKET, 0));
	CHECK(socket(AF_INET, SOCK_STREAM, 99));
	CHECK(socket(AF_INET6, SOCK_DGRAM, IPPROTO_TCP));
	CHECK(socket(45, SOCK_STREAM, 0));
	CHECK(socket(AF_INET, 11, 0));
	CHECK(socket(AF_INET, SOCK_STREAM | 0x1000, 0));

	printf("-- bind errnos\n");
	int port;
	int l = listener(&port);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = v4("127.0.0.1", port);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	a = v4("0.0.0.0", port);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	a = v4("192.0.2.1", 0);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	a = v4("127.0.0.1", 0);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a - 1));
	a.sin_family = AF_INET6;
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	a.sin_family = AF_UNSPEC;
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	a = v4("127.0.0.1", 0);
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	close(s);
	/* SO_REUSEADDR: two bound, not listening, may share; only one may listen. */
	int r1 = socket(AF_INET, SOCK_STREAM, 0), r2 = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	CHECK(setsockopt(r1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	CHECK(setsockopt(r2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	printf("SO_REUSEADDR reads %d\n", optint(r1, SOL_SOCKET, SO_REUSEADDR));
	a = v4("127.0.0.1", 0);
	bind(r1, (struct sockaddr *)&a, sizeof a);
	printf("SO_REUSEADDR reads %d once bound\n", optint(r1, SOL_SOCKET, SO_REUSEADDR));
	a = v4("127.0.0.1", port_of(r1));
	CHECK(bind(r2, (struct sockaddr *)&a, sizeof a));
	CHECK(listen(r1, 1));
	CHECK(listen(r2, 1));
	int r3 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(setsockopt(r3, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	CHECK(bind(r3, (struct sockaddr *)&a, sizeof a)); /* r1 listens now */
	close(r3);
	/* A connection reaches the listening one. */
	int rc = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(rc, (struct sockaddr *)&a, sizeof a));
	int ra = accept(r1, NULL, NULL);
	printf("accepted by the listener %d\n", ra >= 0);
	close(ra);
	close(rc);
	close(r1);
	close(r2);
	/* Without SO_REUSEADDR on both, no sharing. */
	r1 = socket(AF_INET, SOCK_STREAM, 0), r2 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(setsockopt(r1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	a = v4("127.0.0.1", 0);
	bind(r1, (struct sockaddr *)&a, sizeof a);
	a = v4("127.0.0.1", port_of(r1));
	CHECK(bind(r2, (struct sockaddr *)&a, sizeof a));
	close(r1);
	close(r2);
	/* SO_REUSEPORT: both may listen. */
	r1 = socket(AF_INET, SOCK_STREAM, 0), r2 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(setsockopt(r1, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one));
	CHECK(setsockopt(r2, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one));
	printf("SO_REUSEPORT reads %d\n", optint(r1, SOL_SOCKET, SO_REUSEPORT));
	a = v4("127.0.0.1", 0);
	bind(r1, (struct sockaddr *)&a, sizeof a);
	a = v4("127.0.0.1", port_of(r1));
	CHECK(bind(r2, (struct sockaddr *)&a, sizeof a));
	CHECK(listen(r1, 1));
	CHECK(listen(r2, 1));
	close(r1);
	close(r2);
	/* UDP: a port in use, and SO_REUSEADDR sharing it. */
	int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
	a = v4("127.0.0.1", 0);
	bind(u1, (struct sockaddr *)&a, sizeof a);
	a = v4("127.0.0.1", port_of(u1));
	CHECK(bind(u2, (struct sockaddr *)&a, sizeof a));
	close(u1);
	close(u2);
	u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(u1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(u2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	a = v4("127.0.0.1", 0);
	bind(u1, (struct sockaddr *)&a, sizeof a);
	a = v4("127.0.0.1", port_of(u1));
	CHECK(bind(u2, (struct sockaddr *)&a, sizeof a));
	close(u1);
	close(u2);

	printf("-- IPv6: v4-mapped and IPV6_V6ONLY\n");
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	printf("IPV6_V6ONLY default %d\n", optint(s6, IPPROTO_IPV6, IPV6_V6ONLY));
	struct sockaddr_in6 b6 = v6("::ffff:127.0.0.1", port);
	CHECK(connect(s6, (struct sockaddr *)&b6, sizeof b6));
	struct sockaddr_in6 got6;
	socklen_t gl = sizeof got6;
	getpeername(s6, (struct sockaddr *)&got6, &gl);
	char buf[64];
	inet_ntop(AF_INET6, &got6.sin6_addr, buf, sizeof buf);
	printf("peer %s family %d len %d\n", buf, got6.sin6_family, (int)gl);
	gl = sizeof got6;
	getsockname(s6, (struct sockaddr *)&got6, &gl);
	inet_ntop(AF_INET6, &got6.sin6_addr, buf, sizeof buf);
	printf("local %s\n", buf);
	struct sockaddr_in6 acc6;
	socklen_t al6 = sizeof acc6;
	int as = accept(l, (struct sockaddr *)&acc6, &al6);
	printf("accepted from family %d len %d\n", ((struct sockaddr *)&acc6)->sa_family, (int)al6);
	close(as);
	close(s6);
	s6 = socket(AF_INET6, SOCK_STREAM, 0);
	CHECK(setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	CHECK(connect(s6, (struct sockaddr *)&b6, sizeof b6));
	close(s6);
	/* A v6-only socket and a v4 one share a port; a dual-stack one does not. */
	int d6 = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(d6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	b6 = v6("::", 0);
	CHECK(bind(d6, (struct sockaddr *)&b6, sizeof b6));
	int d4 = socket(AF_INET, SOCK_STREAM, 0);
	a = v4("0.0.0.0", port_of(d6));
	CHECK(bind(d4, (struct sockaddr *)&a, sizeof a));
	CHECK(setsockopt(d6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	close(d4);
	close(d6);
	d6 = socket(AF_INET6, SOCK_DGRAM, 0);
	b6 = v6("::ffff:127.0.0.1", 0);
	CHECK(bind(d6, (struct sockaddr *)&b6, sizeof b6));
	gl = sizeof got6;
	getsockname(d6, (struct sockaddr *)&got6, &gl);
	inet_ntop(AF_INET6, &got6.sin6_addr, buf, sizeof buf);
	printf("udp bound to %s\n", buf);
	close(d6);

	printf("-- non-blocking connect\n");
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	pollstate("fresh", c);
	a = v4("127.0.0.1", port);
	errno = 0;
	int r = connect(c, (struct sockaddr *)&a, sizeof a);
	printf("connect %d %s\n", r, errname(r < 0 ? errno : 0));
	struct pollfd p = {c, POLLOUT, 0};
	poll(&p, 1, 5000);
	printf("writable %#x SO_ERROR %d\n", p.revents, optint(c, SOL_SOCKET, SO_ERROR));
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a));
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a));
	as = accept(l, NULL, NULL);
	close(as);
	close(c);
	/* To a port nothing listens on. */
	int dead = socket(AF_INET, SOCK_STREAM, 0);
	a = v4("127.0.0.1", 0);
	bind(dead, (struct sockaddr *)&a, sizeof a);
	int deadport = port_of(dead);
	close(dead);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a = v4("127.0.0.1", deadport);
	errno = 0;
	r = connect(c, (struct sockaddr *)&a, sizeof a);
	printf("connect to a closed port %d %s\n", r, errname(r < 0 ? errno : 0));
	p.fd = c;
	p.events = POLLOUT;
	poll(&p, 1, 5000);
	int e1 = optint(c, SOL_SOCKET, SO_ERROR);
	int e2 = optint(c, SOL_SOCKET, SO_ERROR);
	printf("then %#x SO_ERROR %s, again %s\n", p.revents, errname(e1), errname(e2));
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a));
	close(c);

	printf("-- states\n");
	int srv = connected(l, port, &c);
	pollstate("established", c);
	printf("TCP_INFO state %d\n", ({ struct tcp_info ti; socklen_t tl = sizeof ti; getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 ? -errno : ti.tcpi_state; }));
	CHECK(shutdown(c, SHUT_WR));
	usleep(20000);
	pollstate("client after its SHUT_WR", c);
	pollstate("server after the client's SHUT_WR", srv);
	CHECK(recv(srv, buf, sizeof buf, MSG_DONTWAIT));
	CHECK(send(srv, "back", 4, 0));
	CHECK(recv(c, buf, sizeof buf, 0));
	CHECK(send(c, "x", 1, 0));
	CHECK(shutdown(srv, SHUT_WR));
	usleep(20000);
	pollstate("client after both", c);
	close(c);
	close(srv);
	/* A close with unread data resets the connection. */
	srv = connected(l, port, &c);
	send(c, "unread", 6, 0);
	usleep(20000);
	close(srv);
	usleep(20000);
	pollstate("client after a reset", c);
	CHECK(recv(c, buf, sizeof buf, MSG_DONTWAIT));
	CHECK(recv(c, buf, sizeof buf, MSG_DONTWAIT));
	CHECK(send(c, "x", 1, 0));
	close(c);
	/* SO_LINGER {1, 0}: close resets. */
	srv = connected(l, port, &c);
	struct linger lg = {1, 0};
	CHECK(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	struct linger lg2;
	socklen_t ll = sizeof lg2;
	CHECK(getsockopt(c, SOL_SOCKET, SO_LINGER, &lg2, &ll));
	printf("linger %d %d len %d\n", lg2.l_onoff, lg2.l_linger, (int)ll);
	close(c);
	usleep(20000);
	pollstate("server after a linger-0 close", srv);
	CHECK(recv(srv, buf, sizeof buf, MSG_DONTWAIT));
	close(srv);
	pollstate("listener", l);

	printf("-- options\n");
	srv = connected(l, port, &c);
	printf("TCP_NODELAY %d\n", optint(c, IPPROTO_TCP, TCP_NODELAY));
	CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	printf("TCP_NODELAY %d\n", optint(c, IPPROTO_TCP, TCP_NODELAY));
	CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, 2));
	CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, 8));
	CHECK(setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, 0));
	CHECK(setsockopt(c, 9999, 1, &one, sizeof one));
	CHECK(getsockopt(c, 9999, 1, &one, &ll));
	CHECK(getsockopt(c, SOL_SOCKET, 9999, &one, &ll));
	CHECK(setsockopt(c, SOL_SOCKET, 9999, &one, sizeof one));
	CHECK(getsockopt(c, IPPROTO_TCP, 9999, &one, &ll));
	int v = 7;
	socklen_t vl = -1;
	CHECK(getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl));
	vl = 0;
	CHECK(getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl));
	printf("len 0: len %d value %d\n", (int)vl, v);
	vl = 2;
	v = 0;
	CHECK(getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl));
	printf("len 2: len %d value %d\n", (int)vl, v);
	char big[16];
	vl = sizeof big;
	CHECK(getsockopt(c, SOL_SOCKET, SO_TYPE, big, &vl));
	printf("len 16: len %d\n", (int)vl);
	vl = 1;
	unsigned char nd = 9;
	CHECK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nd, &vl));
	printf("TCP_NODELAY in one byte: len %d value %d\n", (int)vl, nd);
	CHECK(getsockopt(c, SOL_SOCKET, SO_TYPE, NULL, &vl));
	CHECK(getsockopt(c, SOL_SOCKET, SO_TYPE, &v, NULL));
	struct tcp_info ti;
	socklen_t tl = 8;
	CHECK(getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl));
	printf("TCP_INFO cut to %d\n", (int)tl);
	CHECK(setsockopt(c, IPPROTO_IP, IP_TTL, &one, sizeof one));
	printf("IP_TTL %d\n", optint(c, IPPROTO_IP, IP_TTL));
	v = 0;
	CHECK(setsockopt(c, IPPROTO_IP, IP_TTL, &v, sizeof v));
	v = 256;
	CHECK(setsockopt(c, IPPROTO_IP, IP_TTL, &v, sizeof v));
	v = -1;
	CHECK(setsockopt(c, IPPROTO_IP, IP_TTL, &v, sizeof v));
	printf("IP_TTL after -1 %d\n", optint(c, IPPROTO_IP, IP_TTL));
	CHECK(setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	close(c);
	close(srv);

	printf("-- accept4\n");
	c = socket(AF_INET, SOCK_STREAM, 0);
	a = v4("127.0.0.1", port);
	connect(c, (struct sockaddr *)&a, sizeof a);
	CHECK(accept4(l, NULL, NULL, 0x40));
	as = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	printf("accept4 flags: O_NONBLOCK %d FD_CLOEXEC %d\n", !!(fcntl(as, F_GETFL) & O_NONBLOCK), !!(fcntl(as, F_GETFD) & FD_CLOEXEC));
	CHECK(recv(as, buf, 1, 0));
	close(as);
	close(c);
	int nl = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(accept(nl, NULL, NULL));
	int ud = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(accept(ud, NULL, NULL));
	CHECK(listen(ud, 1));
	close(nl);
	close(ud);
	struct sockaddr_in from;
	socklen_t fl = 3;
	c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&a, sizeof a);
	as = accept(l, (struct sockaddr *)&from, &fl);
	printf("accept with a 3-byte address: len %d\n", (int)fl);
	close(as);
	close(c);

	printf("-- sendmmsg and recvmmsg\n");
	u1 = socket(AF_INET, SOCK_DGRAM, 0);
	u2 = socket(AF_INET, SOCK_DGRAM, 0);
	a = v4("127.0.0.1", 0);
	bind(u1, (struct sockaddr *)&a, sizeof a);
	a = v4("127.0.0.1", port_of(u1));
	struct mmsghdr mm[3];
	struct iovec iov[3];
	const char *msgs[] = {"one", "three", "fiftyfive"};
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 3; i++) {
		iov[i].iov_base = (void *)msgs[i];
		iov[i].iov_len = strlen(msgs[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &a;
		mm[i].msg_hdr.msg_namelen = sizeof a;
	}
	CHECK(sendmmsg(u2, mm, 3, 0));
	printf("sent lengths %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
	usleep(20000);
	struct mmsghdr rm[5];
	struct iovec riov[5];
	char rb[5][4];
	struct sockaddr_in rfrom[5];
	memset(rm, 0, sizeof rm);
	for (int i = 0; i < 5; i++) {
		riov[i].iov_base = rb[i];
		riov[i].iov_len = 4;
		rm[i].msg_hdr.msg_iov = &riov[i];
		rm[i].msg_hdr.msg_iovlen = 1;
		rm[i].msg_hdr.msg_name = &rfrom[i];
		rm[i].msg_hdr.msg_namelen = sizeof rfrom[i];
	}
	CHECK(recvmmsg(u1, rm, 5, MSG_DONTWAIT, NULL));
	for (int i = 0; i < 3; i++)
		printf("  got %u bytes, flags %#x, name len %d\n", rm[i].msg_len, rm[i].msg_hdr.msg_flags, (int)rm[i].msg_hdr.msg_namelen);
	CHECK(recvmmsg(u1, rm, 5, MSG_DONTWAIT, NULL));
	pollstate("udp bound", u1);
	pollstate("udp unbound", socket(AF_INET, SOCK_DGRAM, 0));
	close(u1);
	close(u2);
	close(l);
	return 0;
}
