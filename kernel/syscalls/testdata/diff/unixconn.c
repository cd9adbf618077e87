/* AF_UNIX connection edges (unix(7), connect(2), listen(2), shutdown(2), poll(2)): connect
 * to a missing path, a non-socket, a socket that does not listen, a closed listener, a
 * listener of another type (EPROTOTYPE), malformed addresses; a full backlog (EAGAIN
 * without waiting, and after SO_SNDTIMEO when blocking); getsockname/getpeername lengths
 * and truncation; shutdown of an unconnected socket; the poll events of every state;
 * SO_PASSCRED autobinding; SO_PEEK_OFF on streams and datagrams. */
#include "common.h"
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/epoll.h>
#include <sys/wait.h>

static socklen_t mkaddr(struct sockaddr_un *a, const char *path, int abstract) {
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (abstract) {
		memcpy(a->sun_path + 1, path, strlen(path));
		return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
	}
	strcpy(a->sun_path, path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static void names(const char *what, int s) {
	struct sockaddr_un a;
	socklen_t l = sizeof a;
	memset(&a, 0x55, sizeof a);
	int r = getsockname(s, (struct sockaddr *)&a, &l);
	printf("%s: getsockname %d len %d family %d", what, r, (int)l, a.sun_family);
	if (r == 0 && l > offsetof(struct sockaddr_un, sun_path)) {
		if (a.sun_path[0] == 0)
			printf(" abstract %d bytes", (int)(l - offsetof(struct sockaddr_un, sun_path) - 1));
		else
			printf(" path %s", a.sun_path);
	}
	l = sizeof a;
	errno = 0;
	r = getpeername(s, (struct sockaddr *)&a, &l);
	printf("; getpeername %d %s len %d\n", r, errname(r < 0 ? errno : 0), r < 0 ? -1 : (int)l);
}

static void pollstate(const char *what, int s) {
	struct pollfd p = {s, POLLIN | POLLOUT | POLLRDHUP | POLLPRI | POLLRDNORM | POLLWRNORM | POLLWRBAND, 0};
	poll(&p, 1, 0);
	/* epoll must agree with poll. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLRDNORM | EPOLLWRNORM | EPOLLWRBAND, {0}}, got = {0};
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	int n = epoll_wait(ep, &got, 1, 0);
	close(ep);
	printf("%s: revents %#x%s\n", what, p.revents, (n > 0 ? got.events : 0) == (unsigned)p.revents ? "" : " (epoll differs)");
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	workdir("unixconn");
	struct sockaddr_un a;
	socklen_t al;
	int types[] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM};
	const char *tn[] = {"stream", "seqpacket", "dgram"};

	printf("-- connect errors\n");
	for (int i = 0; i < 3; i++) {
		printf("%s\n", tn[i]);
		int s = socket(AF_UNIX, types[i], 0);
		al = mkaddr(&a, "missing", 0);
		CHECK(connect(s, (struct sockaddr *)&a, al));
		close(open("plainfile", O_CREAT | O_WRONLY, 0644));
		al = mkaddr(&a, "plainfile", 0);
		CHECK(connect(s, (struct sockaddr *)&a, al));
		al = mkaddr(&a, "nobody-here", 1);
		CHECK(connect(s, (struct sockaddr *)&a, al));
		CHECK(connect(s, (struct sockaddr *)&a, 1));
		CHECK(connect(s, (struct sockaddr *)&a, sizeof(sa_family_t)));
		CHECK(connect(s, (struct sockaddr *)&a, sizeof a + 1));
		a.sun_family = AF_INET;
		CHECK(connect(s, (struct sockaddr *)&a, al));
		/* A bound socket that does not listen. */
		int b = socket(AF_UNIX, types[i], 0);
		char path[32];
		snprintf(path, sizeof path, "bound-%d", i);
		al = mkaddr(&a, path, 0);
		CHECK(bind(b, (struct sockaddr *)&a, al));
		CHECK(connect(s, (struct sockaddr *)&a, al));
		/* A listener of each other type. */
		for (int j = 0; j < 3; j++) {
			if (types[j] == SOCK_DGRAM) continue;
			int l = socket(AF_UNIX, types[j], 0);
			snprintf(path, sizeof path, "l-%d-%d", i, j);
			al = mkaddr(&a, path, 0);
			bind(l, (struct sockaddr *)&a, al);
			listen(l, 5);
			int c = socket(AF_UNIX, types[i], 0);
			errno = 0;
			int r = connect(c, (struct sockaddr *)&a, al);
			printf("  connect to a %s listener: %d %s\n", tn[j], r, errname(r < 0 ? errno : 0));
			close(c);
			close(l); /* closed: the name stays, nobody answers */
			c = socket(AF_UNIX, types[i], 0);
			errno = 0;
			r = connect(c, (struct sockaddr *)&a, al);
			printf("  connect to the closed %s listener: %d %s\n", tn[j], r, errname(r < 0 ? errno : 0));
			close(c);
		}
		close(b);
		close(s);
	}

	printf("-- abstract names are per type\n");
	{
		int s3[3];
		char name[64];
		snprintf(name, sizeof name, "sbx-unixconn-%d", (int)getpid()); /* natively, the host's namespace */
		al = mkaddr(&a, name, 1);
		for (int i = 0; i < 3; i++) {
			s3[i] = socket(AF_UNIX, types[i], 0);
			errno = 0;
			int r = bind(s3[i], (struct sockaddr *)&a, al);
			printf("%s binds the name: %d %s\n", tn[i], r, errname(r < 0 ? errno : 0));
		}
		int again = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK(bind(again, (struct sockaddr *)&a, al));
		close(again);
		listen(s3[1], 5);
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK(connect(c, (struct sockaddr *)&a, al)); /* the stream one does not listen */
		close(c);
		listen(s3[0], 5);
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK(connect(c, (struct sockaddr *)&a, al));
		close(c);
		close(s3[0]);
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK(connect(c, (struct sockaddr *)&a, al)); /* only a seqpacket one is there */
		close(c);
		c = socket(AF_UNIX, SOCK_DGRAM, 0);
		CHECK(sendto(c, "x", 1, 0, (struct sockaddr *)&a, al));
		close(c);
		close(s3[1]);
		close(s3[2]);
	}

	printf("-- backlog\n");
	for (int i = 0; i < 2; i++) {
		for (int bl = 0; bl <= 2; bl++) {
			int l = socket(AF_UNIX, types[i], 0);
			char path[32];
			snprintf(path, sizeof path, "bl-%d-%d", i, bl);
			al = mkaddr(&a, path, 0);
			bind(l, (struct sockaddr *)&a, al);
			listen(l, bl);
			int n = 0, err = 0, cs[16];
			for (; n < 10; n++) {
				cs[n] = socket(AF_UNIX, types[i] | SOCK_NONBLOCK, 0);
				if (connect(cs[n], (struct sockaddr *)&a, al) < 0) {
					err = errno;
					close(cs[n]);
					break;
				}
			}
			printf("%s backlog %d: %d connected, then %s\n", tn[i], bl, n, errname(err));
			pollstate("  listener", l);
			/* A blocking connect waits for room, up to SO_SNDTIMEO. */
			int c = socket(AF_UNIX, types[i], 0);
			struct timeval tv = {0, 20000};
			setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
			CHECK(connect(c, (struct sockaddr *)&a, al));
			close(c);
			/* Accepting one makes room for one. */
			int acc = accept(l, NULL, NULL);
			c = socket(AF_UNIX, types[i] | SOCK_NONBLOCK, 0);
			CHECK(connect(c, (struct sockaddr *)&a, al));
			CHECK(connect(c, (struct sockaddr *)&a, al));
			close(c);
			close(acc);
			for (int k = 0; k < n; k++) close(cs[k]);
			close(l);
		}
	}

	printf("-- names\n");
	for (int i = 0; i < 3; i++) {
		printf("%s\n", tn[i]);
		int s = socket(AF_UNIX, types[i], 0);
		names("  unbound", s);
		struct sockaddr_un g;
		socklen_t gl = 1;
		CHECK(getsockname(s, (struct sockaddr *)&g, &gl));
		printf("  len with a 1-byte buffer: %d\n", (int)gl);
		gl = -1;
		CHECK(getsockname(s, (struct sockaddr *)&g, &gl));
		CHECK(getsockname(s, (struct sockaddr *)&g, NULL));
		char path[32];
		snprintf(path, sizeof path, "name-%d", i);
		al = mkaddr(&a, path, 0);
		CHECK(bind(s, (struct sockaddr *)&a, al));
		names("  bound", s);
		gl = offsetof(struct sockaddr_un, sun_path) + 3;
		memset(&g, 0, sizeof g);
		CHECK(getsockname(s, (struct sockaddr *)&g, &gl));
		printf("  truncated: len %d, got \"%.3s\" then %d\n", (int)gl, g.sun_path, g.sun_path[3]);
		/* A name without its NUL in addrlen, and one that fills sun_path. */
		int t = socket(AF_UNIX, types[i], 0);
		snprintf(path, sizeof path, "nonul-%d", i);
		al = mkaddr(&a, path, 0) - 1;
		CHECK(bind(t, (struct sockaddr *)&a, al));
		names("  bound without the NUL", t);
		close(t);
		t = socket(AF_UNIX, types[i], 0);
		al = mkaddr(&a, "abs", 1);
		a.sun_path[4 + i] = 0; /* distinct per type: "abs" then i+1 NULs */
		CHECK(bind(t, (struct sockaddr *)&a, al + i + 1));
		names("  abstract with NULs", t);
		close(t);
		t = socket(AF_UNIX, types[i], 0);
		CHECK(bind(t, (struct sockaddr *)&a, sizeof(sa_family_t)));
		names("  autobound", t);
		close(t);
		close(s);
	}
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	names("socketpair", sv[0]);

	printf("-- shutdown and poll\n");
	for (int i = 0; i < 3; i++) {
		printf("%s\n", tn[i]);
		int s = socket(AF_UNIX, types[i], 0);
		pollstate("  unconnected", s);
		CHECK(shutdown(s, SHUT_RD));
		pollstate("  unconnected after SHUT_RD", s);
		CHECK(shutdown(s, SHUT_WR));
		pollstate("  unconnected after SHUT_RDWR", s);
		CHECK(shutdown(s, 7));
		char b[4];
		CHECK(recv(s, b, 4, MSG_DONTWAIT));
		CHECK(send(s, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL));
		close(s);
		if (types[i] != SOCK_DGRAM) {
			int l = socket(AF_UNIX, types[i], 0);
			char path[32];
			snprintf(path, sizeof path, "poll-%d", i);
			al = mkaddr(&a, path, 0);
			bind(l, (struct sockaddr *)&a, al);
			pollstate("  bound", l);
			listen(l, 5);
			pollstate("  listening", l);
			int c = socket(AF_UNIX, types[i], 0);
			connect(c, (struct sockaddr *)&a, al);
			pollstate("  listening with one waiting", l);
			pollstate("  connected, not accepted", c);
			CHECK(shutdown(l, SHUT_RD));
			pollstate("  listening after SHUT_RD", l);
			int acc = accept(l, NULL, NULL);
			printf("  accept after SHUT_RD: %s\n", acc >= 0 ? "a connection" : errname(errno));
			int c2 = socket(AF_UNIX, types[i], 0);
			CHECK(connect(c2, (struct sockaddr *)&a, al));
			close(c2);
			CHECK(shutdown(l, SHUT_RDWR));
			pollstate("  listening after SHUT_RDWR", l);
			close(acc);
			pollstate("  peer closed", c);
			close(c);
			close(l);
		}
		if (types[i] == SOCK_DGRAM) {
			/* A receiver that shut its receiving side: senders hear EPIPE, its own
			 * blocking receive returns end of file. */
			int r = socket(AF_UNIX, SOCK_DGRAM, 0);
			al = mkaddr(&a, "dgram-shut", 0);
			bind(r, (struct sockaddr *)&a, al);
			int w = socket(AF_UNIX, SOCK_DGRAM, 0);
			CHECK(sendto(w, "a", 1, 0, (struct sockaddr *)&a, al));
			CHECK(shutdown(r, SHUT_RD));
			pollstate("  receiver after SHUT_RD", r);
			CHECK(sendto(w, "b", 1, 0, (struct sockaddr *)&a, al));
			CHECK(recv(r, b, 4, 0));
			CHECK(recv(r, b, 4, 0));
			CHECK(connect(w, (struct sockaddr *)&a, al));
			CHECK(send(w, "c", 1, 0));
			CHECK(shutdown(w, SHUT_WR));
			pollstate("  sender after SHUT_WR", w);
			CHECK(send(w, "c", 1, 0));
			close(w);
			close(r);
		}
		socketpair(AF_UNIX, types[i], 0, sv);
		pollstate("  pair", sv[0]);
		CHECK(shutdown(sv[0], SHUT_RDWR));
		pollstate("  pair after own SHUT_RDWR", sv[0]);
		pollstate("  its peer", sv[1]);
		close(sv[0]);
		pollstate("  its peer after the close", sv[1]);
		CHECK(send(sv[1], "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL));
		close(sv[1]);
	}

	printf("-- SO_PASSCRED autobinds\n");
	for (int i = 0; i < 3; i++) {
		int one = 1;
		socketpair(AF_UNIX, types[i], 0, sv);
		setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
		names(tn[i], sv[0]);
		close(sv[0]);
		close(sv[1]);
		if (types[i] == SOCK_DGRAM) {
			int r = socket(AF_UNIX, SOCK_DGRAM, 0);
			al = mkaddr(&a, "passcred-dgram", 0);
			bind(r, (struct sockaddr *)&a, al);
			int s = socket(AF_UNIX, SOCK_DGRAM, 0);
			setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
			names("  dgram before sending", s);
			CHECK(sendto(s, "hi", 2, 0, (struct sockaddr *)&a, al));
			names("  dgram after sending", s);
			struct sockaddr_un from;
			socklen_t fl = sizeof from;
			char b[4];
			CHECK(recvfrom(r, b, 4, 0, (struct sockaddr *)&from, &fl));
			printf("  sender's name: len %d abstract %d\n", (int)fl, fl > 2 && from.sun_path[0] == 0);
			int s2 = socket(AF_UNIX, SOCK_DGRAM, 0);
			setsockopt(s2, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
			CHECK(connect(s2, (struct sockaddr *)&a, al));
			names("  dgram after connect", s2);
			close(s);
			close(s2);
			close(r);
		} else {
			int l = socket(AF_UNIX, types[i], 0);
			char path[32];
			snprintf(path, sizeof path, "passcred-%d", i);
			al = mkaddr(&a, path, 0);
			bind(l, (struct sockaddr *)&a, al);
			listen(l, 5);
			int c = socket(AF_UNIX, types[i], 0);
			setsockopt(c, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
			CHECK(connect(c, (struct sockaddr *)&a, al));
			names("  connected with SO_PASSCRED", c);
			int acc = accept(l, NULL, NULL);
			names("  its accepted end", acc);
			close(acc);
			close(c);
			close(l);
		}
	}

	printf("-- SO_PEEK_OFF\n");
	for (int i = 0; i < 3; i++) {
		printf("%s\n", tn[i]);
		socketpair(AF_UNIX, types[i], 0, sv);
		send(sv[0], "abcdef", 6, 0);
		send(sv[0], "ghij", 4, 0);
		int off = 0;
		CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off));
		char b[16];
		for (int k = 0; k < 4; k++) {
			memset(b, 0, sizeof b);
			errno = 0;
			int r = recv(sv[1], b, 3, MSG_PEEK | MSG_DONTWAIT);
			socklen_t ol = sizeof off;
			getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &ol);
			printf("  peek %d %s \"%s\", offset now %d\n", r, errname(r < 0 ? errno : 0), b, off);
		}
		memset(b, 0, sizeof b);
		int r = recv(sv[1], b, 2, MSG_DONTWAIT);
		socklen_t ol = sizeof off;
		getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &ol);
		printf("  read %d \"%s\", offset now %d\n", r, b, off);
		memset(b, 0, sizeof b);
		r = recv(sv[1], b, 16, MSG_PEEK | MSG_DONTWAIT);
		getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &ol);
		printf("  peek %d \"%s\", offset now %d\n", r, b, off);
		off = -1;
		CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off));
		memset(b, 0, sizeof b);
		r = recv(sv[1], b, 16, MSG_PEEK | MSG_DONTWAIT);
		getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &ol);
		printf("  peek without an offset %d \"%s\", offset %d\n", r, b, off);
		off = -5;
		CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off));
		close(sv[0]);
		close(sv[1]);
	}
	return 0;
}
