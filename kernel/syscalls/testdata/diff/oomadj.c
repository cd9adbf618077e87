/* /proc/PID/oom_score_adj, oom_adj and oom_score (proc(5)): writes in range set the
 * value, EINVAL out of range or malformed (kstrtoint, base 0), lowering below the
 * minimum takes CAP_SYS_RESOURCE (root here; uid 65534 gets EACCES), oom_adj scales onto
 * oom_score_adj and any lowering through it takes the capability, fork children inherit
 * the value, a process may set another's of the same user, and oom_score follows
 * oom_score_adj (0 at -1000). */
#include "common.h"
#include <fcntl.h>
#include <sys/wait.h>

static char path[64];

static const char *readf(const char *name) {
	static char buf[64];
	snprintf(path, sizeof path, "/proc/self/%s", name);
	int fd = open(path, O_RDONLY);
	if (fd < 0) return errname(errno);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *nl = strchr(buf, '\n');
	if (nl) *nl = 0;
	return buf;
}

static void writef(const char *file, const char *v, size_t len) {
	int fd = open(file, O_WRONLY);
	if (fd < 0) { printf("  open %s: %s\n", file, errname(errno)); return; }
	ssize_t n = write(fd, v, len);
	printf("  write %-24s %-14s -> %zd %s; adj %s", file + strlen("/proc/"), v[0] ? v : "(empty)", n, n < 0 ? errname(errno) : "",
	       readf("oom_score_adj"));
	printf(" oom_adj %s\n", readf("oom_adj"));
	close(fd);
}

static void set(const char *name, const char *v) {
	snprintf(path, sizeof path, "/proc/self/%s", name);
	char p[64];
	snprintf(p, sizeof p, "%s", path);
	writef(p, v, strlen(v));
}

static void score(void) {
	int adj = atoi(readf("oom_score_adj")), s = atoi(readf("oom_score"));
	int want = (1000 + adj) * 2 / 3;
	if (adj == -1000) printf("  oom_score at -1000: %d\n", s);
	else printf("  oom_score within 1 of (1000+adj)*2/3: %s\n", s >= want - 1 && s <= want + 1 ? "yes" : "no");
}

int main(void) {
	int start = atoi(readf("oom_score_adj"));
	printf("start: oom_score_adj %d oom_adj %s\n", start, readf("oom_adj"));
	score();
	set("oom_score_adj", "500");
	score();
	set("oom_score_adj", "1000");
	score();
	set("oom_score_adj", "1001");
	set("oom_score_adj", "-1001");
	set("oom_score_adj", "abc");
	set("oom_score_adj", "");
	set("oom_score_adj", "12a");
	set("oom_score_adj", "99999999999");
	set("oom_score_adj", "0x10");
	set("oom_score_adj", "010");
	set("oom_score_adj", "09");
	set("oom_score_adj", " 20 \n");
	set("oom_score_adj", "+30");
	set("oom_score_adj", "  300       x");
	set("oom_score_adj", "100");
	set("oom_score_adj", "-1");
	score();
	set("oom_score_adj", "-1000");
	score();
	set("oom_score_adj", "200");
	set("oom_adj", "16");
	set("oom_adj", "-18");
	set("oom_adj", "15");
	set("oom_adj", "3");
	set("oom_adj", "-17");
	set("oom_adj", "-16");
	set("oom_score_adj", "600");

	fflush(stdout);
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		printf("child inherits: %s\n", readf("oom_score_adj"));
		set("oom_score_adj", "700");
		char pp[64];
		snprintf(pp, sizeof pp, "/proc/%d/oom_score_adj", parent);
		int fd = open(pp, O_WRONLY);
		if (fd < 0) printf("  open parent's: %s\n", errname(errno));
		else {
			ssize_t n = write(fd, "800", 3);
			printf("  write parent's 800 -> %zd %s\n", n, n < 0 ? errname(errno) : "");
			close(fd);
		}
		fflush(stdout);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	printf("parent after child: %s\n", readf("oom_score_adj"));
	return 0;
}
