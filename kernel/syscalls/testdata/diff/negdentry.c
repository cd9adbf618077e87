/* sbx-diff: host-rw-dir
 * Lookups of missing names, repeated (sbx caches misses in host directories), then every
 * way a name appears or goes inside the sandbox: open(O_CREAT), mkdir, mknod (FIFO),
 * symlink, link, rename (plain, RENAME_NOREPLACE, over an existing name, exchange),
 * unlink and rmdir, each followed by lookups of the names involved (path_resolution(7)). */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static void look(const char *what, const char *p) {
	struct stat st;
	for (int i = 0; i < 3; i++) {
		int r = lstat(p, &st);
		if (i == 2) printf("%-28s %-12s %s\n", what, p, r == 0 ? "present" : errname(errno));
	}
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: negdentry DIR\n");
		return 2;
	}
	char dir[] = "neg-XXXXXX";
	if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	umask(022);
	const char *names[] = {"f", "d", "fifo", "sym", "hard", "g", "d/in", "x/y"};
	for (int i = 0; i < 8; i++) look("before", names[i]);
	int fd = open("f", O_CREAT | O_WRONLY, 0644);
	close(fd);
	look("after open(O_CREAT)", "f");
	mkdir("d", 0755);
	look("after mkdir", "d");
	look("after mkdir", "d/in");
	close(open("d/in", O_CREAT | O_WRONLY, 0644));
	look("after create in d", "d/in");
	mknod("fifo", S_IFIFO | 0644, 0);
	look("after mknod", "fifo");
	symlink("f", "sym");
	look("after symlink", "sym");
	link("f", "hard");
	look("after link", "hard");
	rename("f", "g");
	look("after rename f g", "f");
	look("after rename f g", "g");
	look("before renameat2", "f2");
	close(open("h", O_CREAT | O_WRONLY, 0644));
	printf("renameat2 NOREPLACE h f2: %s\n", syscall(SYS_renameat2, AT_FDCWD, "h", AT_FDCWD, "f2", 1) == 0 ? "OK" : errname(errno));
	look("after renameat2 NOREPLACE", "h");
	look("after renameat2 NOREPLACE", "f2");
	printf("renameat2 EXCHANGE g f2: %s\n", syscall(SYS_renameat2, AT_FDCWD, "g", AT_FDCWD, "f2", 2) == 0 ? "OK" : errname(errno));
	look("after exchange", "g");
	look("after exchange", "f2");
	rename("hard", "g");
	look("after rename over", "hard");
	look("after rename over", "g");
	unlink("g");
	look("after unlink", "g");
	close(open("g", O_CREAT | O_WRONLY, 0644));
	look("after create again", "g");
	unlink("d/in");
	rmdir("d");
	look("after rmdir", "d");
	look("after rmdir", "d/in");
	mkdir("d", 0755);
	look("after mkdir again", "d");
	look("after mkdir again", "d/in");
	mkdir("x", 0755);
	look("after mkdir x", "x/y");
	rename("d", "x/y");
	look("after rename d x/y", "x/y");
	look("after rename d x/y", "d");
	unlink("f2"); unlink("g"); unlink("fifo"); unlink("sym"); rmdir("x/y"); rmdir("x");
	chdir("..");
	printf("cleanup: %s\n", rmdir(dir) == 0 ? "OK" : errname(errno));
	return 0;
}
