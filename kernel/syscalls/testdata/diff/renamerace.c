/* sbx-diff: host-rw-dir
 * A name that renames keep replacing always opens: rename(2) swaps the file atomically, so
 * a reader opening "shared" while writers rename fresh files onto it finds the old file or
 * the new one, never nothing. In a host directory (the gofer) and in /tmp. */
#include "common.h"
#include <fcntl.h>
#include <pthread.h>

static volatile int stop;
static int fails;

static void *writer(void *arg) {
	long id = (long)arg;
	char tmp[32], own[32], buf[32];
	snprintf(tmp, sizeof tmp, "tmp%ld", id);
	snprintf(own, sizeof own, "own%ld", id);
	for (int i = 0; i < 400; i++) {
		int fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		int n = snprintf(buf, sizeof buf, "%ld %d\n", id, i);
		write(fd, buf, n);
		close(fd);
		if (rename(tmp, i % 2 ? "shared" : own) != 0) {
			printf("rename: %s\n", errname(errno));
			exit(1);
		}
	}
	return NULL;
}

static void *reader(void *arg) {
	(void)arg;
	char buf[64];
	while (!stop) {
		int fd = open("shared", O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof buf) <= 0)
			__sync_fetch_and_add(&fails, 1);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static void race(void) {
	int fd = open("shared", O_CREAT | O_WRONLY, 0644);
	write(fd, "x\n", 2);
	close(fd);
	fails = 0;
	stop = 0;
	pthread_t w[3], r[2];
	for (long i = 0; i < 3; i++)
		pthread_create(&w[i], NULL, writer, (void *)i);
	for (long i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(w[i], NULL);
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	printf("failed opens: %d\n", fails);
	char buf[32] = {0};
	fd = open("own2", O_RDONLY);
	read(fd, buf, sizeof buf - 1);
	close(fd);
	printf("own2: %s", buf);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: renamerace DIR\n");
		return 2;
	}
	char dir[] = "renamerace-XXXXXX";
	if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	printf("host directory\n");
	race();
	workdir("renamerace");
	printf("/tmp\n");
	race();
	return 0;
}
