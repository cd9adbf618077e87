/* execve edge cases: argument and environment limits (E2BIG per string and in total,
 * RLIMIT_STACK), ENOEXEC, EACCES, ENOENT/ENOTDIR, shebang lines (arguments, recursion
 * to ELOOP, missing interpreter, overlong lines), execveat (AT_EMPTY_PATH, O_PATH, a
 * close-on-exec script fd), close-on-exec descriptors, what exec keeps and resets
 * (dispositions, mask, pending signals, the alternate stack), and exec from a thread
 * other than the leader (the others die, the process keeps its PID). */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static char self[4096];

/* run forks, lets fn exec, and reports the errno of a failed exec or the child's exit. */
static void run(const char *what, void (*fn)(void *), void *arg) {
	int p[2];
	pipe2(p, O_CLOEXEC);
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		fn(arg);
		int e = errno;
		write(p[1], &e, sizeof e);
		_exit(127);
	}
	close(p[1]);
	int e = 0;
	int n = read(p[0], &e, sizeof e);
	close(p[0]);
	int st;
	waitpid(c, &st, 0);
	if (n == sizeof e) printf("%-44s: exec failed %s\n", what, errname(e));
	else if (WIFEXITED(st)) printf("%-44s: exit %d\n", what, WEXITSTATUS(st));
	else printf("%-44s: signal %d\n", what, WTERMSIG(st));
	fflush(stdout);
}

static void exec_path(void *a) {
	char *argv[] = {a, NULL};
	execve(a, argv, (char *[]){NULL});
}

static char *bigarg;
static void exec_bigarg(void *a) {
	char *argv[] = {"/bin/true", bigarg, NULL};
	execve("/bin/true", argv, (char *[]){NULL});
}
static void exec_bigenv(void *a) {
	char *argv[] = {"/bin/true", NULL};
	char *envp[] = {bigarg, NULL};
	execve("/bin/true", argv, envp);
}
static void exec_many(void *a) {
	long n = (long)a;
	char **argv = calloc(n + 2, sizeof *argv);
	argv[0] = "/bin/true";
	for (long i = 1; i <= n; i++) argv[i] = bigarg;
	struct rlimit rl = {1 << 20, 1 << 20};
	setrlimit(RLIMIT_STACK, &rl);   /* limit: a quarter of the stack, at least 128 KiB */
	execve("/bin/true", argv, (char *[]){NULL});
}
static void exec_badargv(void *a) { execve("/bin/true", (char **)1, NULL); }
static void exec_badarg(void *a) { execve("/bin/true", (char *[]){"/bin/true", (char *)1, NULL}, NULL); }
static void exec_badpath(void *a) { execve((char *)1, (char *[]){NULL}, NULL); }

static void writefile(const char *name, const char *s, int mode) {
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, mode);
	write(fd, s, strlen(s));
	close(fd);
	chmod(name, mode);
}

/* exec_script runs a script and prints what it writes (its interpreter's argv). */
static void script_output(const char *what, const char *path, char *const argv[]) {
	int p[2];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execv(path, argv);
		printf("exec failed %s\n", errname(errno));
		_exit(127);
	}
	close(p[1]);
	char buf[1024];
	int n = 0, r;
	while ((r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0) n += r;
	buf[n] = 0;
	close(p[0]);
	waitpid(c, NULL, 0);
	for (char *q = buf; *q; q++) if (*q == '\n') *q = '|';
	/* the directory is per run: show its paths as ./name */
	char cwd[512];
	getcwd(cwd, sizeof cwd);
	char out[1024] = "";
	for (char *q = buf; *q;) {
		if (strncmp(q, cwd, strlen(cwd)) == 0) { strcat(out, "."); q += strlen(cwd); continue; }
		strncat(out, q, 1);
		q++;
	}
	printf("%-44s: %s\n", what, out);
}

static void scripts(void) {
	workdir("execedge");
	char cwd[512], buf[1024];
	getcwd(cwd, sizeof cwd);
	writefile("garbage", "\x01\x02\x03 this is not an executable\n", 0755);
	run("garbage file", exec_path, "./garbage");
	writefile("empty", "", 0755);
	run("empty file", exec_path, "./empty");
	writefile("noexec", "#!/bin/sh\nexit 3\n", 0644);
	run("no exec bit", exec_path, "./noexec");
	writefile("ok.sh", "#!/bin/sh\nexit 3\n", 0755);
	run("shell script", exec_path, "./ok.sh");
	writefile("spaces.sh", "#!   /bin/sh   \nexit 4\n", 0755);
	run("shebang with spaces", exec_path, "./spaces.sh");
	writefile("tab.sh", "#!\t/bin/sh\t-e\nexit 5\n", 0755);
	run("shebang with tab and arg", exec_path, "./tab.sh");
	writefile("missing.sh", "#!/nonexistent/interp\n", 0755);
	run("missing interpreter", exec_path, "./missing.sh");
	writefile("dirinterp.sh", "#!/tmp\n", 0755);
	run("interpreter is a directory", exec_path, "./dirinterp.sh");
	writefile("emptyinterp.sh", "#!\n", 0755);
	run("empty shebang", exec_path, "./emptyinterp.sh");
	writefile("blankinterp.sh", "#!    \n", 0755);
	run("blank shebang", exec_path, "./blankinterp.sh");
	char longline[400] = "#!/bin/sh";
	memset(longline + 9, ' ', 300);
	strcpy(longline + 309, "x\n");
	writefile("longargs.sh", longline, 0755);
	run("long shebang (args truncated)", exec_path, "./longargs.sh");
	char longinterp[400] = "#!/";
	memset(longinterp + 3, 'a', 300);
	strcpy(longinterp + 303, "\n");
	writefile("longinterp.sh", longinterp, 0755);
	run("interpreter name past 256 bytes", exec_path, "./longinterp.sh");
	writefile("echo.sh", "#!/bin/echo  one two  \n", 0755);
	script_output("shebang argument", "./echo.sh", (char *[]){"zero", "a1", NULL});
	snprintf(buf, sizeof buf, "#!%s/echo.sh x\n", cwd);
	writefile("nested.sh", buf, 0755);
	script_output("script interpreting script", "./nested.sh", (char *[]){"n0", NULL});
	/* recursion: chain of scripts, each interpreting the next */
	for (int depth = 1; depth <= 7; depth++) {
		char name[64];
		for (int i = 0; i < depth; i++) {
			snprintf(name, sizeof name, "chain%d_%d", depth, i);
			if (i == depth - 1) snprintf(buf, sizeof buf, "#!/bin/echo end\n");
			else snprintf(buf, sizeof buf, "#!%s/chain%d_%d\n", cwd, depth, i + 1);
			writefile(name, buf, 0755);
		}
		char what[64];
		snprintf(what, sizeof what, "script chain of %d", depth);
		snprintf(name, sizeof name, "./chain%d_0", depth);
		script_output(what, name, (char *[]){"c", NULL});
	}
	snprintf(buf, sizeof buf, "#!%s/self.sh\n", cwd);
	writefile("self.sh", buf, 0755);
	run("script interpreting itself", exec_path, "./self.sh");
	run("directory", exec_path, "/tmp");
	run("missing file", exec_path, "./nonexistent");
	run("file as directory", exec_path, "./ok.sh/x");
	run("empty path", exec_path, "");
	run("bad path pointer", exec_badpath, NULL);
	run("bad argv pointer", exec_badargv, NULL);
	run("bad argv string", exec_badarg, NULL);
	mkdir("sub", 0755);
	writefile("sub/t.sh", "#!/bin/sh\nexit 6\n", 0755);
	chmod("sub", 0644);
	if (getuid() != 0) run("search permission denied", exec_path, "./sub/t.sh");
	else printf("%-44s: (root)\n", "search permission denied");
	chmod("sub", 0755);

	/* execveat */
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	errno = 0;
	pid_t c = fork();
	if (c == 0) { syscall(SYS_execveat, dfd, "ok.sh", (char *[]){"ok", NULL}, (char *[]){NULL}, 0); _exit(100 + errno); }
	int st;
	waitpid(c, &st, 0);
	printf("execveat relative: exit %d\n", WEXITSTATUS(st));
	int fd = open("ok.sh", O_RDONLY);
	c = fork();
	if (c == 0) { syscall(SYS_execveat, fd, "", (char *[]){"ok", NULL}, (char *[]){NULL}, AT_EMPTY_PATH); _exit(100 + errno); }
	waitpid(c, &st, 0);
	printf("execveat AT_EMPTY_PATH script: exit %d\n", WEXITSTATUS(st));
	int pfd = open("ok.sh", O_PATH);
	c = fork();
	if (c == 0) { syscall(SYS_execveat, pfd, "", (char *[]){"ok", NULL}, (char *[]){NULL}, AT_EMPTY_PATH); _exit(100 + errno); }
	waitpid(c, &st, 0);
	printf("execveat O_PATH script: exit %d\n", WEXITSTATUS(st));
	int cfd = open("ok.sh", O_RDONLY | O_CLOEXEC);
	c = fork();
	if (c == 0) { syscall(SYS_execveat, cfd, "", (char *[]){"ok", NULL}, (char *[]){NULL}, AT_EMPTY_PATH); _exit(100 + errno); }
	waitpid(c, &st, 0);
	printf("execveat close-on-exec script fd: exit %d (%d = ENOENT)\n", WEXITSTATUS(st), 100 + ENOENT);
	c = fork();
	if (c == 0) { syscall(SYS_execveat, fd, "", (char *[]){"ok", NULL}, (char *[]){NULL}, 0); _exit(100 + errno); }
	waitpid(c, &st, 0);
	printf("execveat empty path without flag: exit %d\n", WEXITSTATUS(st));
	c = fork();
	if (c == 0) { syscall(SYS_execveat, dfd, "ok.sh", (char *[]){"ok", NULL}, (char *[]){NULL}, 0x40000); _exit(100 + errno); }
	waitpid(c, &st, 0);
	printf("execveat bad flags: exit %d\n", WEXITSTATUS(st));
	symlink("ok.sh", "link.sh");
	c = fork();
	if (c == 0) { syscall(SYS_execveat, dfd, "link.sh", (char *[]){"ok", NULL}, (char *[]){NULL}, AT_SYMLINK_NOFOLLOW); _exit(100 + errno); }
	waitpid(c, &st, 0);
	printf("execveat symlink NOFOLLOW: exit %d\n", WEXITSTATUS(st));
	c = fork();
	if (c == 0) { syscall(SYS_execveat, 999, "ok.sh", (char *[]){"ok", NULL}, (char *[]){NULL}, 0); _exit(100 + errno); }
	waitpid(c, &st, 0);
	printf("execveat bad dirfd relative: exit %d\n", WEXITSTATUS(st));
	/* AT_EXECVE_CHECK: the checks of opening the program, no execution */
	const char *names[] = {"ok.sh", "garbage", "empty", "noexec", "sub", "nonexistent", "link.sh", "missing.sh"};
	for (int i = 0; i < 8; i++) {
		errno = 0;
		long r = syscall(SYS_execveat, dfd, names[i], (char *[]){"x", NULL}, (char *[]){NULL}, 0x10000);
		printf("AT_EXECVE_CHECK %-12s = %ld %s\n", names[i], r, r < 0 ? errname(errno) : "OK");
	}
	errno = 0;
	long r = syscall(SYS_execveat, dfd, "link.sh", (char *[]){"x", NULL}, (char *[]){NULL}, 0x10000 | AT_SYMLINK_NOFOLLOW);
	printf("AT_EXECVE_CHECK nofollow link = %ld %s\n", r, r < 0 ? errname(errno) : "OK");
	errno = 0;
	r = syscall(SYS_execveat, fd, "", (char *[]){"x", NULL}, (char *[]){NULL}, 0x10000 | AT_EMPTY_PATH);
	printf("AT_EXECVE_CHECK empty path fd = %ld %s\n", r, r < 0 ? errname(errno) : "OK");
	close(fd); close(pfd); close(cfd); close(dfd);
}

static void limits(void) {
	bigarg = malloc(200000);
	memset(bigarg, 'a', 199999);
	bigarg[199999] = 0;
	bigarg[131071] = 0;     /* 131071 characters: the largest string */
	run("arg of 131071 chars", exec_bigarg, NULL);
	run("env of 131071 chars", exec_bigenv, NULL);
	bigarg[131071] = 'a';
	bigarg[131072] = 0;     /* one more */
	run("arg of 131072 chars", exec_bigarg, NULL);
	run("env of 131072 chars", exec_bigenv, NULL);
	bigarg[100000] = 0;
	run("2 args of 100000 (stack 1 MiB)", exec_many, (void *)2);
	run("3 args of 100000 (stack 1 MiB)", exec_many, (void *)3);
}

/* The child side of the re-exec checks: argv[1] names what to report. */
static int child_main(int argc, char **argv) {
	if (strcmp(argv[1], "fds") == 0) {
		printf("child: fd 10 open=%d fd 11 open=%d\n", fcntl(10, F_GETFD) >= 0, fcntl(11, F_GETFD) >= 0);
	} else if (strcmp(argv[1], "signals") == 0) {
		struct sigaction a;
		sigaction(SIGUSR1, NULL, &a);
		printf("child: handled->default=%d", a.sa_handler == SIG_DFL);
		sigaction(SIGUSR2, NULL, &a);
		printf(" ignored kept=%d", a.sa_handler == SIG_IGN);
		sigaction(SIGCHLD, NULL, &a);
		printf(" sigchld ignored kept=%d", a.sa_handler == SIG_IGN);
		sigset_t m, p;
		sigprocmask(SIG_BLOCK, NULL, &m);
		sigpending(&p);
		printf(" mask kept=%d pending kept=%d", sigismember(&m, SIGHUP), sigismember(&p, SIGHUP));
		stack_t ss;
		sigaltstack(NULL, &ss);
		printf(" altstack flags=%d size=%zu\n", ss.ss_flags, ss.ss_size);
	} else if (strcmp(argv[1], "thread") == 0) {
		int n = 0;
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
		closedir(d);
		printf("child: pid kept=%d tid==pid=%d threads=%d\n", getpid() == atoi(argv[2]), gettid() == getpid(), n);
	}
	return 0;
}

static void *spin(void *a) { for (;;) pause(); }
static void *exec_thread(void *a) {
	char pid[32];
	snprintf(pid, sizeof pid, "%d", getpid());
	execl(self, self, "thread", pid, (char *)NULL);
	return NULL;
}

static void reexec(void) {
	pid_t c = fork();
	if (c == 0) {
		int fd = open("/dev/null", O_RDONLY);
		dup2(fd, 10);
		dup3(fd, 11, O_CLOEXEC);
		execl(self, self, "fds", (char *)NULL);
		_exit(127);
	}
	waitpid(c, NULL, 0);
	c = fork();
	if (c == 0) {
		signal(SIGUSR1, spin ? (void (*)(int))spin : SIG_DFL);
		signal(SIGUSR2, SIG_IGN);
		signal(SIGCHLD, SIG_IGN);
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGHUP);
		sigprocmask(SIG_BLOCK, &m, NULL);
		kill(getpid(), SIGHUP);
		static char stk[65536];
		stack_t ss = {.ss_sp = stk, .ss_size = sizeof stk};
		sigaltstack(&ss, NULL);
		execl(self, self, "signals", (char *)NULL);
		_exit(127);
	}
	waitpid(c, NULL, 0);
	c = fork();
	if (c == 0) {
		pthread_t t1, t2;
		pthread_create(&t1, NULL, spin, NULL);
		pthread_create(&t2, NULL, exec_thread, NULL);
		for (;;) pause();
	}
	int st;
	waitpid(c, &st, 0);
	printf("thread exec: exited=%d\n", WIFEXITED(st));
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1) return child_main(argc, argv);
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = 0;
	reexec();
	limits();
	scripts();
	return 0;
}
