/* Signal-driven I/O beyond pipes and AF_UNIX (sigio.c): ptys (master and slave, SIGIO and
 * F_SETSIG's siginfo), TCP on the sandbox's loopback (a listener's connection, data), and
 * SIGURG for TCP urgent data, sent to the F_SETOWN owner (a process or a process group)
 * with or without O_ASYNC, with SIOCATMARK and MSG_OOB reads. */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <pty.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>

static void expect(const char *what, int sig) {
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	struct timespec ts = {30, 0}; /* (a loaded machine) */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int r = sigtimedwait(&set, &si, &ts);
	if (r < 0) { printf("%s: no signal (%s)\n", what, errname(errno)); return; }
	if (sig == SIGIO || sig == SIGURG)
		printf("%s: signal %d code %#x\n", what, r, si.si_code);
	else
		printf("%s: F_SETSIG signal code %d band %#lx fd-match %d\n", what, si.si_code, si.si_band, si.si_fd > 2);
}

static void nothing(const char *what, int sig) {
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	struct timespec ts = {0, 200000000};
	int r = sigtimedwait(&set, NULL, &ts);
	printf("%s: %s\n", what, r < 0 ? "none" : "a signal");
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	sigset_t all;
	sigemptyset(&all);
	sigaddset(&all, SIGIO);
	sigaddset(&all, SIGURG);
	sigaddset(&all, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &all, NULL);
	setpgid(0, 0);

	/* ptys */
	int m, s;
	if (openpty(&m, &s, NULL, NULL, NULL) != 0) { perror("openpty"); return 2; }
	struct termios tio;
	tcgetattr(s, &tio);
	cfmakeraw(&tio);
	tcsetattr(s, TCSANOW, &tio);
	CHECK(fcntl(m, F_SETOWN, getpid()));
	CHECK(fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_ASYNC));
	nothing("pty master idle", SIGIO);
	write(s, "x", 1);
	expect("pty master readable", SIGIO);
	char c;
	read(m, &c, 1);
	CHECK(fcntl(s, F_SETOWN, getpid()));
	CHECK(fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_ASYNC));
	nothing("pty slave idle", SIGIO);
	write(m, "y", 1);
	expect("pty slave readable", SIGIO);
	read(s, &c, 1);
	CHECK(fcntl(s, F_SETSIG, SIGRTMIN + 1));
	write(m, "z", 1);
	expect("pty slave F_SETSIG", SIGRTMIN + 1);
	read(s, &c, 1);
	close(m);
	close(s);

	/* TCP on loopback: SIGIO for connection, data; SIGURG for out-of-band data. */
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	bind(l, (void *)&a, sizeof a);
	getsockname(l, (void *)&a, &al);
	listen(l, 1);
	CHECK(fcntl(l, F_SETOWN, getpid()));
	CHECK(fcntl(l, F_SETFL, fcntl(l, F_GETFL) | O_ASYNC));
	int cl = socket(AF_INET, SOCK_STREAM, 0);
	connect(cl, (void *)&a, sizeof a);
	expect("listener: connection", SIGIO);
	int sv = accept(l, NULL, NULL);
	CHECK(fcntl(sv, F_SETOWN, getpid()));
	CHECK(fcntl(sv, F_GETOWN) == getpid());
	CHECK(fcntl(sv, F_SETFL, fcntl(sv, F_GETFL) | O_ASYNC));
	nothing("tcp idle", SIGIO);
	write(cl, "data", 4);
	expect("tcp readable", SIGIO);
	char buf[16];
	int q = -1;
	CHECK(ioctl(sv, FIONREAD, &q));
	printf("FIONREAD %d\n", q);
	CHECK(ioctl(l, FIONREAD, &q));
	CHECK(read(sv, buf, sizeof buf));
	CHECK(ioctl(sv, FIONREAD, &q));
	printf("FIONREAD after read %d\n", q);
	CHECK(ioctl(cl, SIOCOUTQ, &q));
	printf("SIOCOUTQ after read %d\n", q);
	CHECK(send(cl, "!", 1, MSG_OOB));
	expect("tcp urgent", SIGURG);
	nothing("tcp urgent SIGIO too", SIGIO);
	int at = 0;
	CHECK(ioctl(sv, SIOCATMARK, &at));
	printf("atmark %d\n", at);
	CHECK(recv(sv, buf, 1, MSG_OOB));
	printf("oob byte %c\n", buf[0]);
	CHECK(recv(sv, buf, 1, MSG_OOB));
	/* Without an owner, no SIGURG. */
	CHECK(fcntl(sv, F_SETOWN, 0));
	CHECK(send(cl, "?", 1, MSG_OOB));
	nothing("tcp urgent without owner", SIGURG);
	/* A process group owner. */
	CHECK(fcntl(sv, F_SETOWN, -getpgrp()));
	CHECK(fcntl(sv, F_GETOWN) == -getpgrp());
	CHECK(send(cl, "#", 1, MSG_OOB));
	expect("tcp urgent to group", SIGURG);
	close(cl); close(sv); close(l);
	return 0;
}
