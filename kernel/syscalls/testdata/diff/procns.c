/* A /proc for a PID namespace (proc(5), pid_namespaces(7)): a process that is 1 in a new
 * PID namespace (as a user through a new user namespace) mounts proc in its own mount
 * namespace and sees its namespace's processes by their numbers there, /proc/self and
 * /proc/thread-self resolved in it; the proc it inherited still shows its numbers in
 * the parent namespace. Without CAP_SYS_ADMIN over the PID namespace (a user namespace
 * of its own but the sandbox's PID namespace): EPERM. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <dirent.h>
#include <ctype.h>
#include <sys/mount.h>
#include <sys/wait.h>

static int enter(int user, int flags) {
	if (!user) return unshare(flags);
	return enter_userns(flags);
}

static void pids(const char *dir) {
	DIR *d = opendir(dir);
	if (!d) { printf("ls %s: %s\n", dir, errname(errno)); return; }
	int n[64], k = 0;
	struct dirent *e;
	while ((e = readdir(d)) && k < 64) if (isdigit((unsigned char)e->d_name[0])) n[k++] = atoi(e->d_name);
	closedir(d);
	for (int i = 0; i < k; i++) for (int j = i + 1; j < k; j++) if (n[j] < n[i]) { int t = n[i]; n[i] = n[j]; n[j] = t; }
	printf("pids:");
	for (int i = 0; i < k; i++) printf(" %d", n[i]);
	printf("\n");
}

static void showlink(const char *p) {
	char buf[256];
	ssize_t n = readlink(p, buf, sizeof buf - 1);
	if (n < 0) { printf("readlink %s: %s\n", strrchr(p, '/') + 1, errname(errno)); return; }
	buf[n] = 0;
	printf("readlink %s: %s\n", strrchr(p, '/') + 1, buf);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int user = geteuid() != 0;
	char dir[64] = "/tmp/sbxdiff-procns-XXXXXX";
	if (!mkdtemp(dir)) { perror("mkdtemp"); return 2; }
	chmod(dir, 0755);
	pid_t c = fork();
	if (c == 0) {
		/* a new mount namespace, but the PID namespace of the sandbox's proc */
		if (enter(user, CLONE_NEWNS) < 0) { printf("enter: %s\n", errname(errno)); _exit(1); }
		CHECK(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL));
		CHECK(mount("proc", dir, "proc", 0, NULL));
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	c = fork();
	if (c == 0) {
		if (enter(user, CLONE_NEWPID | CLONE_NEWNS) < 0) { printf("enter: %s\n", errname(errno)); _exit(1); }
		int pfd[2];
		pipe(pfd);
		pid_t init = fork();
		if (init == 0) {
			printf("getpid: %d\n", getpid());
			CHECK(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL));
			CHECK(mount("proc", dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
			pid_t g = fork();
			if (g == 0) { char ch; read(pfd[0], &ch, 1); _exit(0); }
			char p[128];
			pids(dir);
			snprintf(p, sizeof p, "%s/self", dir); showlink(p);
			snprintf(p, sizeof p, "%s/thread-self", dir); showlink(p);
			snprintf(p, sizeof p, "%s/2/stat", dir);
			CHECK(access(p, R_OK));
			snprintf(p, sizeof p, "%s/%d", dir, g + 100);
			CHECK(access(p, F_OK));
			/* the inherited /proc shows the parent namespace's numbers */
			char buf[64];
			ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
			if (n > 0) { buf[n] = 0; printf("old /proc/self is 1: %d\n", atoi(buf) == 1); }
			CHECK(mount("proc", "/proc", "proc", 0, NULL));
			showlink("/proc/self");
			CHECK(umount2("/proc", 0));
			CHECK(umount2(dir, MNT_DETACH));
			write(pfd[1], "x", 1);
			waitpid(g, NULL, 0);
			_exit(0);
		}
		waitpid(init, &st, 0);
		printf("init: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		_exit(0);
	}
	waitpid(c, &st, 0);
	CHECK(rmdir(dir));
	return 0;
}
