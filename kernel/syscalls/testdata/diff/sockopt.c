/* SOL_SOCKET options on AF_UNIX sockets (socket(7), unix(7)): every option's default and
 * what setting it does, per socket type; the timeouts (SO_RCVTIMEO/SO_SNDTIMEO on every
 * blocking call, their rounding, EDOM, negative times, EINTR under SA_RESTART), the
 * peek offset, SO_PEERCRED/SO_PEERNAME/SO_PEERGROUPS, SO_BINDTODEVICE. */
#include "common.h"
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <stddef.h>
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static void getopt_show(int s, int opt) {
	unsigned char b[64];
	memset(b, 0xaa, sizeof b);
	socklen_t l = sizeof b;
	if (opt == 71) l = 8; /* SO_NETNS_COOKIE wants exactly 8 */
	errno = 0;
	int r = getsockopt(s, SOL_SOCKET, opt, b, &l);
	if (r < 0) { printf("  get %2d = %s\n", opt, errname(errno)); return; }
	if (opt == SO_COOKIE || opt == 71) { printf("  get %2d = len %u\n", opt, l); return; }
	printf("  get %2d = len %u:", opt, l);
	for (unsigned i = 0; i < l && i < 40; i += 4) printf(" %d", *(int *)(b + i));
	printf("\n");
}

static void setopt_show(int s, int opt, int v) {
	errno = 0;
	int r = setsockopt(s, SOL_SOCKET, opt, &v, sizeof v);
	printf("  set %2d %d = %s", opt, v, r < 0 ? errname(errno) : "OK");
	if (r == 0 && opt != SO_PEEK_OFF) { int g = 0; socklen_t l = 4; if (getsockopt(s, SOL_SOCKET, opt, &g, &l) == 0) printf(" -> %d", g); }
	printf("\n");
}

static int skip(int opt) {
	/* BPF filters (26, 50-52, 68), device memory (78-80) and LSM labels are not offered. */
	return opt == 26 || (opt >= 50 && opt <= 52) || opt == 68 || (opt >= 78 && opt <= 81) || opt == SO_PEERSEC ||
	       opt == SO_PEERPIDFD || opt == SO_PEERCRED || opt == 54 || opt == 58 || opt >= 84;
}

static void all_options(int type, const char *name) {
	int s = socket(AF_UNIX, type, 0);
	printf("%s defaults\n", name);
	for (int opt = 1; opt < 84; opt++) if (!skip(opt)) getopt_show(s, opt);
	close(s);
	printf("%s set 1, 0, -1, 7, 100000\n", name);
	int vals[] = {1, 0, -1, 7, 100000};
	for (int opt = 1; opt < 84; opt++) {
		if (skip(opt) || opt == SO_RCVTIMEO || opt == SO_SNDTIMEO || opt == 66 || opt == 67 || opt == SO_LINGER ||
		    opt == SO_BINDTODEVICE || opt == 61 || opt == 27) continue;
		for (int i = 0; i < 5; i++) { s = socket(AF_UNIX, type, 0); setopt_show(s, opt, vals[i]); close(s); }
	}
}

static void on_alarm(int sig) { (void)sig; }

static long ms_since(struct timeval *t0) {
	struct timeval t1;
	gettimeofday(&t1, NULL);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_usec - t0->tv_usec) / 1000;
}

static void timeouts(int type, const char *name) {
	int sv[2];
	socketpair(AF_UNIX, type, 0, sv);
	struct timeval tv = {0, 100000}, g;
	socklen_t l = sizeof g;
	printf("%s timeouts\n", name);
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, 8));
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &g, &l));
	printf("  rcvtimeo %ld.%06ld len %u\n", (long)g.tv_sec, (long)g.tv_usec, l);
	char buf[64];
	struct timeval t0;
	gettimeofday(&t0, NULL);
	CHECK(recv(sv[0], buf, sizeof buf, 0));
	long ms = ms_since(&t0);
	printf("  waited about the timeout: %d\n", ms >= 90 && ms < 2000);
	CHECK(read(sv[0], buf, sizeof buf));
	struct msghdr mh = {0};
	struct iovec iov = {buf, sizeof buf};
	mh.msg_iov = &iov; mh.msg_iovlen = 1;
	CHECK(recvmsg(sv[0], &mh, 0));
	/* A handled signal with SA_RESTART still ends a call with a timeout with EINTR. */
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	tv.tv_sec = 5; tv.tv_usec = 0;
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	/* Repeating: an alarm landing before the call starts is followed by more. */
	struct itimerval it = {{0, 50000}, {0, 50000}}, off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(recv(sv[0], buf, sizeof buf, 0));
	setitimer(ITIMER_REAL, &off, NULL);
	it.it_interval.tv_usec = 0;
	/* Without a timeout, SA_RESTART restarts the call: data sent by a child ends it. */
	tv.tv_sec = 0;
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	pid_t c = fork();
	if (c == 0) { usleep(200000); write(sv[1], "x", 1); _exit(0); }
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(recv(sv[0], buf, sizeof buf, 0));
	waitpid(c, NULL, 0);
	/* Rounding, bad microseconds, a negative time (never waits), zero (waits forever). */
	struct timeval odd[] = {{0, 1}, {1, 999999}, {0, 1000000}, {0, -1}, {-1, 0}, {0, 0}, {3000000000L, 0}};
	for (int i = 0; i < 7; i++) {
		errno = 0;
		int r = setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &odd[i], sizeof odd[i]);
		l = sizeof g;
		getsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &g, &l);
		printf("  sndtimeo {%ld,%ld} = %s -> %ld.%06ld\n", (long)odd[i].tv_sec, (long)odd[i].tv_usec, r ? errname(errno) : "OK", (long)g.tv_sec, (long)g.tv_usec);
	}
	tv.tv_sec = -1; tv.tv_usec = 0;
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	CHECK(recv(sv[0], buf, sizeof buf, 0));
	/* SO_SNDTIMEO: fill the peer's buffer, then a send times out. */
	tv.tv_sec = 0; tv.tv_usec = 100000;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int n = 0, r;
	char big[4096] = {0};
	fcntl_nonblock:
	while ((r = send(sv[0], big, sizeof big, MSG_DONTWAIT)) > 0) n += r;
	(void)n;
	CHECK(send(sv[0], big, sizeof big, 0));
	CHECK(write(sv[0], big, sizeof big));
	close(sv[0]); close(sv[1]);
	goto done;
	goto fcntl_nonblock;
done:;
}

static void listener_timeouts(int type, const char *name) {
	int l = socket(AF_UNIX, type, 0);
	struct sockaddr_un a = {AF_UNIX};
	snprintf(a.sun_path + 1, 60, "sbxsockopt-%d-%d", getpid(), type);
	socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
	printf("%s listener\n", name);
	CHECK(bind(l, (struct sockaddr *)&a, al));
	CHECK(listen(l, 1));
	int v; socklen_t vl = sizeof v;
	CHECK(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
	printf("  acceptconn %d\n", v);
	struct timeval tv = {0, 50000};
	CHECK(setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	CHECK(accept(l, NULL, NULL));
	struct ucred cr; vl = sizeof cr;
	CHECK(getsockopt(l, SOL_SOCKET, SO_PEERCRED, &cr, &vl));
	printf("  listener peercred self %d uid %d\n", cr.pid == getpid(), (int)cr.uid);
	int c = socket(AF_UNIX, type, 0);
	vl = sizeof cr;
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &vl));
	printf("  unconnected peercred %d %d %d len %u\n", cr.pid, (int)cr.uid, (int)cr.gid, vl);
	char nb[128]; vl = sizeof nb;
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERNAME, nb, &vl));
	CHECK(connect(c, (struct sockaddr *)&a, al));
	vl = sizeof nb;
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERNAME, nb, &vl));
	vl = al;
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERNAME, nb, &vl));
	printf("  peername full %d same %d\n", vl == al, memcmp(nb, &a, al) == 0);
	vl = 4;
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERNAME, nb, &vl));
	vl = sizeof cr;
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &vl));
	printf("  connected peercred self %d\n", cr.pid == getpid());
	gid_t gs[64]; vl = sizeof gs;
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERGROUPS, gs, &vl));
	printf("  peergroups match getgroups %d\n", vl == 4 * getgroups(64, gs));
	close(c); close(l);
}

static void peek_off(int type, const char *name) {
	int sv[2];
	socketpair(AF_UNIX, type, 0, sv);
	printf("%s peek offset\n", name);
	int off = 2;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off));
	write(sv[0], "abcdefgh", 8);
	char b[16] = {0};
	CHECK(recv(sv[1], b, 3, MSG_PEEK));
	printf("  peeked %.3s\n", b);
	CHECK(recv(sv[1], b, 3, MSG_PEEK));
	printf("  peeked %.3s\n", b);
	socklen_t l = 4;
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &l));
	printf("  offset now %d\n", off);
	CHECK(recv(sv[1], b, 4, 0));
	printf("  read %.4s\n", b);
	l = 4;
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, &l));
	printf("  offset now %d\n", off);
	close(sv[0]); close(sv[1]);
}

static void misc(void) {
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	printf("misc\n");
	CHECK(setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3));
	char dev[IFNAMSIZ] = {0}; socklen_t l = sizeof dev;
	CHECK(getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, dev, &l));
	printf("  bound to %s len %u\n", dev, l);
	l = 4;
	CHECK(getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, dev, &l));
	CHECK(setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "nosuchdev0", 11));
	CHECK(setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "", 0));
	l = sizeof dev;
	CHECK(getsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, dev, &l));
	printf("  len %u\n", l);
	struct linger lg = {1, 7}, lg2;
	CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, 4));
	CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	l = sizeof lg2;
	CHECK(getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &l));
	printf("  linger %d %d len %u\n", lg2.l_onoff, lg2.l_linger, l);
	int v = 1; l = 2;
	CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
	printf("  short len %u\n", l);
	l = -1;
	CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
	CHECK(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, 2));
	CHECK(setsockopt(s, SOL_SOCKET, 1000, &v, 4));
	CHECK(getsockopt(s, SOL_SOCKET, 1000, &v, &l));
	CHECK(setsockopt(s, SOL_TCP, 1, &v, 4));
	CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, NULL));
	l = 4;
	CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, NULL, &l));
	int fd = open("/", O_RDONLY);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l));
	CHECK(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, 4));
	CHECK(getsockopt(99, SOL_SOCKET, SO_TYPE, &v, &l));
	int bl = 1000;
	CHECK(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &bl, sizeof bl));
	l = 4;
	CHECK(getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l));
	printf("  sndbuf %d\n", v);
	bl = 1 << 30;
	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &bl, sizeof bl));
	FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");
	int rmax = 0;
	if (f) { fscanf(f, "%d", &rmax); fclose(f); }
	l = 4;
	CHECK(getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l));
	printf("  rcvbuf is twice rmem_max %d\n", rmax == 0 || v == 2 * rmax);
	close(s);
	close(fd);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	all_options(SOCK_STREAM, "stream");
	all_options(SOCK_DGRAM, "dgram");
	all_options(SOCK_SEQPACKET, "seqpacket");
	timeouts(SOCK_STREAM, "stream");
	timeouts(SOCK_SEQPACKET, "seqpacket");
	listener_timeouts(SOCK_STREAM, "stream");
	listener_timeouts(SOCK_SEQPACKET, "seqpacket");
	peek_off(SOCK_STREAM, "stream");
	misc();
	return 0;
}
