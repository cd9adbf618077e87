/* Under a 512 MiB limit: argv[1] rounds, each creating four 256 MiB tmpfs files in /tmp,
 * writing them, unlinking and closing them (the last one after mapping it shared, closing
 * the descriptor first, then unmapping it). Each file's memory must go back with its last
 * reference, so the process is never killed however many rounds it runs. Then it fills
 * /tmp, which holds half the limit. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>

#define FILE_MB 256

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
	/* /tmp holds half the sandbox's RAM (its memory limit), as a tmpfs mounted without
	 * size= does on Linux: writing past it is ENOSPC, not an OOM kill. */
	int fd = open("/tmp/full", O_CREAT | O_RDWR | O_TRUNC, 0600);
	long mb = 0;
	while (write(fd, buf, sizeof buf) == sizeof buf)
		mb++;
	printf("/tmp full at %ld MiB\n", mb);
	return 0;
}
