/* Desktop-session benchmarks: pty throughput, inotify event latency, and a watcher that
 * reports host-side changes (timed by the Go side). Prints "name value" lines. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	if (argc > 2 && strcmp(argv[2], "hostwatch") == 0) {
		int fd = inotify_init();
		if (inotify_add_watch(fd, argv[3], IN_MODIFY) < 0) { perror("watch"); return 1; }
		printf("ready\n");
		char buf[4096];
		for (int i = 0; i < n; i++) {
			if (read(fd, buf, sizeof buf) <= 0) return 1;
			printf("ev\n");
		}
		return 0;
	}
	/* pty: raw slave, 4 KiB chunks master → slave. */
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	grantpt(m);
	unlockpt(m);
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	struct termios t;
	tcgetattr(s, &t);
	cfmakeraw(&t);
	tcsetattr(s, TCSANOW, &t);
	char chunk[4096], in[4096];
	memset(chunk, 'x', sizeof chunk);
	double t0 = now();
	for (int i = 0; i < n; i++) {
		write(m, chunk, sizeof chunk);
		for (int got = 0; got < (int)sizeof chunk;) {
			int r = read(s, in, sizeof in);
			if (r <= 0) return 1;
			got += r;
		}
	}
	printf("pty-4k-roundtrip %.0f\n", (now() - t0) / n);
	/* inotify: one write to a watched file, then its event. */
	char path[] = "/tmp/sbxbench-XXXXXX";
	int f = mkstemp(path);
	int ifd = inotify_init();
	inotify_add_watch(ifd, path, IN_MODIFY);
	char ev[4096];
	t0 = now();
	for (int i = 0; i < n; i++) {
		write(f, "x", 1);
		read(ifd, ev, sizeof ev);
	}
	printf("inotify-write-event %.0f\n", (now() - t0) / n);
	unlink(path);
	return 0;
}
