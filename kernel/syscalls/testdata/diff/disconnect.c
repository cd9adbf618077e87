#include "common.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

/* connect(2) with AF_UNSPEC (connect(2): "connectionless sockets may dissolve the
 * association"; a TCP socket is disconnected: tcp_disconnect resets the connection and the
 * socket may connect again, a listener stops listening) on the loopback (inside the
 * sandbox: its private loopback), and scoped IPv6 addresses (ipv6(7): sin6_scope_id names
 * the interface of a link-local address): link-local without a scope, on lo, and on an
 * interface that does not exist. Ports differ between runs and are not printed. */

static struct sockaddr unspec = {.sa_family = AF_UNSPEC};

static int optint(int s, int level, int name) {
	int v = -1;
	socklen_t l = sizeof v;
	if (getsockopt(s, level, name, &v, &l) < 0)
		return -errno;
	return v;
}

static void shown(const char *what, int s) {
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (getsockname(s, (struct sockaddr *)&ss, &l) < 0) {
		printf("%s: getsockname %s\n", what, errname(errno));
		return;
	}
	char buf[64] = "?";
	int port;
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, sizeof buf);
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf, sizeof buf);
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		printf("%s: scope %u\n", what, ((struct sockaddr_in6 *)&ss)->sin6_scope_id);
	}
	printf("%s: %s port>0 %d\n", what, buf, port > 0);
}

static void tcp(int family, const char *loop) {
	printf("--- tcp family %d\n", family);
	struct sockaddr_storage ss;
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
	int l = socket(family, SOCK_STREAM, 0);
	CHECK(bind(l, (struct sockaddr *)&ss, al));
	CHECK(listen(l, 4));
	socklen_t sl = sizeof ss;
	getsockname(l, (struct sockaddr *)&ss, &sl);

	int c = socket(family, SOCK_STREAM, 0);
	CHECK(connect(c, &unspec, 1));
	CHECK(connect(c, &unspec, sizeof unspec));
	CHECK(connect(c, &unspec, sizeof unspec));
	CHECK(connect(c, (struct sockaddr *)&ss, sl));
	int a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	CHECK(send(c, "x", 1, 0));
	CHECK(connect(c, &unspec, sizeof unspec));
	struct sockaddr_storage peer;
	socklen_t pl = sizeof peer;
	CHECK(getpeername(c, (struct sockaddr *)&peer, &pl));
	shown("disconnected", c);
	char b[8];
	CHECK(recv(c, b, sizeof b, MSG_DONTWAIT));
	CHECK(send(c, "y", 1, MSG_NOSIGNAL));
	CHECK(optint(c, SOL_SOCKET, SO_ERROR));
	usleep(20000);
	/* The accepted end: what was sent before the reset may be gone with it (Linux drops it),
	 * then the reset, then end of file. */
	int r = recv(a, b, sizeof b, 0);
	if (r == 1)
		r = recv(a, b, sizeof b, 0);
	printf("accepted end: %d %s\n", r, r < 0 ? errname(errno) : "OK");
	CHECK(recv(a, b, sizeof b, 0));
	close(a);

	/* Connect again: a disconnected socket is a fresh one. */
	CHECK(connect(c, (struct sockaddr *)&ss, sl));
	a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	CHECK(send(c, "z", 1, 0));
	CHECK(recv(a, b, sizeof b, 0));
	CHECK(optint(c, SOL_SOCKET, SO_ERROR));
	close(a);
	close(c);

	/* A listener stops listening; it may listen again. */
	CHECK(connect(l, &unspec, sizeof unspec));
	CHECK(optint(l, SOL_SOCKET, SO_ACCEPTCONN));
	c = socket(family, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&ss, sl));
	close(c);
	CHECK(listen(l, 4));
	CHECK(optint(l, SOL_SOCKET, SO_ACCEPTCONN));
	sl = sizeof ss;
	getsockname(l, (struct sockaddr *)&ss, &sl);
	c = socket(family, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&ss, sl));
	close(c);
	close(l);
}

/* An interface index no host reaches (host interfaces come and go: a fixed small one may
 * exist). */
#define NOSUCH_IF 0x7fffffffu

static void scoped(int type) {
	printf("--- scoped type %d\n", type);
	unsigned lo = if_nametoindex("lo");
	struct {
		const char *addr;
		unsigned scope;
	} cases[] = {{"fe80::1", 0}, {"fe80::1", lo}, {"fe80::1", NOSUCH_IF}};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_scope_id = cases[i].scope};
		inet_pton(AF_INET6, cases[i].addr, &a.sin6_addr);
		printf("%s scope %s\n", cases[i].addr, cases[i].scope == lo ? "lo" : cases[i].scope ? "none such" : "0");
		int s = socket(AF_INET6, type | SOCK_NONBLOCK, 0);
		CHECK(connect(s, (struct sockaddr *)&a, sizeof a));
		close(s);
		s = socket(AF_INET6, type, 0);
		a.sin6_port = 0;
		CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
		close(s);
		if (type == SOCK_DGRAM && cases[i].scope == NOSUCH_IF) {
			s = socket(AF_INET6, type, 0);
			a.sin6_port = htons(9);
			CHECK(sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
			close(s);
		}
	}
	/* A scope on an address that needs none is ignored. */
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_scope_id = lo, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int l = socket(AF_INET6, type, 0);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a));
	shown("bound with a scope", l);
	if (type == SOCK_STREAM)
		CHECK(listen(l, 1));
	socklen_t sl = sizeof a;
	getsockname(l, (struct sockaddr *)&a, &sl);
	a.sin6_scope_id = NOSUCH_IF;
	int c = socket(AF_INET6, type, 0);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a));
	CHECK(send(c, "q", 1, 0));
	close(c);
	close(l);
}

int main(void) {
	signal(SIGPIPE, SIG_IGN);
	tcp(AF_INET, "127.0.0.1");
	tcp(AF_INET6, "::1");
	scoped(SOCK_STREAM);
	scoped(SOCK_DGRAM);
	return 0;
}
