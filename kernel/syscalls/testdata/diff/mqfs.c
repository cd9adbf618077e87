#define _GNU_SOURCE
#include "common.h"
#include <mqueue.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <signal.h>

/* The mqueue filesystem (mq_overview(7)): /dev/mqueue lists the queues mq_open made, as
 * files named without the leading slash; reading one gives its status line (ipc/mqueue.c);
 * stat shows the queue's owner and mode; unlinking one is mq_unlink. Hosts where it is not
 * mounted at /dev/mqueue get a private mount of their own IPC namespace's queues. */

#define MQUEUE_MAGIC 0x19800202

static char dir[64] = "/dev/mqueue";
static char prefix[64];

static void put(const char *path, const char *s) {
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, s, strlen(s)) < 0) { perror(path); exit(1); }
	close(fd);
}

static void setup(void) {
	struct statfs sf;
	if (statfs(dir, &sf) == 0 && sf.f_type == MQUEUE_MAGIC)
		return;
	int flags = CLONE_NEWNS;
	if (getuid() != 0)
		flags |= CLONE_NEWUSER | CLONE_NEWIPC;
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (unshare(flags) != 0) { perror("unshare"); exit(1); }
	if (uid != 0) {
		/* Map the user to itself, so that the queues it makes have an owner here. */
		char m[64];
		snprintf(m, sizeof m, "%u %u 1", (unsigned)uid, (unsigned)uid);
		put("/proc/self/uid_map", m);
		put("/proc/self/setgroups", "deny");
		snprintf(m, sizeof m, "%u %u 1", (unsigned)gid, (unsigned)gid);
		put("/proc/self/gid_map", m);
	}
	if (getuid() == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) { perror("private /"); exit(1); }
	strcpy(dir, "/tmp/sbxdiff-mqfs-XXXXXX");
	if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
	if (mount("mqueue", dir, "mqueue", 0, NULL) != 0) { perror("mount mqueue"); rmdir(dir); exit(1); }
}

static void teardown(void) {
	if (strcmp(dir, "/dev/mqueue") != 0) {
		umount2(dir, MNT_DETACH);
		rmdir(dir);
	}
}

static void list(const char *when) {
	DIR *d = opendir(dir);
	if (!d) { printf("%s: opendir %s\n", when, errname(errno)); return; }
	char names[8][64];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 8)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			snprintf(names[n], sizeof names[n], "%s type %s", e->d_name + strlen(prefix),
				e->d_type == DT_REG ? "reg" : e->d_type == DT_UNKNOWN ? "unknown" : "other");
			n++;
		}
	closedir(d);
	/* Sort: readdir's order is the filesystem's. */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) > 0) { char t[64]; strcpy(t, names[i]); strcpy(names[i], names[j]); strcpy(names[j], t); }
	printf("%s: %d queues:", when, n);
	for (int i = 0; i < n; i++) printf(" [%s]", names[i]);
	printf("\n");
}

static void status(const char *name) {
	char path[160], buf[200];
	snprintf(path, sizeof path, "%s/%s%s", dir, prefix, name);
	int fd = open(path, O_RDONLY);
	if (fd < 0) { printf("open %s: %s\n", name, errname(errno)); return; }
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n < 0) { printf("read %s: %s\n", name, errname(errno)); close(fd); return; }
	buf[n] = 0;
	printf("status %s (%zd bytes): %s", name, n, buf);
	n = read(fd, buf, sizeof buf);
	printf("read again: %zd\n", n);
	close(fd);
}

static void st(const char *name) {
	char path[160];
	snprintf(path, sizeof path, "%s/%s%s", dir, prefix, name);
	struct stat s;
	if (stat(path, &s) != 0) { printf("stat %s: %s\n", name, errname(errno)); return; }
	printf("stat %s: type %s mode %o uid is mine %d gid is mine %d nlink %lu\n", name,
		S_ISREG(s.st_mode) ? "reg" : "other", s.st_mode & 07777, s.st_uid == geteuid(), s.st_gid == getegid(),
		(unsigned long)s.st_nlink);
}

int main(void) {
	setup();
	snprintf(prefix, sizeof prefix, "sbxdiff-mqfs-%d-", (int)getpid());
	umask(022);
	struct stat ds;
	if (stat(dir, &ds) == 0)
		printf("dir: type %s mode %o\n", S_ISDIR(ds.st_mode) ? "dir" : "other", ds.st_mode & 07777);
	struct statfs sf;
	if (statfs(dir, &sf) == 0)
		printf("statfs magic %#lx\n", (unsigned long)sf.f_type);

	char qa[80], qb[80], path[160];
	snprintf(qa, sizeof qa, "/%sa", prefix);
	snprintf(qb, sizeof qb, "/%sb", prefix);
	list("empty");
	mqd_t a = mq_open(qa, O_RDWR | O_CREAT | O_EXCL, 0640, NULL);
	CHECK(a >= 0);
	struct mq_attr at = {.mq_maxmsg = 4, .mq_msgsize = 32};
	mqd_t b = mq_open(qb, O_WRONLY | O_CREAT | O_EXCL, 0604, &at);
	CHECK(b >= 0);
	list("two");
	st("a");
	st("b");
	status("a");
	CHECK(mq_send(a, "hello", 5, 1));
	CHECK(mq_send(a, "world!!", 7, 3));
	CHECK(mq_send(b, "", 0, 0));
	status("a");
	status("b");
	static char buf[8192];
	unsigned prio;
	CHECK(mq_receive(a, buf, sizeof buf, &prio));
	status("a");
	CHECK(mq_receive(a, buf, sizeof buf, &prio));
	status("a");

	/* A registered notification shows in the status line; read(2) of a mq_open descriptor
	 * gives the same line. */
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
	CHECK(mq_notify(b, &ev));
	char line[200], want[200];
	mqd_t rd = mq_open(qb, O_RDONLY);
	CHECK(rd >= 0);
	ssize_t n = read(rd, line, sizeof line - 1);
	printf("read mqd: %zd\n", n);
	line[n < 0 ? 0 : n] = 0;
	snprintf(want, sizeof want, "QSIZE:%-10u NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", 0u, SIGEV_SIGNAL, SIGUSR1, (int)getpid());
	printf("notify status matches: %d\n", strcmp(line, want) == 0);
	n = read(rd, line, 10);
	printf("read mqd again: %zd\n", n);
	CHECK(read(b, line, 10));
	CHECK(mq_close(rd));
	CHECK(mq_notify(b, NULL));
	status("b");

	/* chmod through the filesystem changes what mq_open allows. */
	snprintf(path, sizeof path, "%s/%sa", dir, prefix);
	CHECK(chmod(path, 0600));
	st("a");

	/* The filesystem's refusals. */
	snprintf(path, sizeof path, "%s/%sdir", dir, prefix);
	CHECK(mkdir(path, 0700));
	snprintf(path, sizeof path, "%s/%snone", dir, prefix);
	CHECK(unlink(path));
	status("none");
	st("none");
	snprintf(path, sizeof path, "%s/%sa/x", dir, prefix);
	CHECK(open(path, O_RDONLY));

	/* unlink is mq_unlink: the name goes, the open descriptor keeps the queue. */
	snprintf(path, sizeof path, "%s/%sa", dir, prefix);
	CHECK(unlink(path));
	list("after unlink");
	CHECK(mq_open(qa, O_RDONLY));
	CHECK(mq_unlink(qa));
	CHECK(mq_send(a, "still", 5, 0));
	struct mq_attr got;
	CHECK(mq_getattr(a, &got));
	printf("curmsgs %ld\n", got.mq_curmsgs);
	CHECK(mq_close(a));

	/* mq_unlink removes the file. */
	CHECK(mq_unlink(qb));
	list("after mq_unlink");
	st("b");
	CHECK(mq_close(b));
	teardown();
	return 0;
}
