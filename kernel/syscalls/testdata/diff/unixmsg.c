/* SCM_RIGHTS and message flags at their edges on AF_UNIX stream, seqpacket and datagram
 * sockets (unix(7), cmsg(3), recvmsg(2)): control buffers too small for the files sent
 * (MSG_CTRUNC, the rest closed), a buffer smaller than one file, MSG_PEEK returning the
 * files again, MSG_PEEK|MSG_TRUNC sizes, MSG_CMSG_CLOEXEC, bad control messages (EBADF,
 * EINVAL, SCM_MAX_FD), a control message of another level (ignored), zero-length sends
 * with files. */
#include "common.h"
#include <sys/socket.h>
#include <sys/un.h>

static int sendfds(int s, const int *fds, int n, const char *data, int level, int type, int lenfix) {
	char ctl[CMSG_SPACE(sizeof(int) * 300)];
	memset(ctl, 0, sizeof ctl);
	struct iovec iov = {(void *)data, strlen(data)};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n) + lenfix;
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(s, &m, 0);
}

static void recvfds(const char *what, int s, size_t room, int flags) {
	char ctl[CMSG_SPACE(sizeof(int) * 8)];
	memset(ctl, 0, sizeof ctl);
	char b[32] = {0};
	struct iovec iov = {b, 3};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = room ? ctl : NULL;
	m.msg_controllen = room;
	errno = 0;
	int r = recvmsg(s, &m, flags | MSG_DONTWAIT);
	printf("%s: %d %s \"%s\" controllen %d flags%s%s:", what, r, errname(r < 0 ? errno : 0), b, (int)m.msg_controllen,
	       m.msg_flags & MSG_CTRUNC ? " CTRUNC" : "", m.msg_flags & MSG_TRUNC ? " TRUNC" : "");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); r >= 0 && c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			printf(" other(%d,%d)", c->cmsg_level, c->cmsg_type);
			continue;
		}
		int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (int i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			printf(" fd(open %d cloexec %d)", fcntl(fd, F_GETFD) >= 0, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
			close(fd);
		}
	}
	printf("\n");
}

/* openfds counts the open descriptors below 64: the files a truncated receive dropped
 * must not linger in the receiver. */
static int openfds(void) {
	int n = 0;
	for (int i = 0; i < 64; i++)
		if (fcntl(i, F_GETFD) >= 0) n++;
	return n;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int types[] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM};
	const char *tn[] = {"stream", "seqpacket", "dgram"};
	int fds[300];
	int base = open("/dev/null", O_RDONLY);
	for (int i = 0; i < 300; i++) fds[i] = base;
	for (int t = 0; t < 3; t++) {
		printf("-- %s\n", tn[t]);
		int sv[2];
		socketpair(AF_UNIX, types[t], 0, sv);
		int before = openfds();
		CHECK(sendfds(sv[0], fds, 3, "abc", SOL_SOCKET, SCM_RIGHTS, 0));
		recvfds("  room for one", sv[1], CMSG_SPACE(sizeof(int)), 0);
		printf("  open descriptors grew by %d\n", openfds() - before);
		CHECK(sendfds(sv[0], fds, 2, "def", SOL_SOCKET, SCM_RIGHTS, 0));
		recvfds("  room for less than one", sv[1], sizeof(struct cmsghdr) + 2, 0);
		CHECK(sendfds(sv[0], fds, 2, "ghi", SOL_SOCKET, SCM_RIGHTS, 0));
		recvfds("  no room", sv[1], 0, 0);
		printf("  open descriptors grew by %d\n", openfds() - before);
		CHECK(sendfds(sv[0], fds, 2, "jkl", SOL_SOCKET, SCM_RIGHTS, 0));
		recvfds("  peek", sv[1], CMSG_SPACE(sizeof(int) * 8), MSG_PEEK);
		recvfds("  read", sv[1], CMSG_SPACE(sizeof(int) * 8), MSG_CMSG_CLOEXEC);
		printf("  open descriptors grew by %d\n", openfds() - before);
		int bad[2] = {base, 999};
		CHECK(sendfds(sv[0], bad, 2, "x", SOL_SOCKET, SCM_RIGHTS, 0));
		CHECK(sendfds(sv[0], fds, 254, "x", SOL_SOCKET, SCM_RIGHTS, 0));
		CHECK(sendfds(sv[0], fds, 253, "x", SOL_SOCKET, SCM_RIGHTS, 0));
		recvfds("  253 files, room for 8", sv[1], CMSG_SPACE(sizeof(int) * 8), 0);
		printf("  open descriptors grew by %d\n", openfds() - before);
		CHECK(sendfds(sv[0], fds, 1, "x", SOL_SOCKET, SCM_RIGHTS, -1));
		CHECK(sendfds(sv[0], fds, 1, "y", SOL_SOCKET, 77, 0));
		CHECK(sendfds(sv[0], fds, 1, "z", 99, 1, 0));
		recvfds("  another level", sv[1], CMSG_SPACE(sizeof(int) * 8), 0);
		CHECK(sendfds(sv[0], fds, 1, "", SOL_SOCKET, SCM_RIGHTS, 0));
		recvfds("  after a zero-length send", sv[1], CMSG_SPACE(sizeof(int) * 8), 0);
		send(sv[0], "abcdef", 6, 0);
		errno = 0;
		int r = recv(sv[1], NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		printf("  MSG_PEEK|MSG_TRUNC into nothing: %d %s\n", r, errname(r < 0 ? errno : 0));
		char b[4];
		r = recv(sv[1], b, 2, MSG_TRUNC | MSG_DONTWAIT);
		printf("  MSG_TRUNC into 2 bytes: %d\n", r);
		r = recv(sv[1], b, 4, MSG_DONTWAIT);
		printf("  then: %d %s\n", r, errname(r < 0 ? errno : 0));
		close(sv[0]);
		close(sv[1]);
		printf("  open descriptors now %d more than before\n", openfds() - before);
	}
	return 0;
}
