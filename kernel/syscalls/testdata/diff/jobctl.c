#include "common.h"
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

/* Job control: stopping and continuing a child with SIGSTOP/SIGTSTP/SIGCONT, seen through
 * wait4 (WUNTRACED, WCONTINUED), waitid and SIGCHLD; a stopped child's blocking read is
 * resumed, not failed; signals sent to a stopped process wait for it to continue. */

static volatile int chld_code, chld_status, usr1_seen;
static void on_chld(int sig, siginfo_t *si, void *uc) {
	chld_code = si->si_code;
	chld_status = si->si_status;
}

int main(void) {
	struct sigaction sa = {0};
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		char buf[8];
		close(p[1]);
		ssize_t n = read(p[0], buf, sizeof buf); /* interrupted by the stop, then resumed */
		_exit(n == 3 ? 0 : 1);
	}
	close(p[0]);
	usleep(20000);
	int st;
	CHECK(kill(c, SIGSTOP));
	CHECK(waitpid(c, &st, WUNTRACED) == c);
	for (int i = 0; i < 30000 && chld_code != CLD_STOPPED; i++)
		usleep(1000); /* SIGCHLD may come after wait returns */
	printf("stopped %d by %d; SIGCHLD code %d status %d\n", WIFSTOPPED(st), WSTOPSIG(st), chld_code, chld_status);
	CHECK(waitpid(c, &st, WUNTRACED | WNOHANG));
	siginfo_t si = {0};
	CHECK(kill(c, SIGCONT));
	CHECK(waitpid(c, &st, WCONTINUED) == c);
	for (int i = 0; i < 30000 && chld_code != CLD_CONTINUED; i++)
		usleep(1000);
	printf("continued %d; SIGCHLD code %d\n", WIFCONTINUED(st), chld_code);
	CHECK(write(p[1], "abc", 3));
	CHECK(waitpid(c, &st, 0) == c);
	printf("child read resumed: exited %d code %d\n", WIFEXITED(st), WEXITSTATUS(st));
	/* SIGTSTP under its default action stops too; waitid sees it. (The child gets a
	 * process group of its own, which is not orphaned: in an orphaned one, as a test run
	 * in a fresh PID namespace may be, Linux discards SIGTSTP instead.) */
	c = fork();
	if (c == 0) {
		setpgid(0, 0);
		for (;;)
			pause();
	}
	setpgid(c, c);
	usleep(20000);
	CHECK(kill(c, SIGTSTP));
	CHECK(waitid(P_PID, c, &si, WSTOPPED));
	printf("waitid: code %d status %d\n", si.si_code, si.si_status);
	/* A signal to a stopped process is held until it continues. */
	CHECK(kill(c, SIGTERM));
	usleep(20000);
	CHECK(waitpid(c, &st, WNOHANG));
	CHECK(kill(c, SIGCONT));
	CHECK(waitpid(c, &st, 0) == c);
	printf("then killed by %d\n", WTERMSIG(st));
	/* SA_NOCLDSTOP: no SIGCHLD for stops. */
	sa.sa_flags |= SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	chld_code = 0;
	c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	usleep(20000);
	CHECK(kill(c, SIGSTOP));
	CHECK(waitpid(c, &st, WUNTRACED) == c);
	printf("SIGCHLD with SA_NOCLDSTOP: %d\n", chld_code);
	CHECK(kill(c, SIGKILL));
	CHECK(waitpid(c, &st, 0) == c);
	printf("killed while stopped by %d\n", WTERMSIG(st));
	CHECK(waitid(P_ALL, 0, &si, 0));
	return 0;
}
