#include "common.h"
#include <signal.h>
#include <sys/wait.h>

int main(void) {
	int st;
	pid_t c = fork();
	if (c == 0) _exit(7);
	CHECK(waitpid(c, &st, 0) == c);
	printf("exited %d status %d\n", WIFEXITED(st), WEXITSTATUS(st));
	CHECK(waitpid(c, &st, 0));
	CHECK(waitpid(-1, &st, WNOHANG));
	int p[2];
	pipe(p);
	c = fork();
	if (c == 0) {
		close(p[0]);
		write(p[1], "from child", 10);
		_exit(0);
	}
	close(p[1]);
	char buf[32] = {0};
	CHECK(read(p[0], buf, sizeof buf));
	printf("parent read: %s\n", buf);
	CHECK(read(p[0], buf, sizeof buf));
	waitpid(c, &st, 0);
	/* The child's memory is its own. */
	static int shared_var = 1;
	c = fork();
	if (c == 0) {
		shared_var = 2;
		_exit(shared_var);
	}
	waitpid(c, &st, 0);
	printf("child saw %d, parent still has %d\n", WEXITSTATUS(st), shared_var);
	/* vfork + exec */
	c = vfork();
	if (c == 0) {
		execl("/bin/sh", "sh", "-c", "exit 3", (char *)NULL);
		_exit(127);
	}
	waitpid(c, &st, 0);
	printf("vfork child exit %d\n", WEXITSTATUS(st));
	/* A child killed by a signal. */
	c = fork();
	if (c == 0) {
		raise(SIGKILL);
		_exit(0);
	}
	waitpid(c, &st, 0);
	printf("signaled %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));
	fflush(stdout);
	pid_t me = getpid();
	c = fork();
	if (c == 0) {
		printf("child's parent is the forker: %d\n", getppid() == me);
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, &st, 0);
	siginfo_t si;
	c = fork();
	if (c == 0) _exit(5);
	CHECK(waitid(P_PID, c, &si, WEXITED));
	printf("waitid code %d status %d\n", si.si_code, si.si_status);
	return 0;
}
