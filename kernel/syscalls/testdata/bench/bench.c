/* Micro-benchmarks run natively and under sbx: prints "name ns/op" lines. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* The futex ring: RING threads pass a token round; each waits on its own word. */
#define RING 4
static _Atomic int ring[RING];
static int ring_rounds;

static void *ring_thread(void *arg) {
	int me = (int)(long)arg, next = (me + 1) % RING;
	for (int i = 0; i < ring_rounds; i++) {
		while (atomic_load(&ring[me]) == 0) syscall(SYS_futex, &ring[me], FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		atomic_store(&ring[me], 0);
		atomic_store(&ring[next], 1);
		syscall(SYS_futex, &ring[next], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
	return NULL;
}

/* BEST(name, n, body): runs body n times in 10 batches and prints the fastest batch's
 * ns/op. On a loaded machine the mean measures the load; the best batch, the code. */
#define BEST(name, n, body)                                                   \
	do {                                                                  \
		double best = 1e30;                                               \
		int per = (n) / 10 > 0 ? (n) / 10 : 1;                            \
		for (int b = 0; b < 10; b++) {                                    \
			double t0 = now();                                        \
			for (int i = 0; i < per; i++) { body; }                   \
			double d = (now() - t0) / per;                            \
			if (d < best) best = d;                                   \
		}                                                                 \
		printf("%s %.0f\n", name, best);                                 \
	} while (0)

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	const char *file = argc > 2 ? argv[2] : "/etc/hostname";
	char buf[4096];
	double t0;
	BEST("getpid", n, syscall(SYS_getpid));
	/* The libc wrapper (mov $nr, %eax; syscall): a site the trap platform patches. */
	BEST("getppid-libc", n, getppid());
	/* Through the vDSO where there is one (no syscall), else the syscall. */
	BEST("clock_gettime", n, {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
	});
	BEST("open-read-close", n, {
		int fd = open(file, O_RDONLY);
		if (fd < 0) { perror(file); return 1; }
		read(fd, buf, sizeof buf);
		close(fd);
	});
	BEST("mmap-munmap-64k", n, {
		void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) { perror("mmap"); return 1; }
		munmap(p, 65536);
	});
	/* Pipe ping-pong between two processes: one round is a byte there and back. */
	int ab[2], ba[2];
	if (pipe(ab) || pipe(ba)) { perror("pipe"); return 1; }
	pid_t echo = fork();
	if (echo == 0) {
		char c;
		close(ab[1]);
		close(ba[0]);
		while (read(ab[0], &c, 1) == 1) write(ba[1], &c, 1);
		_exit(0);
	}
	close(ab[0]);
	close(ba[1]);
	t0 = now();
	for (int i = 0; i < n; i++) {
		char c = 'x';
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) { perror("ping-pong"); return 1; }
	}
	printf("pipe-ping-pong %.0f\n", (now() - t0) / n);
	close(ab[1]);
	waitpid(echo, NULL, 0);
	close(ba[0]);
	/* Futex ring: one op is one hand-off of the token. */
	ring_rounds = n / RING > 0 ? n / RING : 1;
	pthread_t th[RING];
	t0 = now();
	for (long i = 0; i < RING; i++) pthread_create(&th[i], NULL, ring_thread, (void *)i);
	atomic_store(&ring[0], 1);
	syscall(SYS_futex, &ring[0], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	for (int i = 0; i < RING; i++) pthread_join(th[i], NULL);
	printf("futex-ring %.0f\n", (now() - t0) / (ring_rounds * RING));
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
