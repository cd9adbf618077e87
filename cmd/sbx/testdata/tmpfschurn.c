/* Under a 512 MiB limit: argv[1] rounds, each creating four 256 MiB tmpfs files in /tmp,
 * writing them, unlinking and closing them (the last one after mapping it shared, closing
 * the descriptor first, then unmapping it). Each file's memory must go back with its last
 * reference, so the process is never killed however many rounds it runs; /proc/meminfo's
 * Shmem shows a file's pages while it lives. Then it fills /tmp, which holds half the
 * limit. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>

#define FILE_MB 256

/* shmem is /proc/meminfo's Shmem in kB. */
static long shmem(void) {
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long v = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Shmem: %ld", &v) == 1) break;
	fclose(f);
	return v;
}

int main(int argc, char **argv) {
	int rounds = atoi(argv[1]);
	static char buf[1 << 20];
	memset(buf, 'x', sizeof buf);
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 4; i++) {
			char path[64];
			snprintf(path, sizeof path, "/tmp/churn%d", i);
			int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
			if (fd < 0) { perror("open"); return 1; }
			for (int k = 0; k < FILE_MB; k++)
				if (write(fd, buf, sizeof buf) != sizeof buf) { perror("write"); return 1; }
			if (unlink(path) != 0) { perror("unlink"); return 1; }
			if (i < 3) {
				close(fd);
				continue;
			}
			char *m = mmap(NULL, FILE_MB << 20, PROT_READ, MAP_SHARED, fd, 0);
			close(fd);
			if (m == MAP_FAILED) { perror("mmap"); return 1; }
			if (m[(FILE_MB << 20) - 1] != 'x') { fprintf(stderr, "lost the contents\n"); return 1; }
			munmap(m, FILE_MB << 20);
		}
	}
	printf("%d rounds\n", rounds);
	/* Shmem shows a file's pages while it lives. */
	long before = shmem();
	int f = open("/tmp/counted", O_CREAT | O_RDWR | O_TRUNC, 0600);
	for (int k = 0; k < 64; k++)
		write(f, buf, sizeof buf);
	long with = shmem();
	unlink("/tmp/counted");
	close(f);
	long after = shmem();
	printf("Shmem: +%s with a 64 MiB file, %s after\n", with - before >= 64 << 10 ? "64 MiB" : "less",
	       after - before < 1 << 10 ? "back" : "not back");
	/* /tmp holds half the sandbox's RAM (its memory limit), as a tmpfs mounted without
	 * size= does on Linux: writing past it is ENOSPC, not an OOM kill. */
	int fd = open("/tmp/full", O_CREAT | O_RDWR | O_TRUNC, 0600);
	long mb = 0;
	while (write(fd, buf, sizeof buf) == sizeof buf)
		mb++;
	printf("/tmp full at %ld MiB\n", mb);
	return 0;
}
