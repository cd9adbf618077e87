/* procfs as Linux formats it (proc(5)): field names, field counts and formats of
 * /proc/self/{status,stat,statm,maps,limits,io,wchan,oom_*,cmdline,mountinfo,mounts},
 * /proc/self/task/TID/*, /proc/{meminfo,stat,loadavg,uptime}, directory link counts,
 * and the /proc/sys values programs read. Values that differ between runs are checked
 * for plausibility against what the process knows (its PID, threads, masks, limits). */
#include "common.h"
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static char *slurp(const char *path) {
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	if (!f) { snprintf(buf, sizeof buf, "(cannot open: %s)", errname(errno)); return buf; }
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void keys(const char *path) {
	char *s = slurp(path), *line, *save;
	printf("%s keys:", path);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c = strchr(line, ':');
		if (c) { *c = 0; printf(" %s", line); }
	}
	printf("\n");
}

static const char *field(const char *path, const char *key) {
	static char val[4096];
	char *s = slurp(path), *line, *save;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(key);
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			snprintf(val, sizeof val, "%s", line + n + 1);
			return val;
		}
	}
	return "(missing)";
}

static int nlink(const char *path) {
	struct stat st;
	if (stat(path, &st) != 0) return -1;
	return (int)st.st_nlink;
}

/* statfields parses a stat line: the fields after "(comm)" and their count. */
static int statfields(const char *path, long *f, int max) {
	char *s = slurp(path);
	char *r = strrchr(s, ')');
	if (!r) return -1;
	f[0] = atol(s);
	int n = 2;
	char *p = r + 2;
	while (*p && n < max) {
		if (n == 2) { f[2] = *p; p += 2; n++; continue; }
		f[n++] = strtol(p, &p, 10);
		while (*p == ' ') p++;
		if (*p == '\n') break;
	}
	return n;
}

/* smaps prints the field names of /proc/self/smaps' first mapping, and checks that every
 * mapping of maps has its block there, with Size matching the range. */
static void smaps(void) {
	FILE *f = fopen("/proc/self/smaps", "r");
	if (f == NULL) { printf("smaps: %s\n", errname(errno)); return; }
	char line[512];
	int blocks = 0, fields = 0, sizes_ok = 1;
	unsigned long lo = 0, hi = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, ' ') - line == strcspn(line, " ")) {
			if (line[strcspn(line, "-")] == '-' && strchr(line, ':') != NULL && strstr(line, " kB") == NULL) {
				blocks++;
				lo = a, hi = b;
				continue;
			}
		}
		char name[64];
		long v;
		if (sscanf(line, "%63[^:]: %ld", name, &v) >= 1) {
			if (blocks == 1 && strcmp(name, "VmFlags") != 0) {
				printf("smaps field %s\n", name);
				fields++;
			}
			if (strcmp(name, "Size") == 0 && (unsigned long)v != (hi - lo) / 1024) sizes_ok = 0;
		}
	}
	fclose(f);
	f = fopen("/proc/self/maps", "r");
	int maps = 0;
	while (fgets(line, sizeof line, f) != NULL) maps++;
	fclose(f);
	printf("smaps: %d fields, a block per mapping %d, sizes match %d\n", fields, blocks == maps, sizes_ok);
}

static volatile int stop;
static void *spin(void *a) { (void)a; while (!stop) usleep(1000); return NULL; }
static void on_usr2(int s) { (void)s; }

int main(int argc, char **argv) {
	(void)argc;
	setvbuf(stdout, NULL, _IONBF, 0);
	umask(027);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGUSR2, on_usr2);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_DFL);
	pthread_t th[2];
	pthread_create(&th[0], NULL, spin, NULL);
	pthread_create(&th[1], NULL, spin, NULL);

	printf("status\n");
	keys("/proc/self/status");
	printf("  Umask%s\n", field("/proc/self/status", "Umask"));
	printf("  Threads%s\n", field("/proc/self/status", "Threads"));
	printf("  Pid is getpid %d\n", atoi(field("/proc/self/status", "Pid")) == getpid());
	printf("  PPid is getppid %d\n", atoi(field("/proc/self/status", "PPid")) == getppid());
	unsigned long long blk = strtoull(field("/proc/self/status", "SigBlk"), NULL, 16);
	unsigned long long ign = strtoull(field("/proc/self/status", "SigIgn"), NULL, 16);
	unsigned long long cgt = strtoull(field("/proc/self/status", "SigCgt"), NULL, 16);
	unsigned long long bit[] = {1ULL << (SIGUSR1 - 1), 1ULL << (SIGUSR2 - 1), 1ULL << (SIGPIPE - 1), 1ULL << (SIGHUP - 1)};
	printf("  USR1 blocked %d, USR2 caught %d, PIPE ignored %d, HUP default %d\n", !!(blk & bit[0]), !!(cgt & bit[1]),
	       !!(ign & bit[2]), !(ign & bit[3]) && !(cgt & bit[3]));
	uid_t ru, eu, su;
	getresuid(&ru, &eu, &su);
	char want[128];
	snprintf(want, sizeof want, "\t%u\t%u\t%u\t%u", ru, eu, su, eu);
	printf("  Uid matches %d\n", strcmp(field("/proc/self/status", "Uid"), want) == 0);
	gid_t gs[64];
	int ng = getgroups(64, gs);
	char g[1024] = "\t";
	for (int i = 0; i < ng; i++) snprintf(g + strlen(g), sizeof g - strlen(g), "%s%u", i ? " " : "", gs[i]);
	strcat(g, " ");
	printf("  Groups matches getgroups %d\n", strcmp(field("/proc/self/status", "Groups"), g) == 0);
	printf("  NSpid is getpid %d\n", atoi(field("/proc/self/status", "NSpid")) == getpid());

	printf("stat\n");
	long f[64];
	int n = statfields("/proc/self/stat", f, 64);
	printf("  fields %d, pid %d, state %c, ppid %d, pgrp %d, session %d, threads %ld\n", n, f[0] == getpid(),
	       strchr("RSDTZ", (int)f[2]) ? 'x' : '?', f[3] == getppid(), f[4] == getpgrp(), f[5] == getsid(0), f[19]);
	n = statfields("/proc/self/statm", f, 64);
	char *sm = slurp("/proc/self/statm");
	int words = 0;
	for (char *p = sm; *p; p++) if (*p == ' ' || *p == '\n') words++;
	printf("  statm fields %d, size >= resident %d\n", words, atol(sm) >= atol(strchr(sm, ' ')));

	printf("task\n");
	printf("  nlink /proc/self/task %d (threads + 2)\n", nlink("/proc/self/task"));
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int tasks = 0, ok = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') continue;
		tasks++;
		char p[256];
		snprintf(p, sizeof p, "/proc/self/task/%s/status", e->d_name);
		int pidok = atoi(field(p, "Pid")) == atoi(e->d_name) && atoi(field(p, "Tgid")) == getpid();
		snprintf(p, sizeof p, "/proc/self/task/%s/stat", e->d_name);
		long tf[64];
		statfields(p, tf, 64);
		ok += pidok && tf[0] == atol(e->d_name);
	}
	closedir(d);
	printf("  tasks %d, each with its own status and stat %d\n", tasks, ok == tasks);
	printf("  main thread listed %d\n", nlink("/proc/self/task") > 0);

	printf("links\n");
	printf("  /proc/self/fd %d, /proc/sys/kernel %d, /proc/self is a dir %d\n", nlink("/proc/self/fd"),
	       nlink("/proc/sys/kernel"), nlink("/proc/self") > 2);

	printf("files\n");
	keys("/proc/self/io");
	char *w = slurp("/proc/self/wchan");
	printf("  wchan readable %d\n", w[0] != '(');
	printf("  oom_score_adj %s", slurp("/proc/self/oom_score_adj"));
	int os = atoi(slurp("/proc/self/oom_score"));
	printf("  oom_score in range %d\n", os >= 0 && os <= 2000);
	char *cl = slurp("/proc/self/cmdline");
	printf("  cmdline is argv[0] %d\n", strcmp(cl, argv[0]) == 0);
	char *lim = slurp("/proc/self/limits");
	char *nl = strchr(lim, '\n');
	*nl = 0;
	printf("  limits header [%s]\n", lim);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	char row[128];
	snprintf(row, sizeof row, "Max open files            %-20lu %-20lu files", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
	printf("  limits has open files row %d\n", strstr(nl + 1, row) != NULL);
	char *m = slurp("/proc/self/maps"), *line, *save;
	int lines = 0, good = 0, stack = 0;
	for (line = strtok_r(m, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long a, b, off, ino;
		char perm[8];
		unsigned maj, min;
		lines++;
		if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &a, &b, perm, &off, &maj, &min, &ino) == 7 && a < b) good++;
		if (strstr(line, "[stack]")) stack++;
	}
	printf("  maps lines well formed %d, one [stack] %d\n", good == lines, stack == 1);
	m = slurp("/proc/self/mountinfo");
	lines = good = 0;
	for (line = strtok_r(m, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lines++;
		if (strstr(line, " - ")) good++;
	}
	printf("  mountinfo lines have a separator %d\n", lines > 0 && good == lines);

	printf("system\n");
	keys("/proc/meminfo");
	char *st = slurp("/proc/stat");
	int cpus = 0, cpufields = 0;
	for (line = strtok_r(st, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "cpu", 3) == 0) {
			if (line[3] != ' ') cpus++;
			else for (char *p = line; *p; p++) if (*p == ' ' && p[1] != ' ') cpufields++;
		} else {
			char *sp = strchr(line, ' ');
			if (sp) *sp = 0;
			printf(" %s", line);
		}
	}
	printf("\n  cpu fields %d, cpus match %d\n", cpufields, cpus == sysconf(_SC_NPROCESSORS_ONLN));
	double l1, l5, l15, up, idle;
	int run, tot, last;
	printf("  loadavg parses %d\n", sscanf(slurp("/proc/loadavg"), "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &run, &tot, &last) == 6);
	printf("  uptime parses %d\n", sscanf(slurp("/proc/uptime"), "%lf %lf", &up, &idle) == 2 && up > 0);

	printf("sysctl\n");
	const char *sys[] = {"kernel/ostype", "kernel/ngroups_max", "kernel/overflowuid", "kernel/overflowgid",
	                     "kernel/shmmni", "kernel/msgmax", "kernel/msgmnb", "kernel/randomize_va_space", "kernel/keys/maxkeys",
	                     "vm/overcommit_memory", "vm/max_map_count", "vm/overcommit_ratio", "fs/nr_open", "fs/pipe-max-size",
	                     "fs/pipe-user-pages-soft", "fs/mqueue/msg_max", "fs/mqueue/msgsize_max", "fs/mqueue/queues_max",
	                     "fs/inotify/max_user_instances", "fs/aio-max-nr", "fs/lease-break-time", "net/core/somaxconn",
	                     "net/core/wmem_default", "net/core/rmem_default", "net/unix/max_dgram_qlen"};
	for (unsigned i = 0; i < sizeof sys / sizeof *sys; i++) {
		char p[128];
		snprintf(p, sizeof p, "/proc/sys/%s", sys[i]);
		printf("  %s = %s", sys[i], slurp(p));
	}
	stop = 1;
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	smaps();
	return 0;
}
