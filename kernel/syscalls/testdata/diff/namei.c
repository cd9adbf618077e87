#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void list(const char *d) {
	DIR *dir = opendir(d);
	if (!dir) { printf("opendir %s: %s\n", d, errname(errno)); return; }
	char *names[64];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) && n < 64) names[n++] = strdup(e->d_name);
	closedir(dir);
	qsort(names, n, sizeof *names, cmp);
	printf("ls %s:", d);
	for (int i = 0; i < n; i++) printf(" %s", names[i]);
	printf("\n");
}

int main(void) {
	workdir("namei");
	struct stat st;
	char buf[PATH_MAX];
	CHECK(mkdir("d", 0755));
	CHECK(mkdir("d", 0755));
	CHECK(mkdir("d/e/f", 0755));
	CHECK(mkdir("", 0755));
	CHECK(close(open("d/file", O_CREAT | O_WRONLY, 0600)));
	CHECK(symlink("file", "d/sym"));
	CHECK(symlink("nowhere", "d/dangle"));
	CHECK(symlink("d/sym", "d/sym"));
	CHECK(symlink("", "empty"));
	CHECK(readlink("d/sym", buf, sizeof buf));
	CHECK(readlink("d/file", buf, sizeof buf));
	CHECK(readlink("d/sym", buf, 0));
	CHECK(lstat("d/sym", &st));
	printf("sym is link: %d size %ld\n", S_ISLNK(st.st_mode), (long)st.st_size);
	CHECK(stat("d/sym", &st));
	printf("sym target is reg: %d\n", S_ISREG(st.st_mode));
	CHECK(stat("d/dangle", &st));
	CHECK(open("d/sym", O_RDONLY | O_NOFOLLOW));
	CHECK(link("d/file", "d/hard"));
	CHECK(stat("d/file", &st));
	printf("nlink=%ld\n", (long)st.st_nlink);
	CHECK(link("d", "d2"));
	CHECK(link("d/file", "d/hard"));
	list("d");
	CHECK(rename("d/hard", "d/hard2"));
	CHECK(rename("d/missing", "d/x"));
	CHECK(rename("d", "d/sub"));
	CHECK(mkdir("d/sub", 0755));
	CHECK(rename("d/file", "d/sub"));
	CHECK(rename("d/sub", "d/file"));
	CHECK(renameat2(AT_FDCWD, "d/hard2", AT_FDCWD, "d/file", RENAME_NOREPLACE));
	CHECK(renameat2(AT_FDCWD, "d/hard2", AT_FDCWD, "d/file", RENAME_EXCHANGE));
	CHECK(rmdir("d"));
	CHECK(rmdir("d/file"));
	CHECK(unlink("d/sub"));
	CHECK(rmdir("d/sub/."));
	CHECK(rmdir("d/sub"));
	CHECK(unlink("d/hard2"));
	CHECK(unlink("d/hard2"));
	list("d");
	CHECK(chmod("d/file", 0640));
	CHECK(stat("d/file", &st));
	printf("mode=%o\n", st.st_mode);
	CHECK(access("d/file", R_OK | W_OK));
	CHECK(access("d/file", X_OK));
	CHECK(access("d/missing", F_OK));
	CHECK(access("d/file", 0x40));
	CHECK(truncate("d/file", 10));
	CHECK(stat("d/file", &st));
	printf("size=%ld\n", (long)st.st_size);
	CHECK(truncate("d", 1));
	CHECK(chdir("d"));
	CHECK(getcwd(buf, sizeof buf) != NULL);
	printf("cwd ends with /d: %d\n", strcmp(buf + strlen(buf) - 2, "/d") == 0);
	CHECK(getcwd(buf, 2) != NULL);
	CHECK(chdir("file"));
	CHECK(chdir(".."));
	int dfd;
	CHECK(dfd = open("d", O_RDONLY | O_DIRECTORY));
	CHECK(fstatat(dfd, "file", &st, 0));
	CHECK(fstatat(dfd, "sym", &st, AT_SYMLINK_NOFOLLOW));
	printf("link: %d\n", S_ISLNK(st.st_mode));
	CHECK(fstatat(dfd, "", &st, AT_EMPTY_PATH));
	printf("dir: %d\n", S_ISDIR(st.st_mode));
	CHECK(fstatat(dfd, "", &st, 0));
	CHECK(mkdirat(dfd, "m", 0700));
	CHECK(unlinkat(dfd, "m", 0));
	CHECK(unlinkat(dfd, "m", AT_REMOVEDIR));
	CHECK(unlinkat(dfd, "m", 0x12345));
	CHECK(openat(dfd, "file", O_RDONLY) >= 0);
	CHECK(fchdir(dfd));
	CHECK(open("file", O_RDONLY) >= 0);
	CHECK(mknod("fifo", S_IFIFO | 0644, 0));
	CHECK(lstat("fifo", &st));
	printf("fifo: %d\n", S_ISFIFO(st.st_mode));
	CHECK(mknod("chr", S_IFCHR | 0644, 0x0103));
	char longname[300];
	memset(longname, 'a', 299);
	longname[299] = 0;
	CHECK(open(longname, O_RDONLY));
	CHECK(mkdir(longname, 0755));
	char *deep = malloc(5000);
	memset(deep, 'b', 4999);
	deep[4999] = 0;
	CHECK(open(deep, O_RDONLY));
	CHECK(umask(077));
	CHECK(umask(022));
	CHECK(close(open("masked", O_CREAT | O_WRONLY, 0777)));
	CHECK(stat("masked", &st));
	printf("masked mode=%o\n", st.st_mode);
	return 0;
}
