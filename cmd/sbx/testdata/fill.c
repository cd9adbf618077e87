/* Writes up to 1 GiB into argv[1]/big in 1 MiB writes of a known pattern until the disk
 * limit stops it, then checks the file holds exactly what the successful writes wrote,
 * tries a second file, and stays alive argv[2] seconds so the test can read the events. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define CHUNK (1 << 20)

static void fill(char *buf, long at) {
	for (long j = 0; j < CHUNK; j += 8)
		memcpy(buf + j, &(long){at + j}, 8);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char path[4096];
	snprintf(path, sizeof path, "%s/big", argv[1]);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	static char buf[CHUNK], got[CHUNK];
	long total = 0;
	int err = 0;
	for (int i = 0; i < 1024; i++) {
		fill(buf, total);
		ssize_t n = write(fd, buf, CHUNK);
		if (n < 0) {
			err = errno;
			break;
		}
		total += n;
	}
	printf("stopped: %s\n", err == ENOSPC ? "ENOSPC" : strerror(err));
	printf("near 64 MiB: %d\n", total > (56L << 20) && total <= (64L << 20));
	if (fsync(fd) < 0 || close(fd) < 0)
		printf("fsync/close: %s\n", strerror(errno));
	struct stat st;
	stat(path, &st);
	printf("size is what was written: %d\n", st.st_size == total);
	fd = open(path, O_RDONLY);
	int same = 1;
	for (long at = 0; at < total; at += CHUNK) {
		long n = total - at < CHUNK ? total - at : CHUNK;
		fill(buf, at);
		if (pread(fd, got, n, at) != n || memcmp(buf, got, n) != 0)
			same = 0;
	}
	close(fd);
	printf("contents intact: %d\n", same);
	snprintf(path, sizeof path, "%s/more", argv[1]);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n = write(fd, buf, CHUNK);
	printf("second file: %s\n", n < 0 && errno == ENOSPC ? "ENOSPC" : "written");
	printf("truncate up: %s\n", ftruncate(fd, 1L << 30) < 0 && errno == ENOSPC ? "ENOSPC" : "done");
	close(fd);
	sleep(atoi(argv[2]));
	return 0;
}
