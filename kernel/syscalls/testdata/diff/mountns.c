/* Mount namespaces (mount(2), umount2(2), pivot_root(2), mount_namespaces(7)): a child in
 * its own mount namespace (as root: CLONE_NEWNS; as a user: CLONE_NEWUSER|CLONE_NEWNS,
 * the unprivileged path) makes everything private, mounts a tmpfs of its own and works
 * inside it: binds (recursive or not), remounts (read-only gives EROFS, noexec makes
 * execve fail with EACCES and mmap PROT_EXEC with EPERM), MS_MOVE, shared, slave, private
 * and unbindable propagation (within the namespace and into a copy of it), umount2 with
 * its flags, pivot_root and the pivot_root(".", ".") idiom, locked mounts inherited by a
 * less privileged namespace, and every errno the man pages list that a program can
 * provoke. /proc/self/mountinfo is printed for the mounts the program made, with peer
 * group numbers renumbered in order of appearance, so native and sbx runs compare. */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static char base[256];

/* enter puts the calling process into a new mount namespace, and for a user first into
 * a new user namespace mapping its own IDs to 0. */
static int enter(int user) {
	if (!user) return unshare(CLONE_NEWNS);
	return enter_userns(CLONE_NEWNS);
}

/* groups renumbers peer group IDs in order of appearance. */
static int gids[64], ngids;
static int group(int id) {
	for (int i = 0; i < ngids; i++) if (gids[i] == id) return i + 1;
	gids[ngids] = id;
	return ++ngids;
}

/* mountinfo prints the mounts under base: where, the parent's place, root, flags,
 * propagation, type, source, filesystem options. */
static void mountinfo(const char *title) {
	printf("-- mountinfo: %s\n", title);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f) { printf("open mountinfo: %s\n", errname(errno)); return; }
	char line[1024];
	int ids[256], n = 0; char points[256][256];
	while (fgets(line, sizeof line, f) && n < 256) {
		int id, parent; char dev[32], root[256], point[256];
		if (sscanf(line, "%d %d %31s %255s %255s", &id, &parent, dev, root, point) != 5) continue;
		ids[n] = id; snprintf(points[n], 256, "%s", point); n++;
	}
	rewind(f);
	size_t bl = strlen(base);
	while (fgets(line, sizeof line, f)) {
		int id, parent; char dev[32], root[256], point[256], opts[256];
		if (sscanf(line, "%d %d %31s %255s %255s %255s", &id, &parent, dev, root, point, opts) != 6) continue;
		if (strncmp(point, base, bl) != 0) continue;
		const char *pp = "(outside)";
		for (int i = 0; i < n; i++) if (ids[i] == parent && strncmp(points[i], base, bl) == 0) pp = points[i] + bl;
		char *rest = strstr(line, opts) + strlen(opts);
		char optional[256] = "";
		char *dash = strstr(rest, " - ");
		for (char *tok = rest; tok < dash;) {
			while (*tok == ' ') tok++;
			if (tok >= dash) break;
			int v;
			if (sscanf(tok, "shared:%d", &v) == 1) { char b[32]; snprintf(b, sizeof b, " shared:%d", group(v)); strcat(optional, b); }
			else if (sscanf(tok, "master:%d", &v) == 1) { char b[32]; snprintf(b, sizeof b, " master:%d", group(v)); strcat(optional, b); }
			else if (strncmp(tok, "unbindable", 10) == 0) strcat(optional, " unbindable");
			while (*tok && *tok != ' ') tok++;
		}
		char fstype[64], source[256], super[256];
		if (sscanf(dash + 3, "%63s %255s %255s", fstype, source, super) != 3) continue;
		printf("%s on %s root %s %s%s - %s %s %s\n", *(point + bl) ? point + bl : "/", *pp ? pp : "/", root, opts, optional, fstype, source, super);
	}
	fclose(f);
}

static int run(const char *path) {
	pid_t c = fork();
	if (c == 0) { execl(path, path, (char *)NULL); _exit(errno == EACCES ? 126 : 127); }
	int st; waitpid(c, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void copyfile(const char *from, const char *to) {
	int in = open(from, O_RDONLY), out = open(to, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	char buf[65536]; ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
	close(in); close(out);
}

static void ls(const char *dir) {
	DIR *d = opendir(dir);
	if (!d) { printf("ls %s: %s\n", dir, errname(errno)); return; }
	char names[64][64]; int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 64) if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) snprintf(names[n++], 64, "%s", e->d_name);
	closedir(d);
	for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) if (strcmp(names[i], names[j]) > 0) { char t[64]; strcpy(t, names[i]); strcpy(names[i], names[j]); strcpy(names[j], t); }
	printf("ls %s:", dir);
	for (int i = 0; i < n; i++) printf(" %s", names[i]);
	printf("\n");
}

static void touch(const char *p) { int fd = open(p, O_CREAT | O_WRONLY, 0644); if (fd >= 0) close(fd); }

static void errnos(void) {
	printf("-- mount(2) errors\n");
	CHECK(mount("none", (char *)1, "tmpfs", 0, NULL));
	CHECK(mount("none", "m", (char *)1, 0, NULL));
	CHECK(mount("none", "nosuch/x", "tmpfs", 0, NULL));
	CHECK(mount("none", "file/x", "tmpfs", 0, NULL));
	CHECK(mount("none", "file", "tmpfs", 0, NULL));
	CHECK(mount("none", "m", "nosuchfs", 0, NULL));
	CHECK(mount("none", "m", "", 0, NULL));
	CHECK(mount("none", "m", NULL, 0, NULL));
	CHECK(mount("none", "m", "tmpfs", 0, "nosuchoption"));
	CHECK(mount("none", "m", "tmpfs", 0, "size=lots"));
	CHECK(mount("none", "m", "tmpfs", 0, "mode=999"));
	CHECK(mount("none", "m", "tmpfs", MS_NOUSER, NULL));
	CHECK(mount("none", "loop1", "tmpfs", 0, NULL));
	char longname[300]; memset(longname, 'x', 299); longname[299] = 0;
	CHECK(mount("none", longname, "tmpfs", 0, NULL));
	CHECK(mount(NULL, "m", NULL, MS_REMOUNT, NULL));
	CHECK(mount(NULL, "m", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	CHECK(mount(NULL, "m", NULL, MS_SHARED, NULL));
	CHECK(mount(NULL, ".", NULL, MS_SHARED | MS_PRIVATE, NULL));
	CHECK(mount(NULL, ".", NULL, MS_PRIVATE | MS_NOSUID, NULL));
	CHECK(mount("", "m", NULL, MS_BIND, NULL));
	CHECK(mount(NULL, "m", NULL, MS_BIND, NULL));
	CHECK(mount("nosuch", "m", NULL, MS_BIND, NULL));
	CHECK(mount("file", "m", NULL, MS_BIND, NULL));
	CHECK(mount("m", "m", NULL, MS_MOVE, NULL));
	CHECK(mount("", "m", NULL, MS_MOVE, NULL));
	printf("-- umount2(2) errors\n");
	CHECK(umount2("m", 0x100));
	CHECK(umount2("m", 0));
	CHECK(umount2("nosuch", 0));
	CHECK(umount2((char *)1, 0));
	CHECK(umount2(longname, 0));
	CHECK(umount2("file", 0));
	CHECK(umount2("loop1", 0));
	CHECK(umount2("m", MNT_EXPIRE | MNT_DETACH));
	printf("-- pivot_root(2) errors\n");
	CHECK(syscall(SYS_pivot_root, "file", "m"));
	CHECK(syscall(SYS_pivot_root, "m", "file"));
	CHECK(syscall(SYS_pivot_root, "nosuch", "m"));
	CHECK(syscall(SYS_pivot_root, (char *)1, "m"));
	CHECK(syscall(SYS_pivot_root, "m", "m"));
	CHECK(syscall(SYS_pivot_root, "/", "m"));
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int user = geteuid() != 0;
	snprintf(base, sizeof base, "/tmp/sbxdiff-mountns-XXXXXX");
	if (!mkdtemp(base) || chmod(base, 0755) < 0) { perror("mkdtemp"); return 2; }
	/* without CAP_SYS_ADMIN: EPERM */
	pid_t c = fork();
	if (c == 0) {
		if (!user && setresuid(65534, 65534, 65534) < 0) _exit(1);
		CHECK(mount("none", base, "tmpfs", 0, NULL));
		CHECK(umount2(base, 0));
		CHECK(umount2(base, MNT_FORCE));
		CHECK(syscall(SYS_pivot_root, base, base));
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	c = fork();
	if (c == 0) {
		if (enter(user) < 0) { printf("enter: %s\n", errname(errno)); _exit(1); }
		CHECK(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL));
		CHECK(mount("none", base, "tmpfs", MS_NOSUID, "size=1m,mode=755"));
		CHECK(chdir(base));
		mkdir("m", 0755); mkdir("a", 0755); mkdir("b", 0755); mkdir("a/sub", 0755); touch("file");
		symlink("loop2", "loop1"); symlink("loop1", "loop2");
		errnos();
		mountinfo("fresh tmpfs");

		printf("-- bind, recursive bind, read-only remount\n");
		CHECK(mount("none", "a/sub", "tmpfs", 0, "size=64k"));
		touch("a/sub/inner"); touch("a/top");
		CHECK(mount("a", "b", NULL, MS_BIND, NULL));
		CHECK(access("b/top", F_OK));
		CHECK(access("b/sub/inner", F_OK));
		CHECK(umount2("b", 0));
		CHECK(mount("a", "b", NULL, MS_BIND | MS_REC, NULL));
		CHECK(access("b/sub/inner", F_OK));
		CHECK(mount(NULL, "b", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
		CHECK(open("b/new", O_CREAT | O_WRONLY, 0644));
		CHECK(mkdir("b/newdir", 0755));
		CHECK(open("b/top", O_WRONLY));
		CHECK(open("b/top", O_RDONLY) >= 0);
		CHECK(open("a/new", O_CREAT | O_WRONLY, 0644) >= 0);
		CHECK(access("b/new", F_OK));
		CHECK(access("b/top", W_OK));
		mountinfo("binds");
		CHECK(umount2("b", 0));
		CHECK(umount2("b", 0));
		CHECK(umount2("b/sub", 0));
		CHECK(umount2("b", MNT_DETACH));

		printf("-- noexec\n");
		mkdir("x", 0755);
		CHECK(mount("none", "x", "tmpfs", 0, NULL));
		copyfile("/bin/true", "x/true");
		printf("exec on exec mount: %d\n", run("x/true"));
		CHECK(mount(NULL, "x", NULL, MS_REMOUNT | MS_BIND | MS_NOEXEC, NULL));
		printf("exec on noexec mount: %d\n", run("x/true"));
		CHECK(execl("x/true", "true", (char *)NULL));
		int fd = open("x/true", O_RDONLY);
		void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		printf("mmap exec on noexec: %s\n", p == MAP_FAILED ? errname(errno) : "OK");
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		printf("mmap read on noexec: %s\n", p == MAP_FAILED ? errname(errno) : "OK");
		if (p != MAP_FAILED) CHECK(mprotect(p, 4096, PROT_READ | PROT_EXEC));
		close(fd);
		CHECK(mount(NULL, "x", NULL, MS_REMOUNT | MS_BIND, NULL));
		printf("exec after remount: %d\n", run("x/true"));
		mountinfo("noexec gone");
		CHECK(umount2("x", 0));

		printf("-- busy, lazy, expire\n");
		CHECK(mount("none", "m", "tmpfs", 0, NULL));
		touch("m/f");
		fd = open("m/f", O_RDONLY);
		CHECK(umount2("m", 0));
		CHECK(umount2("m", MNT_DETACH));
		CHECK(read(fd, (char[4]){0}, 4));
		CHECK(access("m/f", F_OK));
		close(fd);
		CHECK(mount("none", "m", "tmpfs", 0, NULL));
		CHECK(chdir("m"));
		CHECK(umount2(".", 0));
		CHECK(chdir(".."));
		CHECK(umount2("m", MNT_EXPIRE));
		CHECK(umount2("m", MNT_EXPIRE));
		CHECK(umount2("m", 0));
		CHECK(mount("none", "m", "tmpfs", 0, NULL));
		symlink("m", "mlink");
		CHECK(umount2("mlink", UMOUNT_NOFOLLOW));
		CHECK(umount2("mlink", 0));
		CHECK(mount("none", "m", "tmpfs", 0, NULL));
		CHECK(mount("none", "m", "tmpfs", 0, NULL));
		touch("m/top");
		CHECK(umount2("m", 0));
		CHECK(access("m/top", F_OK));
		CHECK(umount2("m", 0));

		printf("-- move\n");
		mkdir("m1", 0755); mkdir("m2", 0755);
		CHECK(mount("none", "m1", "tmpfs", 0, NULL));
		mkdir("m1/d", 0755);
		touch("m1/moved");
		CHECK(mount("m1", "m2", NULL, MS_MOVE, NULL));
		CHECK(access("m2/moved", F_OK));
		CHECK(access("m1/moved", F_OK));
		CHECK(mount("m2", "m2/d", NULL, MS_MOVE, NULL));
		CHECK(mount("m2/d", "m1", NULL, MS_MOVE, NULL));
		mountinfo("moved");

		printf("-- propagation\n");
		mkdir("s", 0755); mkdir("p", 0755); mkdir("q", 0755); mkdir("u", 0755); mkdir("pr", 0755);
		CHECK(mount("none", "s", "tmpfs", 0, NULL));
		mkdir("s/x", 0755); mkdir("s/y", 0755); mkdir("s/z", 0755); mkdir("s/w", 0755); mkdir("s/g", 0755);
		CHECK(mount(NULL, "s", NULL, MS_SHARED, NULL));
		CHECK(mount("s", "p", NULL, MS_BIND, NULL));
		CHECK(mount("s", "q", NULL, MS_BIND, NULL));
		CHECK(mount(NULL, "q", NULL, MS_SLAVE, NULL));
		CHECK(mount("s", "pr", NULL, MS_BIND, NULL));
		CHECK(mount(NULL, "pr", NULL, MS_PRIVATE, NULL));
		CHECK(mount("none", "s/x", "tmpfs", 0, NULL));
		touch("s/x/seen");
		CHECK(access("p/x/seen", F_OK));
		CHECK(access("q/x/seen", F_OK));
		CHECK(access("pr/x/seen", F_OK));
		CHECK(mount("none", "q/y", "tmpfs", 0, NULL));
		touch("q/y/seen");
		CHECK(access("s/y/seen", F_OK));
		CHECK(mount("none", "p/z", "tmpfs", 0, NULL));
		touch("p/z/seen");
		CHECK(access("s/z/seen", F_OK));
		CHECK(access("q/z/seen", F_OK));
		mountinfo("shared, slave, private");
		CHECK(umount2("s/x", 0));
		CHECK(access("p/x/seen", F_OK));
		CHECK(access("q/x/seen", F_OK));
		CHECK(mount("none", "s/x", "tmpfs", 0, NULL));
		CHECK(mount(NULL, "s/x", NULL, MS_PRIVATE, NULL));
		CHECK(mount("s/x", "s/w", NULL, MS_MOVE, NULL));
		CHECK(mount("pr/x", "m1", NULL, MS_MOVE, NULL));
		CHECK(mount("none", "u", "tmpfs", 0, NULL));
		CHECK(mount(NULL, "u", NULL, MS_UNBINDABLE, NULL));
		CHECK(mount("u", "m2", NULL, MS_BIND, NULL));
		CHECK(mount("u", "s/w", NULL, MS_MOVE, NULL));
		/* a copy of the namespace (same owner): its mounts are peers of ours */
		int pfd[2]; pipe(pfd);
		pid_t g = fork();
		if (g == 0) {
			CHECK(unshare(CLONE_NEWNS));
			CHECK(mount("none", "s/g", "tmpfs", 0, NULL));
			touch("s/g/from-copy");
			CHECK(mount(NULL, "pr", NULL, MS_SHARED, NULL));
			write(pfd[1], "x", 1);
			_exit(0);
		}
		char ch; read(pfd[0], &ch, 1);
		waitpid(g, &st, 0);
		CHECK(access("p/g/from-copy", F_OK));
		mountinfo("after a copy mounted");
		CHECK(mount(NULL, ".", NULL, MS_REC | MS_PRIVATE, NULL));
		mountinfo("all private");

		printf("-- pivot_root\n");
		mkdir("nr", 0755);
		CHECK(mount("none", "nr", "tmpfs", 0, NULL));
		mkdir("nr/old", 0755); touch("nr/marker");
		CHECK(syscall(SYS_pivot_root, "a", "a"));
		CHECK(syscall(SYS_pivot_root, "nr", "m"));
		CHECK(mount(NULL, ".", NULL, MS_SHARED, NULL));
		CHECK(syscall(SYS_pivot_root, "nr", "nr/old"));
		CHECK(mount(NULL, ".", NULL, MS_PRIVATE, NULL));
		g = fork();
		if (g == 0) {
			CHECK(chroot("a"));
			CHECK(syscall(SYS_pivot_root, "/sub", "/sub"));
			_exit(0);
		}
		waitpid(g, &st, 0);
		g = fork();
		if (g == 0) {
			char old[300];
			snprintf(old, sizeof old, "%s/nr/old", base);
			CHECK(unshare(CLONE_NEWNS));
			CHECK(syscall(SYS_pivot_root, "nr", "nr/old"));
			char cwd[256];
			printf("cwd after pivot: %s\n", getcwd(cwd, sizeof cwd) ? "reachable" : errname(errno));
			CHECK(chdir("/"));
			ls("/");
			CHECK(access("/old/bin", F_OK));
			CHECK(umount2("/old", 0));
			CHECK(umount2("/old", MNT_DETACH));
			ls("/old");
			CHECK(access(old, F_OK));
			_exit(0);
		}
		waitpid(g, &st, 0);
		g = fork();
		if (g == 0) {
			CHECK(unshare(CLONE_NEWNS));
			CHECK(chdir("nr"));
			CHECK(syscall(SYS_pivot_root, ".", "."));
			CHECK(umount2(".", MNT_DETACH));
			CHECK(chdir("/"));
			ls("/");
			CHECK(access("/bin", F_OK));
			_exit(0);
		}
		waitpid(g, &st, 0);

		printf("-- setns into a mount namespace\n");
		g = fork();
		if (g == 0) {
			int old = open("/proc/self/ns/mnt", O_RDONLY);
			CHECK(unshare(CLONE_NEWNS));
			CHECK(umount2(base, MNT_DETACH));
			CHECK(access("nr/marker", F_OK));
			char p[300];
			snprintf(p, sizeof p, "%s/nr/marker", base);
			CHECK(access(p, F_OK));
			CHECK(setns(old, CLONE_NEWNS));
			CHECK(access(p, F_OK));
			char cwd[256];
			printf("cwd after setns: %s\n", getcwd(cwd, sizeof cwd) ? cwd : errname(errno));
			_exit(0);
		}
		waitpid(g, &st, 0);

		printf("-- locked mounts in a less privileged namespace\n");
		if (!user) {
			mkdir("lk", 0755); mkdir("lk2", 0755);
			CHECK(mount("none", "lk", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL));
			CHECK(mount("none", "lk2", "tmpfs", 0, NULL));
			g = fork();
			if (g == 0) {
				if (enter(1) < 0) { printf("enter: %s\n", errname(errno)); _exit(1); }
				CHECK(umount2("lk", 0));
				CHECK(umount2("lk", MNT_DETACH));
				CHECK(mount(NULL, "lk", NULL, MS_REMOUNT | MS_BIND, NULL));
				CHECK(mount(NULL, "lk", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
				CHECK(mount(NULL, "lk", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL));
				CHECK(mount(NULL, "lk", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL));
				CHECK(mount(NULL, "lk", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL));
				CHECK(mount("lk", "m", NULL, MS_MOVE, NULL));
				CHECK(mount(base, "m", NULL, MS_BIND, NULL));
				CHECK(mount(base, "m", NULL, MS_BIND | MS_REC, NULL));
				CHECK(umount2("m/lk", 0));
				CHECK(umount2("m", MNT_DETACH));
				CHECK(mount("none", "lk2", "tmpfs", 0, NULL));
				CHECK(umount2("lk2", 0));
				CHECK(umount2("lk2", 0));
				CHECK(umount2("lk2", MNT_FORCE));
				CHECK(mount("lk2", "m", NULL, MS_BIND, NULL));
				CHECK(umount2("m", 0));
				mountinfo("locked");
				_exit(0);
			}
			waitpid(g, &st, 0);
			CHECK(umount2("lk", MNT_FORCE));
		}
		CHECK(chdir("/"));
		CHECK(umount2(base, 0));
		CHECK(umount2(base, MNT_DETACH));
		_exit(0);
	}
	waitpid(c, &st, 0);
	printf("child: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	CHECK(rmdir(base));
	return 0;
}
