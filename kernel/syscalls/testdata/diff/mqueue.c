#include "common.h"
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* POSIX message queues (mq_overview(7)): names, attributes and limits, priorities,
 * O_NONBLOCK, timeouts, EMSGSIZE, descriptor access modes, poll, mq_notify, unlink. */

static char names[3][64];

static void show(mqd_t q) {
	struct mq_attr a;
	if (mq_getattr(q, &a) != 0) { printf("getattr %s\n", errname(errno)); return; }
	printf("attr flags %s maxmsg %ld msgsize %ld curmsgs %ld\n", a.mq_flags & O_NONBLOCK ? "O_NONBLOCK" : "0",
		a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
}

static struct timespec in(long ms) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (ms % 1000) * 1000000;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return ts;
}

static void onalrm(int s) { (void)s; }

int main(void) {
	for (int i = 0; i < 3; i++)
		snprintf(names[i], sizeof names[i], "/sbxdiff-mq-%d-%d", (int)getpid(), i);
	umask(022);
	char longname[300] = "/";
	memset(longname + 1, 'x', 256);
	/* Names. */
	CHECK(syscall(SYS_mq_open, "", O_RDONLY, 0, NULL));
	CHECK(syscall(SYS_mq_open, "a/b", O_RDONLY, 0, NULL));
	CHECK(mq_open(longname, O_RDONLY));
	CHECK(mq_open(names[0], O_RDONLY));
	mqd_t m3 = mq_open(names[0], O_RDWR | O_WRONLY | O_CREAT, 0600, NULL);
	CHECK(m3 >= 0);
	CHECK(mq_open(names[0], O_RDWR | O_WRONLY));
	CHECK(mq_close(m3));
	CHECK(mq_unlink(names[0]));
	/* Attributes on creation. */
	struct mq_attr at = {.mq_maxmsg = 0, .mq_msgsize = 16};
	CHECK(mq_open(names[0], O_RDWR | O_CREAT, 0600, &at));
	at.mq_maxmsg = 3; at.mq_msgsize = -1;
	CHECK(mq_open(names[0], O_RDWR | O_CREAT, 0600, &at));
	at.mq_maxmsg = 11; at.mq_msgsize = 16;
	mqd_t big = mq_open(names[0], O_RDWR | O_CREAT, 0600, &at);
	printf("maxmsg 11: %s\n", big < 0 ? errname(errno) : "OK");
	if (big >= 0) { mq_close(big); mq_unlink(names[0]); }
	at.mq_maxmsg = 3; at.mq_msgsize = 8193;
	big = mq_open(names[0], O_RDWR | O_CREAT, 0600, &at);
	printf("msgsize 8193: %s\n", big < 0 ? errname(errno) : "OK");
	if (big >= 0) { mq_close(big); mq_unlink(names[0]); }
	mqd_t d = mq_open(names[1], O_RDWR | O_CREAT | O_EXCL, 0666, NULL);
	CHECK(d >= 0);
	show(d);
	CHECK(mq_open(names[1], O_RDWR | O_CREAT | O_EXCL, 0666, NULL));
	CHECK(mq_close(d));
	CHECK(mq_unlink(names[1]));
	CHECK(mq_unlink(names[1]));

	at.mq_maxmsg = 3; at.mq_msgsize = 16;
	mqd_t q = mq_open(names[0], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &at);
	CHECK(q >= 0);
	CHECK(fcntl(q, F_GETFD));
	show(q);
	/* Priorities, sizes, a full queue. */
	CHECK(mq_send(q, "a", 1, 1));
	CHECK(mq_send(q, "bb", 2, 5));
	CHECK(mq_send(q, "c", 1, 32768));
	CHECK(mq_send(q, "0123456789abcdefg", 17, 0));
	CHECK(mq_send(q, "ccc", 3, 1));
	show(q);
	char buf[64];
	int n = read(q, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	char *np = strstr(buf, "NOTIFY_PID");
	if (np) *np = 0;
	printf("read %d: [%s]\n", n, buf);
	CHECK(write(q, "x", 1));
	struct timespec past = {1, 0}, bad = {0, -1};
	CHECK(mq_timedsend(q, "d", 1, 0, &past));
	CHECK(mq_timedsend(q, "d", 1, 0, &bad));
	struct timespec t1 = in(50);
	CHECK(mq_timedsend(q, "d", 1, 0, &t1));
	struct mq_attr nb = {.mq_flags = O_NONBLOCK}, old;
	CHECK(mq_setattr(q, &nb, &old));
	printf("old flags %ld\n", old.mq_flags);
	CHECK(mq_send(q, "d", 1, 0));
	CHECK(fcntl(q, F_GETFL) & O_NONBLOCK);
	show(q);
	struct pollfd p = {.fd = q, .events = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM};
	CHECK(poll(&p, 1, 0));
	printf("revents full %#x\n", p.revents);
	unsigned prio = 99;
	CHECK(mq_receive(q, buf, 15, &prio));
	for (int i = 0; i < 3; i++) {
		memset(buf, 0, sizeof buf);
		CHECK(mq_receive(q, buf, sizeof buf, &prio));
		printf("got %s prio %u\n", buf, prio);
	}
	CHECK(mq_receive(q, buf, sizeof buf, &prio));
	p.revents = 0;
	CHECK(poll(&p, 1, 0));
	printf("revents empty %#x\n", p.revents);
	nb.mq_flags = 0;
	CHECK(mq_setattr(q, &nb, NULL));
	nb.mq_flags = O_APPEND;
	CHECK(mq_setattr(q, &nb, NULL));
	t1 = in(50);
	CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &t1));
	CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &bad));
	CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, (struct timespec *)8));
	/* Descriptors of the wrong kind or mode. */
	CHECK(mq_send(0 + 100, "x", 1, 0));
	int pfd[2];
	CHECK(pipe(pfd));
	CHECK(mq_send(pfd[1], "x", 1, 0));
	mqd_t ro = mq_open(names[0], O_RDONLY);
	mqd_t wo = mq_open(names[0], O_WRONLY | O_NONBLOCK);
	CHECK(ro >= 0 && wo >= 0);
	CHECK(mq_send(ro, "x", 1, 0));
	CHECK(mq_receive(wo, buf, sizeof buf, NULL));
	CHECK(write(ro, "x", 1));
	show(wo);
	/* A receiver blocked until a sender sends; a signal interrupts a blocked receive. */
	pid_t c = fork();
	if (c == 0) {
		char b[64] = {0};
		unsigned pr;
		ssize_t r = mq_receive(q, b, sizeof b, &pr);
		_exit(r == 4 && strcmp(b, "late") == 0 && pr == 7 ? 0 : 1);
	}
	usleep(50000);
	CHECK(mq_send(wo, "late", 4, 7));
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	struct sigaction sa = {.sa_handler = onalrm};
	sigaction(SIGALRM, &sa, NULL);
	ualarm(50000, 50000); /* repeating: an alarm landing before the call is followed by more */
	CHECK(mq_receive(q, buf, sizeof buf, NULL));
	ualarm(0, 0);
	/* With SA_RESTART the receive goes on after the handler, to its absolute timeout. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	ualarm(20000, 0);
	t1 = in(100);
	CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &t1));
	/* mq_notify. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
	ev.sigev_value.sival_int = 42;
	CHECK(mq_notify(q, &ev));
	CHECK(mq_notify(q, &ev));
	c = fork();
	if (c == 0)
		_exit(mq_notify(q, &ev) == -1 && errno == EBUSY ? 0 : 1);
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	CHECK(lseek(q, 0, SEEK_SET));
	n = read(q, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	if ((np = strstr(buf, "NOTIFY_PID"))) *np = 0;
	printf("read %d: [%s]\n", n, buf);
	CHECK(mq_send(q, "n", 1, 0));
	siginfo_t si;
	struct timespec zero = {0, 0};
	CHECK(sigtimedwait(&set, &si, &zero));
	printf("si_code %d value %d pid ok %d\n", si.si_code, si.si_value.sival_int, si.si_pid == getpid());
	CHECK(mq_send(q, "n", 1, 0));
	CHECK(mq_notify(q, &ev));
	CHECK(mq_send(q, "n", 1, 0)); /* not empty before: no signal */
	CHECK(sigtimedwait(&set, &si, &zero));
	CHECK(mq_notify(q, NULL));
	CHECK(mq_notify(q, NULL));
	ev.sigev_notify = 99;
	CHECK(mq_notify(q, &ev));
	ev.sigev_notify = SIGEV_SIGNAL; ev.sigev_signo = 65;
	CHECK(mq_notify(q, &ev));
	ev.sigev_notify = SIGEV_NONE;
	CHECK(mq_notify(q, &ev));
	CHECK(mq_notify(q, &ev));
	CHECK(mq_notify(pfd[0], &ev));
	CHECK(mq_notify(q, NULL));
	/* Unlink: open descriptors keep the queue. */
	CHECK(mq_unlink(names[0]));
	CHECK(mq_open(names[0], O_RDWR));
	show(q);
	CHECK(mq_receive(q, buf, sizeof buf, NULL));
	/* Permissions. */
	mqd_t r4 = mq_open(names[2], O_RDONLY | O_CREAT, 0400, NULL);
	CHECK(r4 >= 0);
	mqd_t w4 = mq_open(names[2], O_WRONLY);
	printf("open 0400 for writing: %s\n", w4 < 0 ? errname(errno) : "OK");
	CHECK(mq_unlink(names[2]));
	return 0;
}
