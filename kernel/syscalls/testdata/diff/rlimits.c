/* Resource limits are inherited: the sandbox's first process has the limits sbx was started
 * with (ulimit -n inside is ulimit -n outside), children get their parent's across fork and
 * execve, a lowered limit stays lowered, and only privilege raises a hard limit. */
#include "common.h"
#include <sys/resource.h>
#include <sys/wait.h>

static const char *names[] = {"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS",
	"LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};

static void show(const char *who) {
	for (int r = 0; r < 16; r++) {
		struct rlimit l;
		if (getrlimit(r, &l) != 0) {
			printf("%s %s: %s\n", who, names[r], errname(errno));
			continue;
		}
		printf("%s %s: %lld %lld\n", who, names[r], l.rlim_cur == RLIM_INFINITY ? -1LL : (long long)l.rlim_cur,
			l.rlim_max == RLIM_INFINITY ? -1LL : (long long)l.rlim_max);
	}
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1) {
		show("after exec");
		return 0;
	}
	show("start");
	struct rlimit l;
	getrlimit(RLIMIT_NOFILE, &l);
	struct rlimit low = {l.rlim_cur > 64 ? 64 : l.rlim_cur, l.rlim_max};
	CHECK(setrlimit(RLIMIT_NOFILE, &low));
	struct rlimit core = {0, 0};
	CHECK(setrlimit(RLIMIT_CORE, &core));
	pid_t c = fork();
	if (c == 0) {
		show("child");
		execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(c, &st, 0);
	struct rlimit up = {1, RLIM_INFINITY};
	errno = 0;
	int r = setrlimit(RLIMIT_CORE, &up);
	printf("raising a hard limit: %s (privileged %d)\n", r == 0 ? "OK" : errname(errno), geteuid() == 0);
	struct rlimit bad = {10, 5};
	CHECK(setrlimit(RLIMIT_NOFILE, &bad));
	CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &l));
	printf("prlimit NOFILE: %lld %lld\n", (long long)l.rlim_cur, (long long)l.rlim_max);
	return 0;
}
