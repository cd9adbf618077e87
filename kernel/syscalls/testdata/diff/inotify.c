/* inotify(7): instances, watches and their flags, every event kind the file operations
 * make (on the watched file and, with the name, on its directory), rename cookies, overflow
 * and coalescing, read sizes, poll and FIONREAD. Written from inotify(7),
 * inotify_add_watch(2), inotify_rm_watch(2), inotify_init(2). */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/time.h>

static const char *names[] = {"ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
	"MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF", "?", "UNMOUNT",
	"Q_OVERFLOW", "IGNORED"};
static int wds[16], nwd;
static uint32_t lastcookie;

static int wdname(int wd) {
	for (int i = 0; i < nwd; i++) if (wds[i] == wd) return i;
	return wd;
}

/* dump prints every queued event: which watch, the event names, the name, and whether the
 * cookie pairs with the previous one. */
static void dump(const char *what, int fd) {
	char buf[8192] __attribute__((aligned(8)));
	printf("-- %s\n", what);
	struct pollfd p = {fd, POLLIN, 0};
	while (poll(&p, 1, 0) == 1) {
		int n = read(fd, buf, sizeof buf);
		if (n <= 0) break;
		for (char *q = buf; q < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)q;
			printf("  w%d", wdname(e->wd));
			for (int b = 0; b < 16; b++) if (e->mask & (1u << b)) printf(" %s", names[b]);
			if (e->mask & IN_ISDIR) printf(" ISDIR");
			if (e->len) printf(" \"%s\"", e->name);
			if (e->cookie) { printf(" cookie%s", e->cookie == lastcookie ? "=prev" : ""); lastcookie = e->cookie; }
			printf("\n");
			q += sizeof *e + e->len;
		}
	}
}

static int add(int fd, const char *path, uint32_t mask) {
	int w = inotify_add_watch(fd, path, mask);
	if (w >= 0) {
		for (int i = 0; i < nwd; i++) if (wds[i] == w) return w;
		wds[nwd++] = w;
	}
	return w;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	workdir("inotify");
	CHECK(inotify_init1(0x1234));
	CHECK(inotify_add_watch(0, ".", IN_ALL_EVENTS));
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD));
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	char b[64];
	CHECK(read(fd, b, sizeof b));
	CHECK(write(fd, "x", 1));
	CHECK(inotify_add_watch(fd, ".", 0));
	CHECK(inotify_add_watch(fd, "nonexistent", IN_ALL_EVENTS));
	CHECK(inotify_add_watch(fd, ".", IN_MASK_ADD | IN_MASK_CREATE | IN_CREATE));
	CHECK(inotify_add_watch(fd, ".", 0x8000000 | IN_CREATE));
	CHECK(inotify_rm_watch(fd, 12345));

	/* Directory watch: children's events with names. */
	CHECK(add(fd, ".", IN_ALL_EVENTS) == 1);
	CHECK(inotify_add_watch(fd, ".", IN_MASK_CREATE | IN_CREATE));
	int f = open("a", O_CREAT | O_WRONLY, 0644);
	write(f, "hello", 5);
	write(f, "again", 5);
	close(f);
	dump("create, write twice (coalesced), close", fd);
	int ioc = -1;
	f = open("a", O_RDONLY);
	CHECK(ioctl(fd, FIONREAD, &ioc));
	printf("FIONREAD %d\n", ioc);
	read(f, b, 3);
	close(f);
	dump("open, read, close", fd);
	chmod("a", 0600);
	truncate("a", 2);
	struct timeval tv[2] = {{1, 0}, {2, 0}};
	utimes("a", tv);
	dump("chmod, truncate, utimes", fd);

	/* File watch, and the flags. */
	int wa = add(fd, "a", IN_MODIFY);
	CHECK(wa > 0);
	CHECK(add(fd, "a", IN_ATTRIB | IN_MASK_ADD) == wa);
	f = open("a", O_WRONLY | O_APPEND);
	write(f, "x", 1);
	close(f);
	chmod("a", 0644);
	dump("file and directory watches", fd);
	CHECK(inotify_add_watch(fd, "a", IN_ONLYDIR | IN_MODIFY));
	mkdir("d", 0755);
	int wdd = add(fd, "d", IN_ONESHOT | IN_CREATE);
	close(open("d/x", O_CREAT | O_WRONLY, 0644));
	close(open("d/y", O_CREAT | O_WRONLY, 0644));
	dump("oneshot", fd);
	symlink("a", "ln");
	CHECK(add(fd, "ln", IN_DONT_FOLLOW | IN_ATTRIB) > 0);
	link("a", "hard");
	dump("symlink, link", fd);

	/* Renames carry one cookie; a moved watched file gets MOVE_SELF. */
	rename("a", "b");
	mkdir("e", 0755);
	int we = add(fd, "e", IN_ALL_EVENTS);
	rename("b", "e/c");
	rename("d", "e/d2");
	close(open("z", O_CREAT | O_WRONLY, 0644));
	rename("z", "e/c");
	dump("renames", fd);

	/* Deletion: DELETE in the directory, DELETE_SELF and IGNORED on the watch. */
	unlink("hard");
	unlink("e/c");
	unlink("e/d2/x");
	unlink("e/d2/y");
	rmdir("e/d2");
	dump("unlink, rmdir", fd);
	rmdir("e");
	dump("rmdir watched", fd);
	CHECK(inotify_rm_watch(fd, we));
	CHECK(inotify_rm_watch(fd, 1));
	dump("rm_watch", fd);

	/* Read sizes: too small for one event is EINVAL. */
	add(fd, ".", IN_CREATE);
	close(open("longername", O_CREAT | O_WRONLY, 0644));
	CHECK(read(fd, b, 10));
	CHECK(read(fd, b, sizeof(struct inotify_event)));
	CHECK(read(fd, b, sizeof b) > 0);

	/* Overflow. */
	for (int i = 0; i < 17000; i++) {
		char n[32];
		snprintf(n, sizeof n, "f%d", i % 2);
		int g = open(n, O_CREAT | O_WRONLY, 0644);
		close(g);
		unlink(n);
	}
	int overflow = 0, total = 0;
	char big[65536] __attribute__((aligned(8)));
	int n;
	while ((n = read(fd, big, sizeof big)) > 0)
		for (char *q = big; q < big + n;) {
			struct inotify_event *e = (struct inotify_event *)q;
			if (e->mask & IN_Q_OVERFLOW) overflow++, printf("overflow wd %d\n", e->wd);
			total++;
			q += sizeof *e + e->len;
		}
	printf("events %d overflow %d\n", total, overflow);

	/* The limits. */
	const char *lim[] = {"max_queued_events", "max_user_instances", "max_user_watches"};
	for (int i = 0; i < 3; i++) {
		char path[128], v[32] = "";
		snprintf(path, sizeof path, "/proc/sys/fs/inotify/%s", lim[i]);
		FILE *lf = fopen(path, "r");
		if (lf) { fgets(v, sizeof v, lf); fclose(lf); }
		printf("%s %s", lim[i], v);
	}

	/* A blocking read waits for an event. */
	int bfd = inotify_init();
	inotify_add_watch(bfd, ".", IN_CREATE);
	if (fork() == 0) {
		usleep(100000);
		close(open("late", O_CREAT | O_WRONLY, 0644));
		_exit(0);
	}
	n = read(bfd, big, sizeof big);
	printf("blocking read %d \"%s\"\n", n > 0, n > 0 ? ((struct inotify_event *)big)->name : "");
	return 0;
}
