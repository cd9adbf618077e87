/* Under a memory limit: a small process that set its oom_score_adj to 1000 is killed
 * before a hog that never set one, as Linux's OOM killer chooses; the hog goes next when
 * it keeps growing. Prints what became of each. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static void status(const char *who, int st) {
	printf("%s: %s %d\n", who, WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int ready[2];
	pipe(ready);
	pid_t victim = fork();
	if (victim == 0) {
		size_t len = 32 << 20;
		char *p = malloc(len);
		for (size_t i = 0; i < len; i += 4096) p[i] = 1;
		int fd = open("/proc/self/oom_score_adj", O_WRONLY);
		if (fd < 0 || write(fd, "1000", 4) != 4) { printf("victim: cannot set oom_score_adj\n"); _exit(2); }
		write(ready[1], "x", 1);
		sleep(60);
		_exit(0);
	}
	char c;
	read(ready[0], &c, 1);
	pid_t hog = fork();
	if (hog == 0) {
		size_t len = 1UL << 30;
		char *p = malloc(len);
		for (size_t i = 0; p && i < len; i += 4096) p[i] = 1;
		/* Hold it: the limit's killer samples memory, and a hog that exits at once
		 * could finish between two samples. */
		sleep(60);
		_exit(0);
	}
	int st;
	pid_t first = wait(&st);
	status(first == victim ? "victim" : "hog", st);
	if (first == victim) {
		waitpid(hog, &st, 0);
		status("hog", st);
	} else {
		kill(victim, SIGTERM);
		waitpid(victim, &st, 0);
		status("victim", st);
	}
	return 0;
}
