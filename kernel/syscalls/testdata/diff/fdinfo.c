#include "common.h"
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>

/* /proc/self/fdinfo/N and F_GETFL for files of every kind: the open flags the kernel
 * keeps (O_LARGEFILE on every 64-bit open of a file, memfds too; not on pipes or event
 * files; O_CLOEXEC from the descriptor), the offset, and the lines eventfd and signalfd
 * add. mnt_id, ino and eventfd-id are numbering, not compared. */

static void show(const char *what, int fd) {
	char p[64], b[1024];
	snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
	int f = open(p, O_RDONLY);
	int n = f < 0 ? -1 : (int)read(f, b, sizeof b - 1);
	if (f >= 0) close(f);
	b[n > 0 ? n : 0] = 0;
	printf("%s: F_GETFL %o\n", what, fcntl(fd, F_GETFL));
	for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "mnt_id:", 7) && strncmp(line, "ino:", 4) && strncmp(line, "eventfd-id:", 11))
			printf("  %s\n", line);
}

int main(void) {
	workdir("fdinfo");
	int f = open("f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	write(f, "hello", 5);
	show("file", f);
	show("file O_APPEND|O_NONBLOCK", open("f", O_WRONLY | O_APPEND | O_NONBLOCK));
	show("O_PATH", open("f", O_PATH));
	show("directory", open(".", O_RDONLY | O_DIRECTORY));
	show("/proc/self/status", open("/proc/self/status", O_RDONLY));
	show("/dev/null", open("/dev/null", O_WRONLY));
	int p[2];
	pipe2(p, O_NONBLOCK | O_CLOEXEC);
	show("pipe read end", p[0]);
	show("pipe write end", p[1]);
	int ev = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	show("eventfd", ev);
	uint64_t one = 40;
	write(ev, &one, 8);
	show("eventfd after a write", ev);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGRTMIN + 2);
	int sf = signalfd(-1, &m, SFD_CLOEXEC);
	show("signalfd", sf);
	show("memfd", memfd_create("x", MFD_CLOEXEC));
	int t = open(".", O_TMPFILE | O_RDWR, 0600);
	show("O_TMPFILE", t);

	/* the modes of /proc/PID/fd (0500), its links (by access), fdinfo, ns (0511) */
	int r = open("f", O_RDONLY), w = open("f", O_WRONLY), rw = open("f", O_RDWR);
	int fds[] = {r, w, rw, p[0], p[1], ev};
	const char *names[] = {"read", "write", "read-write", "pipe read", "pipe write", "eventfd"};
	char path[64];
	struct stat st;
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
		lstat(path, &st);
		printf("%s link mode %o owner-is-me %d\n", names[i], st.st_mode, st.st_uid == geteuid());
	}
	const char *dirs[] = {"/proc/self/fd", "/proc/self/fdinfo", "/proc/self/ns", "/proc/self/task"};
	for (int i = 0; i < 4; i++) {
		lstat(dirs[i], &st);
		printf("%s mode %o owner-is-me %d\n", dirs[i], st.st_mode, st.st_uid == geteuid());
	}
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", r);
	lstat(path, &st);
	printf("fdinfo file mode %o\n", st.st_mode);
	CHECK(access("/proc/self/fd", R_OK | X_OK));
	return 0;
}
