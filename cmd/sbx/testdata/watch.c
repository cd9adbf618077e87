/* Watches a file and its directory, makes one change itself, then prints every event:
 * the sandbox's own change must be reported once, and a change made on the host by
 * another program must arrive too. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int fd = inotify_init();
	int wf = inotify_add_watch(fd, argv[1], IN_MODIFY | IN_CLOSE_WRITE);
	int wd = inotify_add_watch(fd, argv[2], IN_CREATE | IN_MODIFY);
	if (wf < 0 || wd < 0) { perror("inotify_add_watch"); return 1; }
	int g = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	write(g, "own", 3);
	close(g);
	printf("ready\n");
	char buf[4096];
	for (;;) {
		int n = read(fd, buf, sizeof buf);
		if (n <= 0) return 1;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			printf("%s %x %s\n", e->wd == wf ? "file" : "dir", e->mask, e->len ? e->name : "-");
			p += sizeof *e + e->len;
		}
	}
}
