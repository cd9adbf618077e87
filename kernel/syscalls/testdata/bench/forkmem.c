/* fork+exit+wait of a process with argv[1] MiB resident, argv[2] times; prints
 * "fork-<N>MiB <ns per fork>". The parent writes to its memory after each child is gone,
 * as a running program would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
	size_t mib = strtoul(argv[1], NULL, 10);
	int n = atoi(argv[2]);
	size_t len = mib << 20;
	char *p = malloc(len);
	memset(p, 1, len);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		pid_t c = fork();
		if (c == 0)
			_exit(p[len / 2]);
		int st;
		waitpid(c, &st, 0);
		p[(i * 4096) % len]++;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("fork-%zuMiB %.0f\n", mib, ns / n);
	return 0;
}
