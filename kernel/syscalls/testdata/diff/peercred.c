#include "common.h"
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
int main(void) {
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	struct ucred c; socklen_t l = sizeof c;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &c, &l));
	printf("pair: pid is me %d uid %d\n", c.pid == getpid(), c.uid == getuid());
	workdir("peercred");
	struct sockaddr_un a = {AF_UNIX, "s"};
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(ls, (struct sockaddr *)&a, sizeof a);
	listen(ls, 1);
	pid_t ch = fork();
	if (ch == 0) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		connect(s, (struct sockaddr *)&a, sizeof a);
		struct ucred cc; socklen_t cl = sizeof cc;
		getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cc, &cl);
		_exit(cc.pid == getppid() ? 0 : 1);
	}
	int s = accept(ls, NULL, NULL);
	l = sizeof c;
	CHECK(getsockopt(s, SOL_SOCKET, SO_PEERCRED, &c, &l));
	printf("accepted: peer is child %d\n", c.pid == ch);
	int st; waitpid(ch, &st, 0);
	printf("child saw listener's pid %d\n", WEXITSTATUS(st) == 0);
	return 0;
}
