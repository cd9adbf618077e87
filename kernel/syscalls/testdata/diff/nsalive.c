/* Namespace files keep their namespaces (namespaces(7), setns(2), ioctl_ns(2)): a child
 * makes new user, mount, IPC, UTS, network and cgroup namespaces, mounts a tmpfs, sets a
 * host name and makes a message queue; its parent opens /proc/CHILD/ns/* (readlink's
 * inode is the file's st_ino), bind-mounts four of them (its own mount namespace's file
 * it cannot: EINVAL, a loop), and after the child is gone another process joins each namespace
 * through an open descriptor or a bind mount and finds the child's objects there. The
 * NS_GET_USERNS, NS_GET_PARENT, NS_GET_NSTYPE and NS_GET_OWNER_UID ioctls, with their
 * EPERM (outside the caller's scope), EINVAL (no such relation) and ENOTTY cases. The
 * parent works in a user and mount namespace of its own (as root and as a user), which
 * gives it the privileges over the child's. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <net/if.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/wait.h>

static int enter(int flags) { return enter_userns(flags); }

static const char *kinds[] = {"user", "mnt", "ipc", "uts", "net", "cgroup", "pid"};
static const int types[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWPID};
enum { USER, MNT, IPC, UTS, NET, CGROUP, PID, NKINDS };

static unsigned long linkino(const char *path) {
	char l[128] = {0};
	if (readlink(path, l, sizeof l - 1) < 0) return 0;
	char *b = strchr(l, '[');
	return b ? strtoul(b + 1, NULL, 10) : 0;
}

static unsigned long fdino(int fd) {
	struct stat st;
	return fstat(fd, &st) < 0 ? 0 : st.st_ino;
}

static char base[512];

static void path(char *out, const char *name) { snprintf(out, 600, "%s/%s", base, name); }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	/* Binding a mount namespace's file is refused unless that namespace is newer than the
	 * caller's (a loop check on namespace IDs). On a Linux 6.18 host, IDs of namespaces made
	 * on different CPUs were not in creation order: 13 of 30 native runs got EINVAL for the
	 * child's file, 0 of 30 on one CPU. One CPU keeps "made later" "newer". */
	cpu_set_t cpus;
	if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) {
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &cpus)) {
				CPU_ZERO(&cpus);
				CPU_SET(i, &cpus);
				sched_setaffinity(0, sizeof cpus, &cpus);
				break;
			}
	}
	workdir("nsalive");
	getcwd(base, sizeof base);
	if (enter(CLONE_NEWNS) < 0) { printf("enter: %s\n", errname(errno)); return 1; }
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	char p[600];
	path(p, "m"); mkdir(p, 0755);
	for (int k = MNT; k <= NET; k++) { path(p, kinds[k]); close(open(p, O_CREAT | O_WRONLY, 0644)); }
	key_t key = 0x5c0000 | (getpid() & 0xffff);
	int ready[2], go[2];
	pipe(ready); pipe(go);
	pid_t child = fork();
	if (child == 0) {
		char c;
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWCGROUP) < 0) _exit(1);
		write_ctl("/proc/self/setgroups", "deny");
		write_ctl("/proc/self/uid_map", "0 0 1\n");
		write_ctl("/proc/self/gid_map", "0 0 1\n");
		path(p, "m");
		if (mount("none", p, "tmpfs", 0, "size=64k") < 0) _exit(2);
		path(p, "m/marker");
		close(open(p, O_CREAT | O_WRONLY, 0644));
		sethostname("sbxns-child", 11);
		if (msgget(key, IPC_CREAT | 0600) < 0) _exit(3);
		write(ready[1], "r", 1);
		read(go[0], &c, 1);
		_exit(0);
	}
	char c;
	if (read(ready[0], &c, 1) != 1) { printf("child failed\n"); return 1; }
	int fd[NKINDS];
	char self[64], ns[64];
	for (int k = 0; k < NKINDS; k++) {
		snprintf(ns, sizeof ns, "/proc/%d/ns/%s", child, kinds[k]);
		snprintf(self, sizeof self, "/proc/self/ns/%s", kinds[k]);
		fd[k] = open(ns, O_RDONLY | O_CLOEXEC);
		unsigned long li = linkino(ns);
		printf("%-6s open %d, readlink's inode is st_ino: %d, differs from mine: %d\n", kinds[k], fd[k] >= 0,
		       li != 0 && li == fdino(fd[k]), li != linkino(self));
		printf("%-6s NS_GET_NSTYPE is CLONE_NEW*: %d\n", kinds[k], ioctl(fd[k], NS_GET_NSTYPE) == types[k]);
	}
	for (int k = MNT; k <= NET; k++) {
		snprintf(ns, sizeof ns, "/proc/%d/ns/%s", child, kinds[k]);
		path(p, kinds[k]);
		errno = 0;
		int r = mount(ns, p, NULL, MS_BIND, NULL);
		printf("bind-mount %s: %d %s\n", kinds[k], r, errname(r < 0 ? errno : 0));
	}

	snprintf(ns, sizeof ns, "/proc/%d/ns/mnt", getpid());
	path(p, "mnt");
	CHECK(mount(ns, p, NULL, MS_BIND, NULL));

	printf("-- ioctls\n");
	int u = ioctl(fd[MNT], NS_GET_USERNS);
	printf("NS_GET_USERNS of mnt is the child's user ns: %d\n", u >= 0 && fdino(u) == fdino(fd[USER]));
	char l1[128] = {0}, l2[128] = {0};
	snprintf(ns, sizeof ns, "/proc/self/fd/%d", u);
	readlink(ns, l1, sizeof l1 - 1);
	snprintf(ns, sizeof ns, "/proc/%d/ns/user", child);
	readlink(ns, l2, sizeof l2 - 1);
	printf("its /proc/self/fd link is the ns link: %d\n", strcmp(l1, l2) == 0 && l1[0]);
	int fl = fcntl(u, F_GETFD), acc = fcntl(u, F_GETFL) & O_ACCMODE;
	printf("close-on-exec %d, read-only %d\n", (fl & FD_CLOEXEC) != 0, acc == O_RDONLY);
	int par = ioctl(fd[USER], NS_GET_PARENT);
	printf("NS_GET_PARENT of user is mine: %d\n", par >= 0 && fdino(par) == linkino("/proc/self/ns/user"));
	int own = ioctl(fd[USER], NS_GET_USERNS);
	printf("NS_GET_USERNS of user is mine: %d\n", own >= 0 && fdino(own) == linkino("/proc/self/ns/user"));
	CHECK(ioctl(par, NS_GET_PARENT));
	CHECK(ioctl(par, NS_GET_USERNS));
	CHECK(ioctl(fd[PID], NS_GET_PARENT));
	CHECK(ioctl(fd[MNT], NS_GET_PARENT));
	CHECK(ioctl(fd[IPC], NS_GET_PARENT));
	uid_t owner = 12345;
	CHECK(ioctl(fd[USER], NS_GET_OWNER_UID, &owner));
	printf("owner uid %d\n", owner);
	CHECK(ioctl(fd[MNT], NS_GET_OWNER_UID, &owner));
	CHECK(ioctl(fd[USER], NS_GET_OWNER_UID, (void *)8));
	int plain = open("/proc/self/status", O_RDONLY);
	CHECK(ioctl(plain, NS_GET_NSTYPE));
	CHECK(ioctl(plain, NS_GET_USERNS));
	CHECK(ioctl(fd[USER], _IO(0xb7, 0x9)));
	CHECK(ioctl(u, NS_GET_NSTYPE));
	close(plain);

	printf("-- after the child\n");
	write(go[1], "g", 1);
	int st;
	waitpid(child, &st, 0);
	printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	snprintf(ns, sizeof ns, "/proc/%d/ns/mnt", child);
	CHECK(open(ns, O_RDONLY));
	close(fd[IPC]); close(fd[UTS]); close(fd[NET]);
	pid_t gc = fork();
	if (gc == 0) {
		for (int k = IPC; k <= NET; k++) {
			path(p, kinds[k]);
			int f = open(p, O_RDONLY);
			errno = 0;
			int r = setns(f, types[k]);
			printf("setns %s through its bind mount: %d %s\n", kinds[k], r, errname(r < 0 ? errno : 0));
		}
		printf("message queue there: %d\n", msgget(key, 0) >= 0);
		char h[64] = {0};
		gethostname(h, sizeof h);
		printf("host name there: %s\n", h);
		struct if_nameindex *ifs = if_nameindex(), *i;
		printf("interfaces there:");
		for (i = ifs; i && i->if_index; i++) printf(" %s", i->if_name);
		printf("\n");
		CHECK(setns(fd[MNT], CLONE_NEWNS));
		path(p, "m/marker");
		CHECK(access(p, F_OK));
		CHECK(setns(fd[CGROUP], CLONE_NEWCGROUP));
		CHECK(setns(fd[USER], CLONE_NEWUSER));
		CHECK(setns(fd[USER], CLONE_NEWNS));
		_exit(0);
	}
	waitpid(gc, &st, 0);
	printf("joiner exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	for (int k = MNT; k <= NET; k++) { path(p, kinds[k]); CHECK(umount(p)); }
	return 0;
}
