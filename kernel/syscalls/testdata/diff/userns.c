/* Namespaces inside the sandbox (namespaces(7), user_namespaces(7), pid_namespaces(7)):
 * unshare and clone with CLONE_NEWUSER (overflow IDs before the maps, setgroups before
 * gid_map, one write per map, the unprivileged single-line rule, capabilities inside for
 * sethostname and chroot), CLONE_NEWUTS, CLONE_NEWPID (the first child is 1, its child 2,
 * the parent sees its own numbers, no fork after init is gone), EINVAL combinations and
 * distinct /proc/self/ns links. Same output natively and under sbx, as root and as a user
 * (where the host allows unprivileged user namespaces). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <signal.h>
#include <grp.h>

static int wr(const char *p, const char *s) {
	int fd = open(p, O_WRONLY);
	if (fd < 0) return -errno;
	int r = write(fd, s, strlen(s));
	int e = errno;
	close(fd);
	return r < 0 ? -e : 0;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	uid_t uid = geteuid(); gid_t gid = getegid();
	char buf[256];
	/* a user namespace: unmapped IDs are the overflow ones */
	pid_t c = fork();
	if (c == 0) {
		if (unshare(CLONE_NEWUSER) < 0) { printf("unshare user: %s\n", strerror(errno)); _exit(1); }
		printf("in userns before map: uid=%d gid=%d\n", getuid(), getgid());
		printf("gid_map before setgroups deny: %d\n", wr("/proc/self/gid_map", "0 0 1\n") == 0);
		printf("setgroups deny: %d\n", wr("/proc/self/setgroups", "deny"));
		snprintf(buf, sizeof buf, "0 %d 1\n", uid);
		printf("uid_map: %d\n", wr("/proc/self/uid_map", buf));
		printf("uid_map again: %d\n", wr("/proc/self/uid_map", buf));
		snprintf(buf, sizeof buf, "0 %d 1\n", gid);
		printf("gid_map: %d\n", wr("/proc/self/gid_map", buf));
		printf("uid=%d euid=%d gid=%d\n", getuid(), geteuid(), getgid());
		printf("bad map: %d\n", wr("/proc/self/uid_map", "0 0\n"));
		/* a UTS namespace: own host name */
		if (unshare(CLONE_NEWUTS) < 0) printf("unshare uts: %s\n", strerror(errno));
		printf("sethostname: %d\n", sethostname("inner", 5));
		struct utsname u; uname(&u);
		printf("nodename=%s\n", u.nodename);
		/* chroot with CAP_SYS_CHROOT in the namespace */
		printf("chroot: %d\n", chroot("/"));
		/* IDs are the namespace's: 0 is mapped, 5 is not; setgroups is denied here */
		printf("setresuid(0,0,0): %d\n", setresuid(0, 0, 0) < 0 ? errno : 0);
		printf("setuid(5): %d\n", setuid(5) < 0 ? errno : 0);
		printf("setgid(0): %d\n", setgid(0) < 0 ? errno : 0);
		printf("setgroups: %d\n", setgroups(0, NULL) < 0 ? errno : 0);
		uid_t r, e, sv;
		getresuid(&r, &e, &sv);
		printf("resuid %d %d %d\n", r, e, sv);
		_exit(0);
	}
	int st; waitpid(c, &st, 0);
	struct utsname u; uname(&u);
	printf("outer nodename unchanged: %d\n", strcmp(u.nodename, "inner") != 0);
	/* without privilege: new UTS namespace refused */
	if (uid != 0) printf("unshare uts unprivileged: %s\n", unshare(CLONE_NEWUTS) < 0 ? strerror(errno) : "ok");
	/* PID namespace: the first child is 1, its children 2, 3; the parent sees them in its own numbers */
	c = fork();
	if (c == 0) {
		if (unshare(CLONE_NEWUSER|CLONE_NEWPID) < 0) { printf("unshare pid: %s\n", strerror(errno)); _exit(1); }
		printf("after unshare getpid unchanged: %d\n", getpid() != 1);
		int p[2]; pipe(p);
		pid_t init = fork();
		if (init == 0) {
			printf("init: pid=%d ppid=%d\n", getpid(), getppid());
			pid_t g = fork();
			if (g == 0) {
				printf("grandchild: pid=%d ppid=%d\n", getpid(), getppid());
				/* init ignores, from inside its namespace, signals it has no handler for */
				printf("kill(1, SIGKILL) from inside: %d, SIGTERM: %d\n", kill(1, SIGKILL), kill(1, SIGTERM));
				_exit(3);
			}
			int s2; pid_t w = waitpid(g, &s2, 0);
			printf("init waited %d status %d (fork returned %d)\n", w, WEXITSTATUS(s2), g);
			printf("kill(1,0)=%d kill(%d,0)=%d\n", kill(1, 0), init > 100 ? 999 : 999, kill(999, 0) < 0 ? errno : 0);
			_exit(7);
		}
		int s1; pid_t w = waitpid(init, &s1, 0);
		printf("parent sees init as itself: %d, status %d\n", w == init && init != 1, WEXITSTATUS(s1));
		printf("second fork after init died: %s\n", fork() < 0 ? strerror(errno) : "ok");
		_exit(0);
	}
	waitpid(c, &st, 0);
	/* clone with CLONE_NEWUSER|CLONE_NEWPID directly */
	fflush(stdout);
	long r = syscall(SYS_clone, CLONE_NEWUSER|CLONE_NEWPID|SIGCHLD, 0, 0, 0, 0);
	if (r == 0) { printf("clone child: pid=%d ppid=%d\n", getpid(), getppid()); fflush(stdout); _exit(0); }
	waitpid(r, &st, 0);
	printf("clone errors: thread+newuser %d, newpid+thread %d\n",
	       syscall(SYS_clone, CLONE_NEWUSER|CLONE_THREAD|CLONE_SIGHAND|CLONE_VM, 0, 0, 0, 0) < 0 ? errno : 0,
	       syscall(SYS_clone, CLONE_NEWPID|CLONE_THREAD|CLONE_SIGHAND|CLONE_VM, 0, 0, 0, 0) < 0 ? errno : 0);
	printf("unshare bad flag: %d\n", unshare(0x80000000) < 0 ? errno : 0);
	/* /proc/PID/ns links: distinct per namespace */
	char a[64] = {0}, b[64] = {0};
	readlink("/proc/self/ns/uts", a, sizeof a - 1);
	printf("ns link shape: %d\n", strncmp(a, "uts:[", 5) == 0);
	c = fork();
	if (c == 0) { unshare(CLONE_NEWUSER|CLONE_NEWUTS); readlink("/proc/self/ns/uts", b, sizeof b - 1); printf("new uts differs: %d\n", strcmp(a, b) != 0); _exit(0); }
	waitpid(c, &st, 0);
	return 0;
}
