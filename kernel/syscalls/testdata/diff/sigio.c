/* Signal-driven I/O (fcntl(2) F_SETOWN, F_GETOWN, F_SETOWN_EX, F_GETOWN_EX, F_SETSIG,
 * F_GETSIG; O_ASYNC and FIOASYNC) on pipes and AF_UNIX sockets: SIGIO, or the F_SETSIG
 * signal with si_code, si_band and si_fd, reaches the owner when data arrives. */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
	if (sig == SIGIO)
		printf("%s: SIGIO code %#x\n", what, si.si_code);
	else
		printf("%s: signal %s code %d band %#lx fd %d\n", what, r == sig ? "F_SETSIG's" : "other", si.si_code, si.si_band, si.si_fd);
}

static void nothing(const char *what, int sig) {
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	struct timespec ts = {0, 100000000};
	printf("%s: %s\n", what, sigtimedwait(&set, NULL, &ts) < 0 ? "none" : "a signal");
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	// A group of our own: run where the inherited group's leader is outside our PID
	// namespace (CI), getpgrp() says 0 and F_SETOWN(-0) would name no group at all.
	setpgid(0, 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int p[2];
	pipe(p);
	CHECK(fcntl(p[0], F_GETOWN));
	CHECK(fcntl(p[0], F_GETSIG));
	CHECK(fcntl(p[0], F_SETOWN, getpid()));
	CHECK(fcntl(p[0], F_GETOWN) == getpid());
	CHECK(fcntl(p[0], F_SETOWN, 0x7ffffff0));
	CHECK(fcntl(p[0], F_SETSIG, 65));
	write(p[1], "a", 1);
	nothing("pipe without O_ASYNC", SIGIO);
	CHECK(fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK));
	CHECK(fcntl(p[0], F_GETFL) & O_ASYNC ? 1 : 0);
	write(p[1], "b", 1);
	expect("pipe with O_ASYNC", SIGIO);
	CHECK(fcntl(p[0], F_SETSIG, SIGRTMIN + 1));
	CHECK(fcntl(p[0], F_GETSIG) == SIGRTMIN + 1);
	write(p[1], "c", 1);
	expect("pipe with F_SETSIG", SIGRTMIN + 1);
	char b[16];
	read(p[0], b, sizeof b);
	struct f_owner_ex ox = {F_OWNER_PID, getpid()}, got;
	CHECK(fcntl(p[0], F_SETOWN_EX, &ox));
	CHECK(fcntl(p[0], F_GETOWN_EX, &got));
	printf("owner_ex type %d pid is mine %d\n", got.type, got.pid == getpid());
	ox.type = 7;
	CHECK(fcntl(p[0], F_SETOWN_EX, &ox));
	CHECK(fcntl(p[0], F_SETOWN, -getpgrp()));
	CHECK(fcntl(p[0], F_GETOWN) == -getpgrp());
	CHECK(fcntl(p[0], F_GETOWN_EX, &got));
	printf("owner_ex type %d\n", got.type);
	CHECK(fcntl(p[0], F_SETOWN, getpid()));
	int off = 0;
	CHECK(ioctl(p[0], FIOASYNC, &off));
	write(p[1], "d", 1);
	nothing("pipe after FIOASYNC off", SIGRTMIN + 1);

	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	CHECK(fcntl(sv[1], F_SETOWN, getpid()));
	int on = 1;
	CHECK(ioctl(sv[1], FIOASYNC, &on));
	send(sv[0], "x", 1, 0);
	expect("socket with FIOASYNC", SIGIO);
	CHECK(fcntl(sv[1], F_SETSIG, SIGRTMIN + 1));
	send(sv[0], "y", 1, 0);
	expect("socket with F_SETSIG", SIGRTMIN + 1);
	return 0;
}
