/* chroot(2): root only (CAP_SYS_CHROOT), the error cases, paths resolved from the new
 * root, ".." stopping at it, getcwd of a directory outside it ("(unreachable)"), and
 * children inheriting it. Chromium's and Firefox's sandboxes chroot their children. */
#include "common.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int main(void) {
	char dir[] = "/tmp/sbx-chroot-XXXXXX", path[256], cwd[256];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/sub/file", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	CHECK(chroot("/nonexistent"));
	CHECK(chroot(path));
	CHECK(chroot((char *)8));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		errno = 0;
		if (chroot(dir) < 0) {
			printf("chroot: %s\n", errname(errno));
			fflush(stdout);
			_exit(0);
		}
		long n = syscall(SYS_getcwd, cwd, sizeof cwd); /* the raw call: glibc hides this case */
		printf("cwd outside the root: %s\n", n > 0 && !strncmp(cwd, "(unreachable)/", 14) ? "(unreachable)/..." : "?");
		CHECK(access("/sub/file", F_OK));
		CHECK(access("/tmp", F_OK));
		CHECK(chdir("/sub"));
		printf("cwd %s\n", getcwd(cwd, sizeof cwd));
		CHECK(chdir("../../.."));
		printf("cwd %s\n", getcwd(cwd, sizeof cwd));
		CHECK(access("sub/file", F_OK));
		struct stat a, b;
		stat("/", &a);
		stat("/..", &b);
		printf("/.. is /: %d\n", a.st_ino == b.st_ino);
		fflush(stdout);
		if (fork() == 0) {
			CHECK(access("/sub/file", F_OK));
			fflush(stdout);
			_exit(0);
		}
		wait(0);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, 0, 0);
	unlink(path);
	snprintf(path, sizeof path, "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
	return 0;
}
