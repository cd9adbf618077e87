// hostgrow: a child ("hog") receives a memfd from the host peer on the socket named by
// $WAYLAND_DISPLAY (a sound server's pool, say), grows it to 512 MiB and fills it, then
// waits to be stopped; the parent reports how the hog ended. Under a memory limit below
// that, the sandbox must count the received file and kill the hog.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int receive(void) {
	const char *path = getenv("WAYLAND_DISPLAY");
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strncpy(a.sun_path, path ? path : "", sizeof(a.sun_path) - 1);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("connect: %s\n", strerror(errno));
		exit(1);
	}
	char tag, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&tag, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	if (recvmsg(s, &m, MSG_CMSG_CLOEXEC) != 1 || !CMSG_FIRSTHDR(&m)) {
		printf("recvmsg: no file (%s)\n", strerror(errno));
		exit(1);
	}
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
	return fd;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	pid_t hog = fork();
	if (hog == 0) {
		int fd = receive();
		// Some memory of its own first: the hog is the largest process either way.
		char *own = malloc(16 << 20);
		memset(own, 1, 16 << 20);
		const size_t size = 512 << 20, chunk = 1 << 20;
		if (ftruncate(fd, size) < 0) {
			printf("ftruncate: %s\n", strerror(errno));
			_exit(1);
		}
		char *buf = malloc(chunk);
		memset(buf, 7, chunk);
		for (size_t off = 0; off < size; off += chunk)
			if (pwrite(fd, buf, chunk, off) != (ssize_t)chunk) {
				printf("pwrite: %s\n", strerror(errno));
				_exit(1);
			}
		sleep(5);
		_exit(0);
	}
	int st;
	waitpid(hog, &st, 0);
	if (WIFSIGNALED(st))
		printf("hog: signal %d\n", WTERMSIG(st));
	else
		printf("hog: exit %d\n", WEXITSTATUS(st));
	return 0;
}
