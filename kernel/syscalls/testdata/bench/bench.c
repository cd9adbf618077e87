/* Micro-benchmarks run natively and under sbx: prints "name ns/op" lines. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	const char *file = argc > 2 ? argv[2] : "/etc/hostname";
	char buf[4096];
	double t0 = now();
	for (int i = 0; i < n; i++) syscall(SYS_getpid);
	printf("getpid %.0f\n", (now() - t0) / n);
	t0 = now();
	for (int i = 0; i < n; i++) {
		int fd = open(file, O_RDONLY);
		if (fd < 0) { perror(file); return 1; }
		read(fd, buf, sizeof buf);
		close(fd);
	}
	printf("open-read-close %.0f\n", (now() - t0) / n);
	t0 = now();
	for (int i = 0; i < n; i++) {
		void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) { perror("mmap"); return 1; }
		munmap(p, 65536);
	}
	printf("mmap-munmap-64k %.0f\n", (now() - t0) / n);
	/* Process creation is costly everywhere: a hundredth as many rounds. */
	int forks = n / 100 > 0 ? n / 100 : 1;
	t0 = now();
	for (int i = 0; i < forks; i++) {
		pid_t c = fork();
		if (c == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		int st;
		if (c < 0 || waitpid(c, &st, 0) != c || st != 0) { perror("fork/exec"); return 1; }
	}
	printf("fork-exec-wait %.0f\n", (now() - t0) / forks);
	return 0;
}
