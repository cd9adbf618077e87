/* sbx-diff: host-rw-dir
 * rename, link, unlink and rmdir in a host directory (served by the gofer): every name the
 * sandbox cached must follow the file. Renames onto existing names and across directories,
 * directories moved with their children, a replaced file that is still open, hard links
 * outliving the first name, descriptors and working directories inside moved directories,
 * and every documented error of rename(2). In a host directory and in the sandbox's /tmp. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#endif

static void put(const char *name, const char *s) {
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write(fd, s, strlen(s));
	close(fd);
}

static void show(const char *name) {
	char buf[128] = {0};
	errno = 0;
	int fd = open(name, O_RDONLY);
	if (fd < 0) {
		printf("read %s: %s\n", name, errname(errno));
		return;
	}
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	printf("read %s: %.*s\n", name, n > 0 ? n : 0, buf);
}

static void list(const char *dir) {
	DIR *d = opendir(dir);
	if (d == NULL) {
		printf("list %s: %s\n", dir, errname(errno));
		return;
	}
	char names[64][64];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 64)
		if (e->d_name[0] != '.')
			snprintf(names[n++], 64, "%s", e->d_name);
	closedir(d);
	/* sort for a stable listing */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) > 0) {
				char tmp[64];
				memcpy(tmp, names[i], 64);
				memcpy(names[i], names[j], 64);
				memcpy(names[j], tmp, 64);
			}
	printf("list %s:", dir);
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
}

static void mode(const char *name) {
	struct stat st;
	if (stat(name, &st) != 0) {
		printf("mode %s: %s\n", name, errname(errno));
		return;
	}
	printf("mode %s: %o nlink %lu\n", name, st.st_mode & 07777, (unsigned long)st.st_nlink);
}

static void cases(void) {
	char top[4096];
	getcwd(top, sizeof top);

	/* Onto an existing name, in one directory: the write-temp-then-rename save. */
	put("file", "old");
	show("file");
	mode("file");
	put("file.tmp", "new");
	CHECK(rename("file.tmp", "file"));
	show("file");
	show("file.tmp");
	CHECK(chmod("file", 0600));
	mode("file");
	CHECK(truncate("file", 2));
	show("file");
	for (int i = 0; i < 20; i++) {
		char s[16];
		snprintf(s, sizeof s, "v%d", i);
		put("save.tmp", s);
		if (rename("save.tmp", "save") != 0)
			printf("save %d: %s\n", i, errname(errno));
	}
	show("save");

	/* Into another directory, onto an existing name and not. */
	CHECK(mkdir("a", 0755));
	CHECK(mkdir("b", 0755));
	put("a/x", "ax");
	put("a/y", "ay");
	put("b/y", "by");
	show("a/x");
	show("b/y");
	CHECK(rename("a/x", "b/x"));
	CHECK(rename("a/y", "b/y"));
	show("b/x");
	show("b/y");
	show("a/x");
	CHECK(chmod("b/y", 0640));
	mode("b/y");
	list("a");
	list("b");

	/* A directory with children, walked before the move. */
	CHECK(mkdir("d", 0755));
	CHECK(mkdir("d/sub", 0755));
	put("d/f", "df");
	put("d/sub/g", "dsubg");
	show("d/f");
	show("d/sub/g");
	list("d");
	int dfd = open("d", O_RDONLY | O_DIRECTORY);
	CHECK(rename("d", "b/moved"));
	list("b/moved");
	list("b/moved/sub");
	show("b/moved/f");
	show("b/moved/sub/g");
	show("d/f");
	list("d");
	CHECK(chmod("b/moved/sub/g", 0600));
	mode("b/moved/sub/g");
	/* a descriptor of the moved directory still names it */
	int fd = openat(dfd, "created", O_CREAT | O_WRONLY, 0644);
	CHECK(fd);
	write(fd, "via fd", 6);
	close(fd);
	show("b/moved/created");
	close(dfd);
	/* a working directory inside a moved directory moves with it */
	CHECK(chdir("b/moved/sub"));
	char path[4096];
	CHECK(rename("../../../b/moved", "../../../moved2"));
	getcwd(path, sizeof path);
	printf("cwd below top: %s\n", path + strlen(top));
	show("g");
	put("h", "h");
	CHECK(chdir(top));
	list("moved2/sub");
	/* onto an empty directory, which it replaces */
	CHECK(mkdir("empty", 0755));
	CHECK(rename("moved2", "empty"));
	list("empty");
	list("empty/sub");
	list("moved2");

	/* Replacing a file that is open. */
	put("open", "before");
	put("open.new", "after");
	int ofd = open("open", O_RDONLY);
	CHECK(rename("open.new", "open"));
	char buf[32] = {0};
	CHECK(pread(ofd, buf, sizeof buf, 0));
	printf("open fd reads: %s\n", buf);
	struct stat st;
	CHECK(fstat(ofd, &st));
	printf("open fd nlink %lu\n", (unsigned long)st.st_nlink);
	CHECK(fchmod(ofd, 0604));
	CHECK(fstat(ofd, &st));
	printf("replaced file mode %o\n", st.st_mode & 07777);
	show("open");
	mode("open");
	close(ofd);

	/* Unlink of an open file; links outliving the first name. */
	put("u", "unlinked");
	int ufd = open("u", O_RDWR);
	CHECK(unlink("u"));
	CHECK(fstat(ufd, &st));
	printf("unlinked nlink %lu\n", (unsigned long)st.st_nlink);
	memset(buf, 0, sizeof buf);
	CHECK(pread(ufd, buf, sizeof buf, 0));
	printf("unlinked reads: %s\n", buf);
	CHECK(ftruncate(ufd, 3));
	CHECK(fstat(ufd, &st));
	printf("unlinked size %ld\n", (long)st.st_size);
	close(ufd);
	show("u");
	put("l1", "linked");
	CHECK(link("l1", "l2"));
	mode("l1");
	CHECK(unlink("l1"));
	show("l2");
	CHECK(chmod("l2", 0600));
	mode("l2");
	CHECK(link("l2", "a/l3"));
	CHECK(rename("l2", "a/l3"));
	mode("l2");
	mode("a/l3");
	CHECK(rename("a/l3", "l4"));
	show("l4");
	show("a/l3");

	/* rmdir, then the name reused. */
	CHECK(mkdir("gone", 0755));
	list("gone");
	CHECK(rmdir("gone"));
	list("gone");
	put("gone", "now a file");
	show("gone");

	/* Errors. */
	CHECK(mkdir("p", 0755));
	CHECK(mkdir("p/q", 0755));
	put("p/q/r", "r");
	CHECK(rename("p", "p/q/p"));
	CHECK(rename("p", "p/new"));
	CHECK(rename("p/q", "p"));
	CHECK(rename("l4", "p"));
	CHECK(rename("p", "l4"));
	CHECK(rename("missing", "x"));
	CHECK(rename("l4", "missing/x"));
	CHECK(rename("l4/", "x"));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "l4", AT_FDCWD, "gone", RENAME_NOREPLACE));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "l4", AT_FDCWD, "missing", RENAME_EXCHANGE));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "l4", AT_FDCWD, "p", RENAME_EXCHANGE));
	show("p");
	list("l4");
	show("l4/q/r");
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "l4", AT_FDCWD, "p", RENAME_EXCHANGE));
	show("l4");
	list("p");
	CHECK(rmdir("p"));
	CHECK(unlink("p"));
	CHECK(rmdir("l4"));
	list(".");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: hostrename DIR\n");
		return 2;
	}
	char dir[] = "hostrename-XXXXXX";
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0 || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	printf("host directory\n");
	cases();
	workdir("hostrename");
	printf("/tmp\n");
	cases();
	return 0;
}
