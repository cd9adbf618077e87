/* Under a memory limit: a hog touches 1 GiB while a bystander waits; prints what became of
 * each, then stays alive for argv[1] seconds so the test can read the sandbox's events. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	pid_t bystander = fork();
	if (bystander == 0) {
		sleep(1);
		_exit(7);
	}
	pid_t hog = fork();
	if (hog == 0) {
		size_t len = 1UL << 30;
		char *p = malloc(len);
		for (size_t i = 0; p && i < len; i += 4096)
			p[i] = 1;
		printf("hog survived\n");
		_exit(0);
	}
	int st;
	waitpid(hog, &st, 0);
	printf("hog: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	waitpid(bystander, &st, 0);
	printf("bystander: exit %d\n", WEXITSTATUS(st));
	sleep(atoi(argv[1]));
	return 0;
}
