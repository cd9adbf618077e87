/* AF_UNIX semantics (unix(7), socket(7)) on stream, seqpacket and datagram sockets:
 * FIONREAD/SIOCINQ/SIOCOUTQ, the poll events each shutdown direction and a close wake
 * (POLLRDHUP, POLLHUP), EPIPE after SHUT_WR, SO_PASSCRED with SCM_CREDENTIALS (received
 * with every message, alone or before SCM_RIGHTS, truncated with MSG_CTRUNC; claiming
 * someone else's credentials needs privilege). */
#include "common.h"
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static void recv_creds(int s, int want_fd, size_t room) {
	char cb[256], b[16];
	struct iovec io = {b, sizeof b};
	struct msghdr mh = {0};
	mh.msg_iov = &io;
	mh.msg_iovlen = 1;
	mh.msg_control = cb;
	mh.msg_controllen = room;
	memset(cb, 0, sizeof cb);
	errno = 0;
	long r = recvmsg(s, &mh, MSG_DONTWAIT);
	printf("  recvmsg = %ld %s, controllen %zu, ctrunc %d:", r < 0 ? -1 : r, r < 0 ? errname(errno) : "OK",
	       (size_t)mh.msg_controllen, !!(mh.msg_flags & MSG_CTRUNC));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(c), sizeof u);
			printf(" creds(pid is mine %d, uid is mine %d, gid is mine %d)", u.pid == getpid(), u.uid == getuid(), u.gid == getgid());
		} else if (c->cmsg_type == SCM_RIGHTS) {
			int fd;
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
			printf(" rights(%d)", want_fd && fcntl(fd, F_GETFD) >= 0);
			close(fd);
		}
	}
	printf("\n");
}

static int send_with(int s, int with_creds, pid_t pid, int fd) {
	char cb[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
	memset(cb, 0, sizeof cb);
	struct iovec io = {"m", 1};
	struct msghdr mh = {0};
	mh.msg_iov = &io;
	mh.msg_iovlen = 1;
	mh.msg_control = cb;
	size_t len = 0;
	struct cmsghdr *c = (struct cmsghdr *)cb;
	if (with_creds) {
		struct ucred u = {pid, getuid(), getgid()};
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof u);
		memcpy(CMSG_DATA(c), &u, sizeof u);
		len += CMSG_SPACE(sizeof u);
		c = (struct cmsghdr *)(cb + len);
	}
	if (fd >= 0) {
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof fd);
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
		len += CMSG_SPACE(sizeof fd);
	}
	mh.msg_controllen = len;
	if (len == 0) mh.msg_control = NULL;
	return sendmsg(s, &mh, 0);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	int types[] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM};
	const char *names[] = {"stream", "seqpacket", "dgram"};
	for (int i = 0; i < 3; i++) {
		int sv[2];
		socketpair(AF_UNIX, types[i], 0, sv);
		printf("%s\n", names[i]);
		CHECK(send(sv[0], "hello", 5, 0));
		CHECK(send(sv[0], "abc", 3, 0));
		int n = -1;
		CHECK(ioctl(sv[1], FIONREAD, &n));
		printf("  inq %d\n", n);
		n = -1;
		CHECK(ioctl(sv[1], SIOCINQ, &n));
		printf("  siocinq %d\n", n);
		n = -1;
		CHECK(ioctl(sv[0], SIOCOUTQ, &n));
		printf("  outq positive %d\n", n > 0);
		struct pollfd p = {sv[1], POLLIN | POLLOUT | POLLRDHUP, 0};
		CHECK(poll(&p, 1, 0));
		printf("  revents %#x\n", p.revents);
		CHECK(shutdown(sv[0], SHUT_WR));
		CHECK(poll(&p, 1, 0));
		printf("  after the peer's SHUT_WR %#x\n", p.revents);
		struct pollfd q = {sv[0], POLLIN | POLLOUT | POLLRDHUP, 0};
		CHECK(poll(&q, 1, 0));
		printf("  own side after SHUT_WR %#x\n", q.revents);
		CHECK(send(sv[0], "x", 1, 0));
		char b[10];
		CHECK(recv(sv[1], b, 10, MSG_DONTWAIT));
		CHECK(recv(sv[1], b, 10, MSG_DONTWAIT));
		CHECK(recv(sv[1], b, 10, MSG_DONTWAIT));
		CHECK(shutdown(sv[1], SHUT_RD));
		CHECK(poll(&p, 1, 0));
		printf("  after SHUT_RD %#x\n", p.revents);
		CHECK(shutdown(sv[1], 3));
		close(sv[0]);
		CHECK(poll(&p, 1, 0));
		printf("  after the peer closed %#x\n", p.revents);
		close(sv[1]);

		printf("%s credentials\n", names[i]);
		socketpair(AF_UNIX, types[i], 0, sv);
		CHECK(send_with(sv[0], 0, 0, -1));
		recv_creds(sv[1], 0, 256); /* SO_PASSCRED off: none */
		int one = 1;
		CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
		CHECK(send_with(sv[0], 0, 0, -1));
		recv_creds(sv[1], 0, 256);
		CHECK(send_with(sv[0], 1, getpid(), -1));
		recv_creds(sv[1], 0, 256);
		if (types[i] != SOCK_DGRAM) {
			CHECK(send_with(sv[0], 1, getpid(), 0));
			recv_creds(sv[1], 1, 256);
			CHECK(send_with(sv[0], 0, 0, 1));
			recv_creds(sv[1], 1, CMSG_SPACE(sizeof(struct ucred))); /* no room for the file */
		}
		CHECK(send_with(sv[0], 0, 0, -1));
		recv_creds(sv[1], 0, 20); /* no room for the credentials */
		pid_t other = fork();
		if (other == 0) { pause(); _exit(0); }
		errno = 0;
		int r = send_with(sv[0], 1, other, -1); /* someone else's PID */
		printf("  claim another process's PID: %s\n", r >= 0 ? "sent" : errname(errno));
		if (r >= 0) recv_creds(sv[1], 0, 256);
		kill(other, SIGKILL);
		waitpid(other, NULL, 0);
		close(sv[0]);
		close(sv[1]);
	}
	/* MSG_WAITALL waits for the whole length on a stream, until end of file. */
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid_t c = fork();
	if (c == 0) {
		send(sv[0], "abc", 3, 0);
		usleep(100000);
		send(sv[0], "defgh", 5, 0);
		usleep(100000);
		send(sv[0], "ij", 2, 0);
		_exit(0);
	}
	char w[16] = {0};
	CHECK(recv(sv[1], w, 6, MSG_WAITALL));
	printf("  got %s\n", w);
	close(sv[0]);
	waitpid(c, NULL, 0);
	memset(w, 0, sizeof w);
	CHECK(recv(sv[1], w, 10, MSG_WAITALL));
	printf("  then %s at end of file\n", w);
	return 0;
}
