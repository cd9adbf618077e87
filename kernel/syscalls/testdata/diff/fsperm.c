/* sbx-diff: host-rw-dir
 * Ownership and permission rules, in a host directory (served by the gofer) and on tmpfs
 * (/dev/shm): chmod/fchmodat (flags, set-group-ID clearing), chown/fchownat/lchown
 * (who may give a file away, set-ID bits cleared), utimensat by owner and non-owner
 * (UTIME_NOW/UTIME_OMIT), access/faccessat/faccessat2 (AT_EACCESS, AT_SYMLINK_NOFOLLOW,
 * bad flags), umask on every creating call, mknod (FIFOs, sockets, regular files,
 * devices, bad types), sticky directories, truncate/ftruncate errno paths. The rules for
 * other users run in a child that takes uid/gid 65534 (when the program runs as root) or
 * show what an unprivileged owner may do (when it runs as 65534). */
#include "common.h"
#include <grp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static void put(const char *name, int mode) {
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, mode);
	write(fd, "data", 4);
	close(fd);
	chmod(name, mode);
}

static void mode(const char *name) {
	struct stat st;
	if (lstat(name, &st) != 0) {
		printf("  %s: %s\n", name, errname(errno));
		return;
	}
	printf("  %s: mode %o\n", name, st.st_mode);
}

static void owner(const char *name) {
	struct stat st;
	if (lstat(name, &st) != 0) {
		printf("  %s: %s\n", name, errname(errno));
		return;
	}
	printf("  %s: uid %s gid %s\n", name, st.st_uid == 0 ? "root" : st.st_uid == 65534 ? "nobody" : "other",
	       st.st_gid == 0 ? "root" : st.st_gid == 65534 ? "nogroup" : "other");
}

/* as_other runs f in a child with uid and gid 65534 (when root): 0 when it ran. */
static void as_other(const char *what, void (*f)(void)) {
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		if (geteuid() == 0) {
			if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
				printf("  %s: cannot drop: %s\n", what, errname(errno));
				_exit(0);
			}
		}
		printf("  (%s as %s)\n", what, getuid() == 65534 ? "65534" : "?");
		f();
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
}

static void other_chmod(void) {
	CHECK(chmod("rootfile", 0600));
	CHECK(fchmodat(AT_FDCWD, "rootfile", 0600, 0));
	CHECK(chown("rootfile", -1, -1));
	CHECK(chown("rootfile", 65534, -1));
	CHECK(chown("rootfile", -1, 65534));
	CHECK(utimensat(AT_FDCWD, "rootfile", NULL, 0));
	struct timespec now2[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	CHECK(utimensat(AT_FDCWD, "rootfile", now2, 0));
	struct timespec omit2[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	CHECK(utimensat(AT_FDCWD, "rootfile", omit2, 0));
	struct timespec set[2] = {{100, 0}, {0, UTIME_OMIT}};
	CHECK(utimensat(AT_FDCWD, "rootfile", set, 0));
	struct timespec nowomit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
	CHECK(utimensat(AT_FDCWD, "rootfile", nowomit, 0));
	CHECK(utimensat(AT_FDCWD, "rootro", NULL, 0));
	CHECK(utimensat(AT_FDCWD, "rootro", now2, 0));
	CHECK(utimes("rootro", NULL));
	CHECK(access("rootfile", W_OK));
	CHECK(access("rootro", W_OK));
	CHECK(access("rootro", R_OK));
	CHECK(access("rootx", X_OK));
	CHECK(access("rootfile", X_OK));
	CHECK(truncate("rootro", 0));
	CHECK(truncate("rootfile", 2));
	CHECK(open("rootro", O_WRONLY));
	CHECK(unlink("sticky/rootfile"));
	CHECK(rename("sticky/rootfile", "sticky/x"));
	CHECK(rmdir("sticky/rootdir"));
	CHECK(unlink("sticky/mine"));
	int fd = open("sticky/mine", O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK(rename("sticky/mine", "sticky/mine2"));
	CHECK(rename("sticky/mine2", "sticky/rootfile"));
	CHECK(unlink("sticky/mine2"));
	CHECK(mkdir("rootdir/sub", 0755));
	CHECK(open("rootdir/new", O_CREAT | O_WRONLY, 0644));
	CHECK(unlink("rootdir/f"));
	CHECK(chmod("rootdir", 0777));
	CHECK(setxattr("rootfile", "user.a", "1", 1, 0) == 0 ? 0 : -1);
	CHECK(mknod("rootdir/fifo", S_IFIFO | 0644, 0));
	CHECK(mknod("mydev", S_IFCHR | 0644, makedev(1, 3)));
	CHECK(mknod("mydev", S_IFBLK | 0644, makedev(7, 0)));
	CHECK(link("rootro", "hl"));
	CHECK(faccessat(AT_FDCWD, "rootro", W_OK, AT_EACCESS));
}

static void own_rules(void) {
	/* an unprivileged owner: chmod yes, give away no, set-group-ID of a foreign group dropped */
	put("own", 0644);
	CHECK(chmod("own", 02755));
	mode("own");
	CHECK(chown("own", getuid(), getgid()));
	CHECK(chown("own", 0, -1));
	CHECK(chown("own", -1, 0));
	CHECK(fchownat(AT_FDCWD, "own", -1, -1, 0x8000));
	CHECK(fchmodat(AT_FDCWD, "own", 0600, 0x8000));
	CHECK(fchmodat(AT_FDCWD, "own", 0600, AT_SYMLINK_NOFOLLOW));
	struct timespec set[2] = {{100, 5}, {200, 6}};
	CHECK(utimensat(AT_FDCWD, "own", set, 0));
	struct stat st;
	stat("own", &st);
	printf("  own times %ld.%ld %ld.%ld\n", (long)st.st_atime, st.st_atim.tv_nsec, (long)st.st_mtime, st.st_mtim.tv_nsec);
	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	CHECK(utimensat(AT_FDCWD, "own", bad, 0));
	struct timespec neg[2] = {{0, -5}, {0, 0}};
	CHECK(utimensat(AT_FDCWD, "own", neg, 0));
	CHECK(utimensat(AT_FDCWD, "own", set, 0x8000));
	/* setuid/setgid cleared by a write from an unprivileged writer */
	CHECK(chmod("own", 06755));
	int fd = open("own", O_WRONLY);
	write(fd, "x", 1);
	close(fd);
	mode("own");
	CHECK(chmod("own", 06755));
	CHECK(truncate("own", 1));
	mode("own");
	unlink("own");
}

static void other_own(void) { own_rules(); }

static void umask_cases(int tmpfs) {
	printf("-- umask\n");
	mode_t old = umask(027);
	CHECK(umask(027));
	int fd = open("um_file", O_CREAT | O_WRONLY, 0777);
	close(fd);
	mode("um_file");
	mkdir("um_dir", 0777);
	mode("um_dir");
	mknod("um_fifo", S_IFIFO | 0666, 0);
	mode("um_fifo");
	mknod("um_reg", S_IFREG | 0777, 0);
	mode("um_reg");
	symlink("x", "um_link");
	mode("um_link");
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	getcwd(a.sun_path, sizeof a.sun_path - 10);
	strcat(a.sun_path, "/um_sock");
	CHECK(bind(s, (struct sockaddr *)&a, sizeof a));
	mode("um_sock");
	close(s);
	/* O_TMPFILE: on tmpfs (host directories have no unnamed files here) */
	fd = tmpfs ? open(".", O_TMPFILE | O_WRONLY, 0777) : -2;
	if (fd >= 0) {
		struct stat st;
		fstat(fd, &st);
		printf("  tmpfile mode %o\n", st.st_mode);
		close(fd);
	} else if (fd == -1) {
		printf("  tmpfile %s\n", errname(errno));
	}
	umask(0);
	fd = open("um_file0", O_CREAT | O_WRONLY, 07777);
	close(fd);
	mode("um_file0");
	mkdir("um_dir0", 07777);
	mode("um_dir0");
	CHECK(umask(0777777) == 0777 ? 0 : -1);
	umask(old);
	unlink("um_file"); unlink("um_file0"); rmdir("um_dir"); rmdir("um_dir0"); unlink("um_fifo");
	unlink("um_reg"); unlink("um_link"); unlink("um_sock");
}

static void mknod_cases(void) {
	printf("-- mknod\n");
	CHECK(mknod("n_fifo", S_IFIFO | 0644, 0));
	mode("n_fifo");
	CHECK(mknod("n_fifo", S_IFIFO | 0644, 0));
	CHECK(mknod("n_sock", S_IFSOCK | 0644, 0));
	mode("n_sock");
	CHECK(mknod("n_reg", S_IFREG | 0644, 0));
	CHECK(mknod("n_zero", 0644, 0));
	mode("n_zero");
	CHECK(mknod("n_dir", S_IFDIR | 0755, 0));
	CHECK(mknod("n_lnk", S_IFLNK | 0755, 0));
	CHECK(mknod("n_bad", 0170000 | 0644, 0));
	CHECK(mknod("n_bad", 0110000 | 0644, 0));
	CHECK(mknodat(-9, "n_x", S_IFIFO | 0644, 0));
	CHECK(mknod("nodir/x", S_IFIFO | 0644, 0));
	CHECK(mknod("n_reg/x", S_IFIFO | 0644, 0));
	CHECK(mknod("", S_IFIFO | 0644, 0));
	CHECK(mkfifo("n_fifo2", 0644));
	CHECK(open("n_sock", O_RDONLY));
	CHECK(open("n_fifo", O_WRONLY | O_NONBLOCK));
	int r = open("n_fifo", O_RDONLY | O_NONBLOCK);
	CHECK(r >= 0);
	int w = open("n_fifo", O_WRONLY | O_NONBLOCK);
	CHECK(w >= 0);
	CHECK(write(w, "abc", 3));
	char b[8];
	CHECK(read(r, b, sizeof b));
	CHECK(read(r, b, sizeof b));
	close(w);
	CHECK(read(r, b, sizeof b));
	close(r);
	struct stat st;
	stat("n_reg", &st);
	printf("  n_reg size %ld\n", (long)st.st_size);
	unlink("n_fifo"); unlink("n_fifo2"); unlink("n_sock"); unlink("n_reg"); unlink("n_zero");
}

static void access_cases(void) {
	printf("-- access\n");
	put("acc", 0640);
	put("accx", 0750);
	symlink("missing", "acc_dangling");
	symlink("acc", "acc_link");
	CHECK(access("acc", R_OK | W_OK));
	CHECK(access("acc", X_OK));
	CHECK(access("accx", X_OK));
	CHECK(access("acc", 8));
	CHECK(access("acc", -1));
	CHECK(access("nope", F_OK));
	CHECK(access("acc/x", F_OK));
	CHECK(access(".", X_OK | W_OK));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "acc", R_OK, AT_EACCESS));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "acc_dangling", F_OK, 0));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "acc_dangling", F_OK, AT_SYMLINK_NOFOLLOW));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "acc_link", X_OK, AT_SYMLINK_NOFOLLOW));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "acc", R_OK, 0x8000));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "acc", 8, 0));
	int fd = open("acc", O_RDONLY);
	CHECK(syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
	CHECK(syscall(SYS_faccessat2, fd, "", R_OK, 0));
	CHECK(syscall(SYS_faccessat, fd, "", R_OK));
	close(fd);
	CHECK(access("/proc/self/status", W_OK));
	/* AT_EACCESS: effective ids decide, not real ones */
	if (getuid() == 0) {
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			setresgid(0, 65534, 0);
			setresuid(0, 65534, 0);
			CHECK(faccessat(AT_FDCWD, "acc", W_OK, 0));
			CHECK(faccessat(AT_FDCWD, "acc", W_OK, AT_EACCESS));
			CHECK(syscall(SYS_faccessat2, AT_FDCWD, "acc", R_OK, AT_EACCESS));
			CHECK(access("acc", W_OK));
			fflush(stdout);
			_exit(0);
		}
		waitpid(p, NULL, 0);
	}
	unlink("acc"); unlink("accx"); unlink("acc_dangling"); unlink("acc_link");
}

static void trunc_cases(void) {
	printf("-- truncate\n");
	put("tr", 0644);
	mkdir("trd", 0755);
	CHECK(truncate("tr", -1));
	CHECK(truncate("tr", 10));
	struct stat st;
	stat("tr", &st);
	printf("  size %ld\n", (long)st.st_size);
	CHECK(truncate("trd", 0));
	CHECK(truncate("nope", 0));
	CHECK(truncate("tr/x", 0));
	CHECK(truncate("", 0));
	int fd = open("tr", O_RDONLY);
	CHECK(ftruncate(fd, 0));
	close(fd);
	fd = open("tr", O_WRONLY | O_APPEND);
	CHECK(ftruncate(fd, 3));
	CHECK(ftruncate(fd, -1));
	close(fd);
	CHECK(ftruncate(99, 0));
	int p[2];
	pipe(p);
	CHECK(ftruncate(p[1], 0));
	close(p[0]); close(p[1]);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(ftruncate(s, 0));
	close(s);
	fd = open("trd", O_RDONLY);
	CHECK(ftruncate(fd, 0));
	close(fd);
	/* mtime/ctime move on a truncate that changes nothing? (they do on Linux: ftruncate
	 * always updates them; truncate to the same size too) */
	stat("tr", &st);
	struct timespec old[2] = {{1000, 0}, {1000, 0}};
	utimensat(AT_FDCWD, "tr", old, 0);
	truncate("tr", 3);
	stat("tr", &st);
	printf("  same-size truncate moved mtime: %s\n", st.st_mtime != 1000 ? "yes" : "no");
	utimensat(AT_FDCWD, "tr", old, 0);
	fd = open("tr", O_WRONLY);
	ftruncate(fd, 3);
	close(fd);
	stat("tr", &st);
	printf("  same-size ftruncate moved mtime: %s\n", st.st_mtime != 1000 ? "yes" : "no");
	utimensat(AT_FDCWD, "tr", old, 0);
	fd = open("tr", O_WRONLY | O_TRUNC);
	close(fd);
	stat("tr", &st);
	printf("  O_TRUNC moved mtime: %s size %ld\n", st.st_mtime != 1000 ? "yes" : "no", (long)st.st_size);
	utimensat(AT_FDCWD, "tr", old, 0);
	fd = open("tr", O_WRONLY | O_TRUNC);
	close(fd);
	stat("tr", &st);
	printf("  O_TRUNC of an empty file moved mtime: %s\n", st.st_mtime != 1000 ? "yes" : "no");
	put("tr", 0644);
	fd = open("tr", O_RDONLY | O_TRUNC);
	CHECK(fd >= 0);
	close(fd);
	stat("tr", &st);
	printf("  O_RDONLY|O_TRUNC size %ld\n", (long)st.st_size);
	unlink("tr"); rmdir("trd");
}

static void cases(int tmpfs) {
	umask(022);
	umask_cases(tmpfs);
	mknod_cases();
	access_cases();
	trunc_cases();
	printf("-- ownership\n");
	put("rootfile", 0666);
	put("rootro", 0644);
	put("rootx", 0755);
	mkdir("rootdir", 0755);
	put("rootdir/f", 0644);
	mkdir("sticky", 01777);
	put("sticky/rootfile", 0666);
	mkdir("sticky/rootdir", 0777);
	owner("rootfile");
	/* Host files are the host's: a file the sandbox makes there is owned by the user who
	 * runs sbx, whatever the sandbox's ids (so ownership rules run on tmpfs only). */
	if (getuid() == 0) {
		as_other("other", other_chmod);
		if (tmpfs)
			as_other("owner", other_own);
	} else {
		own_rules();
	}
	mode("rootfile");
	owner("rootfile");
	if (getuid() == 0 && tmpfs) {
		/* root gives files away; set-ID bits go on chown */
		put("give", 06755);
		CHECK(chown("give", 65534, 65534));
		owner("give");
		mode("give");
		CHECK(chmod("give", 06755));
		CHECK(chown("give", -1, -1));
		mode("give");
		CHECK(lchown("give", 0, 0));
		mode("give");
		unlink("give");
		symlink("rootfile", "slink");
		CHECK(lchown("slink", 65534, 65534));
		owner("slink");
		owner("rootfile");
		unlink("slink");
	}
	unlink("sticky/rootfile"); unlink("sticky/mine"); unlink("sticky/mine2"); unlink("sticky/x");
	rmdir("sticky/rootdir"); rmdir("sticky");
	unlink("rootdir/f"); unlink("rootdir/fifo"); rmdir("rootdir");
	unlink("rootfile"); unlink("rootro"); unlink("rootx"); unlink("mydev"); unlink("hl");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: fsperm DIR\n");
		return 2;
	}
	char dir[] = "fsperm-XXXXXX";
	if (mkdtemp(dir) == NULL || chmod(dir, 0777) != 0 || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	printf("== host directory\n");
	cases(0);
	char shm[] = "/dev/shm/sbxdiff-fsperm-XXXXXX";
	if (mkdtemp(shm) == NULL || chmod(shm, 0777) != 0 || chdir(shm) != 0) {
		perror("shmdir");
		return 2;
	}
	printf("== tmpfs\n");
	cases(1);
	return 0;
}
