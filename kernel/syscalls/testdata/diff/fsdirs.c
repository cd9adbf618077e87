/* sbx-diff: host-rw-dir
 * Directories and names, in a host directory (served by the gofer) and on tmpfs
 * (/dev/shm): getcwd in a removed directory, "." and ".." there, rename's directory rules
 * (into itself, over non-empty or non-directories, RENAME_EXCHANGE of a file and a
 * directory, trailing slashes), rmdir/unlink of special names, readlink's buffer rules,
 * trailing slashes on every creating call, and times of a directory its entries change. */
#include "common.h"
#include <dirent.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <linux/fs.h>

static void put(const char *name) {
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write(fd, "data", 4);
	close(fd);
}

static void cases(void) {
	int here = open(".", O_RDONLY | O_DIRECTORY);
	char buf[4096];
	printf("-- removed working directory\n");
	mkdir("gone", 0755);
	CHECK(chdir("gone"));
	CHECK(rmdir("../gone"));
	CHECK(getcwd(buf, sizeof buf) ? 0 : -1);
	CHECK(syscall(SYS_getcwd, buf, sizeof buf) > 0 ? 0 : -1);
	struct stat st;
	CHECK(stat(".", &st));
	printf("  nlink %ld\n", (long)st.st_nlink);
	CHECK(stat("..", &st));
	CHECK(open("new", O_CREAT | O_WRONLY, 0644));
	CHECK(mkdir("sub", 0755));
	CHECK(open(".", O_RDONLY | O_DIRECTORY) >= 0);
	CHECK(chdir("."));
	CHECK(fchdir(here));
	CHECK(getcwd(buf, 1) ? 0 : -1);
	CHECK(getcwd(buf, 0) ? 0 : -1);
	CHECK(syscall(SYS_getcwd, NULL, 100));

	printf("-- rename and directories\n");
	mkdir("a", 0755);
	mkdir("a/b", 0755);
	mkdir("e", 0755);
	mkdir("ne", 0755);
	put("ne/x");
	put("f");
	CHECK(rename("a", "a/b/c"));
	CHECK(rename("a", "a/b"));
	CHECK(rename("a/b", "a"));
	CHECK(rename("e", "ne"));
	CHECK(rename("e", "f"));
	CHECK(rename("f", "e"));
	CHECK(rename("f", "f/"));
	CHECK(rename("f/", "g"));
	CHECK(rename("e/", "e2/"));
	CHECK(rename("e2", "e"));
	CHECK(rename("e", "e"));
	CHECK(rename("a/b/..", "x"));
	CHECK(rename("a/.", "x"));
	CHECK(rename("x", "a/."));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "e", RENAME_EXCHANGE));
	CHECK(stat("e", &st) == 0 && S_ISREG(st.st_mode));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "e", RENAME_EXCHANGE));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "e", AT_FDCWD, "a/b/e", RENAME_EXCHANGE));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "a", AT_FDCWD, "a/b", RENAME_EXCHANGE));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "a/b", AT_FDCWD, "a", RENAME_EXCHANGE));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "e", AT_FDCWD, "ne", RENAME_NOREPLACE));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "e", AT_FDCWD, "ne2", RENAME_NOREPLACE));
	CHECK(rename("ne2", "e"));
	stat("a", &st);
	printf("  a nlink %ld\n", (long)st.st_nlink);

	printf("-- rmdir, unlink\n");
	CHECK(rmdir("."));
	CHECK(rmdir(".."));
	CHECK(rmdir("a/.."));
	CHECK(rmdir("a/b/."));
	CHECK(rmdir("f"));
	CHECK(rmdir("ne"));
	CHECK(rmdir("e/"));
	CHECK(rmdir("e//"));
	mkdir("e", 0755);
	CHECK(unlink("e"));
	CHECK(unlink("e/"));
	CHECK(unlink("f/"));
	CHECK(unlinkat(AT_FDCWD, "e", AT_REMOVEDIR | AT_SYMLINK_NOFOLLOW));
	CHECK(unlinkat(AT_FDCWD, "f", 0x8000));

	printf("-- trailing slashes on creation\n");
	CHECK(mkdir("m/", 0755));
	CHECK(mkdir("m2//", 0755));
	CHECK(symlink("f", "sl/"));
	CHECK(symlink("f", "m/"));
	CHECK(link("f", "hl/"));
	CHECK(link("f/", "hl"));
	CHECK(mknod("nod/", S_IFIFO | 0644, 0));
	CHECK(open("of/", O_CREAT | O_WRONLY, 0644));
	CHECK(rename("f", "newf/"));
	symlink("m", "sm");
	CHECK(rmdir("sm/"));
	CHECK(unlink("sm/"));
	CHECK(unlink("sm"));
	rmdir("m"); rmdir("m2");

	printf("-- readlink\n");
	symlink("target-of-link", "rl");
	char rb[8];
	CHECK(readlink("rl", rb, sizeof rb));
	printf("  got %.8s\n", rb);
	CHECK(readlink("rl", rb, 0));
	CHECK(readlink("rl", rb, -1));
	CHECK(readlink("f", rb, sizeof rb));
	CHECK(readlink("nope", rb, sizeof rb));
	CHECK(readlink("rl/", rb, sizeof rb));
	CHECK(readlink("", rb, sizeof rb));
	CHECK(readlink("rl", NULL, 8));
	unlink("rl");

	printf("-- directory times\n");
	mkdir("t", 0755);
	struct timespec old[2] = {{1000, 0}, {1000, 0}};
	const char *ops[] = {"create", "unlink", "rename in", "rename within", "rename out", "chmod entry", "link", "mkdir"};
	for (int i = 0; i < 8; i++) {
		if (i == 1 || i == 3 || i == 4 || i == 5 || i == 6)
			put("t/x");
		if (i == 2)
			put("outside");
		utimensat(AT_FDCWD, "t", old, 0);
		switch (i) {
		case 0: put("t/x"); break;
		case 1: unlink("t/x"); break;
		case 2: rename("outside", "t/in"); break;
		case 3: rename("t/x", "t/y"); break;
		case 4: rename("t/x", "out"); break;
		case 5: chmod("t/x", 0600); break;
		case 6: link("t/x", "t/x2"); break;
		case 7: mkdir("t/d", 0755); break;
		}
		stat("t", &st);
		printf("  %s: mtime %s ctime %s\n", ops[i], st.st_mtime != 1000 ? "moved" : "same", st.st_ctime != st.st_mtime || st.st_mtime != 1000 ? "moved" : "same");
		unlink("t/x"); unlink("t/y"); unlink("t/in"); unlink("out"); unlink("t/x2"); rmdir("t/d");
	}
	rmdir("t");
	rmdir("a/b"); rmdir("a"); rmdir("e"); rmdir("e2"); unlink("ne/x"); rmdir("ne"); unlink("f");
	close(here);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: fsdirs DIR\n");
		return 2;
	}
	char dir[] = "fsdirs-XXXXXX";
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	printf("== host directory\n");
	cases();
	char shm[] = "/dev/shm/sbxdiff-fsdirs-XXXXXX";
	if (mkdtemp(shm) == NULL || chmod(shm, 0755) != 0 || chdir(shm) != 0) {
		perror("shmdir");
		return 2;
	}
	printf("== tmpfs\n");
	cases();
	return 0;
}
