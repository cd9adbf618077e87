#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

/* Process states in /proc/PID/stat and /proc/PID/status: running (the reader itself),
 * sleeping, stopped, zombie. */

static char state(pid_t pid) {
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

int main(void) {
	printf("self: %c\n", state(getpid()));
	pid_t c = fork();
	if (c == 0) {
		for (;;)
			pause();
	}
	/* Under load the child may take a while to get to pause(): wait for it (bounded). */
	char st0 = '?';
	for (int i = 0; i < 6000 && (st0 = state(c)) != 'S'; i++) /* 30 s */
		usleep(5000);
	printf("pausing child: %c\n", st0);
	kill(c, SIGSTOP);
	int st;
	waitpid(c, &st, WUNTRACED);
	printf("stopped child: %c\n", state(c));
	kill(c, SIGKILL);
	char st1 = '?';
	for (int i = 0; i < 6000 && (st1 = state(c)) != 'Z'; i++)
		usleep(5000);
	printf("dead, unreaped child: %c\n", st1);
	waitpid(c, &st, 0);
	printf("reaped child: %c\n", state(c));
	return 0;
}
