/* SO_RCVLOWAT and MSG_WAITALL on stream sockets (socket(7), recv(2)): a blocking receive
 * waits for SO_RCVLOWAT bytes (or returns at end of file), 0 reads back as 1 and a
 * negative value as a large one; MSG_WAITALL waits for the whole length, through recv and
 * recvmsg, and ends early at end of file. On AF_UNIX poll ignores SO_RCVLOWAT. (TCP's poll
 * honours it; sbx's private-loopback TCP does not yet, so this program does not poll TCP.) */
#define _GNU_SOURCE
#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

static int pev(int fd) {
	struct pollfd p = {fd, POLLIN, 0};
	poll(&p, 1, 100);
	return p.revents;
}

static void pair(int fam, int sv[2]) {
	if (fam == AF_UNIX) { socketpair(AF_UNIX, SOCK_STREAM, 0, sv); return; }
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	bind(l, (void *)&a, sizeof a);
	getsockname(l, (void *)&a, &al);
	listen(l, 1);
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	connect(sv[0], (void *)&a, sizeof a);
	sv[1] = accept(l, NULL, NULL);
	close(l);
}

static void show(int fam, const char *what, int fd) {
	if (fam == AF_UNIX) printf("%s: %#x\n", what, pev(fd));
}

static void run(int fam, const char *name) {
	int sv[2];
	pair(fam, sv);
	printf("== %s\n", name);
	int v = 4;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v));
	socklen_t l = sizeof v; v = 0;
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, &l));
	printf("rcvlowat %d\n", v);
	write(sv[0], "ab", 2);
	usleep(50000);
	show(fam, "poll with 2 of 4", sv[1]);
	char buf[16] = {0};
	CHECK(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	write(sv[0], "cd", 2);
	usleep(50000);
	show(fam, "poll with 2 more", sv[1]);
	write(sv[0], "efgh", 4);
	usleep(50000);
	show(fam, "poll with 6", sv[1]);
	/* A blocking recv waits for SO_RCVLOWAT bytes (or returns them all). */
	memset(buf, 0, sizeof buf);
	CHECK(recv(sv[1], buf, sizeof buf, 0));
	printf("got %s\n", buf);
	pid_t pid = fork();
	if (pid == 0) { usleep(100000); write(sv[0], "ij", 2); usleep(100000); write(sv[0], "kl", 2); _exit(0); }
	memset(buf, 0, sizeof buf);
	CHECK(recv(sv[1], buf, sizeof buf, 0));
	printf("got %s\n", buf);
	waitpid(pid, NULL, 0);
	v = 0;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v));
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, &l));
	printf("rcvlowat 0 reads as %d\n", v);
	v = -5;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v));
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, &l));
	printf("rcvlowat -5 reads as a large value: %d\n", v >= 1 << 20);
	v = 1;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v));
	/* MSG_WAITALL through recvmsg. */
	pid = fork();
	if (pid == 0) { usleep(100000); write(sv[0], "12", 2); usleep(100000); write(sv[0], "345", 3); _exit(0); }
	memset(buf, 0, sizeof buf);
	struct iovec iov[2] = {{buf, 3}, {buf + 3, 2}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	CHECK(recvmsg(sv[1], &mh, MSG_WAITALL));
	printf("waitall got %s\n", buf);
	waitpid(pid, NULL, 0);
	/* MSG_WAITALL ends early at EOF. */
	write(sv[0], "xy", 2);
	shutdown(sv[0], SHUT_WR);
	memset(buf, 0, sizeof buf);
	CHECK(recv(sv[1], buf, 8, MSG_WAITALL));
	printf("waitall at eof got %s\n", buf);
	close(sv[0]); close(sv[1]);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	run(AF_UNIX, "unix stream");
	run(AF_INET, "tcp loopback");
	return 0;
}
