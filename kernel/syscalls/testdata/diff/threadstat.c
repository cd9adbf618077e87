#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* /proc/PID/task/TID/{stat,status,comm} show the thread's own state, name and CPU time
 * (proc(5)): a thread blocked in read() on a pipe is S while the main thread, spinning,
 * is R; PR_SET_NAME and a write to task/TID/comm rename one thread only; /proc/PID/stat
 * shows the leader's state and name. */

static int pipefd[2];
static volatile pid_t reader_tid;

static void *reader(void *arg) {
	prctl(PR_SET_NAME, "reader");
	reader_tid = syscall(SYS_gettid);
	char c;
	read(pipefd[0], &c, 1);
	return NULL;
}

static int slurp(const char *path, char *buf, int size) {
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	return n;
}

/* stat fields: 1 pid, 2 (comm), 3 state, ..., 14 utime, 15 stime, 20 num_threads. */
struct st {
	char comm[32];
	char state;
	long utime, stime, threads;
};

static int readstat(pid_t pid, pid_t tid, struct st *s) {
	char path[96], buf[1024];
	if (tid)
		snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	else
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (slurp(path, buf, sizeof buf) <= 0)
		return -1;
	char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	if (!open || !close)
		return -1;
	snprintf(s->comm, sizeof s->comm, "%.*s", (int)(close - open - 1), open + 1);
	char *p = close + 2;
	s->state = *p;
	/* p points at field 3; skip to field 14. */
	int field = 3;
	while (field < 14 && *p) {
		if (*p++ == ' ')
			field++;
	}
	long skip;
	sscanf(p, "%ld %ld %ld %ld %ld %ld %ld", &s->utime, &s->stime, &skip, &skip, &skip, &skip, &s->threads);
	return 0;
}

static void status_line(pid_t pid, pid_t tid, const char *key) {
	char path[96], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (slurp(path, buf, sizeof buf) <= 0) {
		printf("  %s: unreadable\n", path);
		return;
	}
	char *l = strstr(buf, key);
	char *end = l ? strchr(l, '\n') : NULL;
	printf("  %s %.*s\n", tid == pid ? "main" : "reader", l && end ? (int)(end - l) : 0, l ? l : "");
}

static void comm(const char *what, const char *path) {
	char buf[64];
	if (slurp(path, buf, sizeof buf) < 0) {
		printf("%s: unreadable\n", what);
		return;
	}
	buf[strcspn(buf, "\n")] = 0;
	printf("%s: %s\n", what, buf);
}

static void spin(double secs) {
	struct timespec a, b;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < secs);
}

int main(void) {
	pid_t pid = getpid();
	prctl(PR_SET_NAME, "threadstat-main");
	pipe(pipefd);
	pthread_t th;
	pthread_create(&th, NULL, reader, NULL);
	/* Wait (bounded: 30 s on a loaded machine) for the reader to block in read(). */
	struct st r = {0}, m = {0};
	for (int i = 0; i < 6000; i++) {
		if (reader_tid && readstat(pid, reader_tid, &r) == 0 && r.state == 'S')
			break;
		usleep(5000);
	}
	spin(0.4); /* main's own CPU time: at least 40 ticks, none of it the reader's */
	readstat(pid, reader_tid, &r);
	readstat(pid, pid, &m);
	printf("reader task: state %c comm %s threads %ld\n", r.state, r.comm, r.threads);
	printf("main task: state %c comm %s threads %ld\n", m.state, m.comm, m.threads);
	printf("main utime+stime >= 30 ticks: %s\n", m.utime + m.stime >= 30 ? "yes" : "no");
	printf("reader utime+stime < 10 ticks: %s\n", r.utime + r.stime < 10 ? "yes" : "no");
	struct st p = {0};
	readstat(pid, 0, &p);
	/* Linux splits a thread's and the process's run time into utime and stime separately
	 * (cputime_adjust) and truncates each to ticks, so the process's sum, read later, can
	 * still come out up to two ticks below the thread's (seen natively in CI). */
	printf("process: state %c comm %s, utime+stime >= main's: %s\n", p.state, p.comm,
	       p.utime + p.stime + 2 >= m.utime + m.stime ? "yes" : "no");
	printf("status:\n");
	status_line(pid, pid, "Name:");
	status_line(pid, pid, "State:");
	status_line(pid, reader_tid, "Name:");
	status_line(pid, reader_tid, "State:");

	fflush(stdout);
	/* Another process sees both tasks and the process sleeping while main waits. */
	pid_t c = fork();
	if (c == 0) {
		usleep(100000);
		for (int i = 0; i < 6000; i++) {
			struct st mm;
			if (readstat(pid, pid, &mm) == 0 && mm.state == 'S')
				break;
			usleep(5000);
		}
		struct st a = {0}, b = {0}, q = {0};
		readstat(pid, pid, &a);
		readstat(pid, reader_tid, &b);
		readstat(pid, 0, &q);
		printf("from a child, main waiting: main %c, reader %c, process %c\n", a.state, b.state, q.state);
		/* A task's comm is written only by its own process. */
		char path[96];
		snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, (int)reader_tid);
		int fd = open(path, O_WRONLY);
		CHECK(fd >= 0);
		CHECK(write(fd, "child", 5));
		close(fd);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);

	/* Renaming a thread through task/TID/comm: the first 15 bytes, newline included. */
	char path[96];
	snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)reader_tid);
	int fd = open(path, O_WRONLY);
	CHECK(write(fd, "renamed-reader-thread", 21));
	close(fd);
	comm("reader comm", path);
	comm("process comm", "/proc/self/comm");
	snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)pid);
	comm("main comm", path);
	/* PR_SET_NAME on the leader is the process's name. */
	prctl(PR_SET_NAME, "leader");
	comm("process comm after PR_SET_NAME", "/proc/self/comm");
	readstat(pid, 0, &p);
	printf("process stat comm: %s\n", p.comm);
	/* Writing /proc/self/comm renames the leader. */
	fd = open("/proc/self/comm", O_WRONLY);
	CHECK(write(fd, "via-proc", 8));
	close(fd);
	char buf[64];
	if (prctl(PR_GET_NAME, buf) == 0)
		printf("PR_GET_NAME: %s\n", buf);
	readstat(pid, pid, &m);
	printf("main task stat comm: %s\n", m.comm);

	write(pipefd[1], "x", 1);
	pthread_join(th, NULL);
	/* pthread_join returns when the kernel clears the thread's TID word, which Linux
	 * does before the thread leaves the thread group: poll briefly for the count to drop. */
	for (int i = 0; i < 30000; i++) {
		readstat(pid, 0, &p);
		if (p.threads == 1)
			break;
		usleep(1000);
	}
	printf("after join: threads %ld\n", p.threads);
	return 0;
}
