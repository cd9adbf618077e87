/* Event-style descriptors at their edges: pipes (F_SETPIPE_SZ, O_DIRECT packets, PIPE_BUF,
 * EPIPE/SIGPIPE, FIONREAD), eventfd (semaphore mode, overflow, bad sizes), timerfd
 * (settime flags, gettime of a disarmed timer, bad clocks), signalfd (masks, reads,
 * bad sizes) and epoll (EPOLLONESHOT, EPOLLET, EPOLLEXCLUSIVE rules, nested epoll, a closed
 * registered descriptor, errno paths). */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t got;
static void onsig(int s) { got = s; }

static void pipes(void) {
	int p[2];
	char buf[70000];
	CHECK(pipe2(p, 0x1234));
	CHECK(pipe2(NULL, 0));
	CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
	CHECK(fcntl(p[0], F_GETFD));
	CHECK(fcntl(p[0], F_GETFL) & (O_NONBLOCK | O_ACCMODE));
	CHECK(fcntl(p[1], F_GETFL) & (O_NONBLOCK | O_ACCMODE));
	CHECK(fcntl(p[0], F_GETPIPE_SZ));
	CHECK(fcntl(p[0], F_SETPIPE_SZ, 0));
	CHECK(fcntl(p[0], F_GETPIPE_SZ));
	CHECK(fcntl(p[0], F_SETPIPE_SZ, 5000));
	CHECK(fcntl(p[0], F_SETPIPE_SZ, 1 << 30));
	CHECK(fcntl(p[0], F_SETPIPE_SZ, -1));
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096));
	memset(buf, 'a', sizeof buf);
	CHECK(write(p[1], buf, 5000));
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 65536));
	CHECK(write(p[1], buf, 70000));
	int n = -1;
	CHECK(ioctl(p[0], FIONREAD, &n));
	printf("  fionread %d\n", n);
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096));
	CHECK(read(p[0], buf, sizeof buf));
	CHECK(read(p[0], buf, sizeof buf));
	CHECK(read(p[0], buf, 0));
	CHECK(write(p[1], buf, 0));
	/* PIPE_BUF: a non-blocking write of at most PIPE_BUF is all or nothing */
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096));
	CHECK(write(p[1], buf, 4000));
	CHECK(write(p[1], buf, 200));
	CHECK(write(p[1], buf, 96));
	CHECK(write(p[1], buf, 1));
	CHECK(read(p[0], buf, sizeof buf));
	close(p[0]);
	signal(SIGPIPE, onsig);
	got = 0;
	CHECK(write(p[1], buf, 1));
	printf("  sigpipe %d\n", got == SIGPIPE);
	signal(SIGPIPE, SIG_IGN);
	CHECK(write(p[1], buf, 1));
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);

	/* O_DIRECT: packet mode, each write one packet, a short read drops the rest */
	CHECK(pipe2(p, O_DIRECT | O_NONBLOCK));
	CHECK(fcntl(p[0], F_GETFL) & O_DIRECT ? 1 : 0);
	CHECK(write(p[1], "hello", 5));
	CHECK(write(p[1], "world!", 6));
	CHECK(read(p[0], buf, 3));
	CHECK(read(p[0], buf, 100));
	buf[6] = 0;
	printf("  packet %s\n", buf);
	CHECK(read(p[0], buf, 100));
	CHECK(fcntl(p[1], F_SETFL, O_NONBLOCK));
	CHECK(write(p[1], "ab", 2));
	CHECK(write(p[1], "cd", 2));
	CHECK(read(p[0], buf, 100));
	close(p[0]); close(p[1]);

	/* a child writes into a pipe whose reader is gone: killed by SIGPIPE */
	CHECK(pipe(p));
	close(p[0]);
	pid_t c = fork();
	if (c == 0) { write(p[1], "x", 1); _exit(0); }
	int st;
	waitpid(c, &st, 0);
	printf("  child signalled %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));
	close(p[1]);
	/* reading a pipe with no writers is EOF; poll says POLLHUP */
	CHECK(pipe(p));
	close(p[1]);
	CHECK(read(p[0], buf, 1));
	struct pollfd pf = {p[0], POLLIN, 0};
	CHECK(poll(&pf, 1, 0));
	printf("  revents %x\n", pf.revents);
	close(p[0]);
	CHECK(pipe(p));
	close(p[0]);
	pf = (struct pollfd){p[1], POLLOUT, 0};
	CHECK(poll(&pf, 1, 0));
	printf("  revents %x\n", pf.revents);
	close(p[1]);
}

static void eventfds(void) {
	uint64_t v;
	CHECK(eventfd(0, 0x1234));
	int e = eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(e >= 0);
	CHECK(fcntl(e, F_GETFD));
	CHECK(read(e, &v, 4));
	CHECK(read(e, &v, 8));
	printf("  v %lu\n", (unsigned long)v);
	CHECK(read(e, &v, 8));
	CHECK(read(e, &v, 16));
	v = 0xffffffffffffffffULL;
	CHECK(write(e, &v, 8));
	v = 0xfffffffffffffffeULL;
	CHECK(write(e, &v, 8));
	v = 1;
	CHECK(write(e, &v, 8));
	CHECK(write(e, &v, 4));
	CHECK(write(e, &v, 9));
	CHECK(read(e, &v, 8));
	printf("  v %lx\n", (unsigned long)v);
	CHECK(lseek(e, 0, SEEK_SET));
	close(e);
	e = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	for (int i = 0; i < 4; i++) {
		v = 0;
		CHECK(read(e, &v, 8));
		printf("  sem %lu\n", (unsigned long)v);
	}
	struct pollfd pf = {e, POLLIN | POLLOUT, 0};
	CHECK(poll(&pf, 1, 0));
	printf("  revents %x\n", pf.revents);
	v = 0xfffffffffffffffeULL;
	CHECK(write(e, &v, 8));
	pf.revents = 0;
	CHECK(poll(&pf, 1, 0));
	printf("  revents %x\n", pf.revents);
	close(e);
	CHECK(syscall(SYS_eventfd, 0) >= 0);
}

static void timerfds(void) {
	struct itimerspec its, old;
	CHECK(timerfd_create(CLOCK_MONOTONIC, 0x1234));
	CHECK(timerfd_create(12345, 0));
	CHECK(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
	int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	CHECK(t >= 0);
	CHECK(fcntl(t, F_GETFD));
	CHECK(timerfd_gettime(t, &its));
	printf("  %ld %ld %ld %ld\n", its.it_value.tv_sec, its.it_value.tv_nsec, its.it_interval.tv_sec, its.it_interval.tv_nsec);
	uint64_t n;
	CHECK(read(t, &n, 8));
	CHECK(read(t, &n, 4));
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 1000000000;
	CHECK(timerfd_settime(t, 0, &its, NULL));
	its.it_value.tv_nsec = -1;
	CHECK(timerfd_settime(t, 0, &its, NULL));
	its.it_value.tv_nsec = 0;
	CHECK(timerfd_settime(t, 0x100, &its, NULL));
	CHECK(timerfd_settime(t, 0, NULL, NULL));
	its.it_value.tv_sec = 1000;
	its.it_interval.tv_sec = 5;
	CHECK(timerfd_settime(t, 0, &its, NULL));
	memset(&old, 0, sizeof old);
	its.it_value.tv_sec = 0; its.it_interval.tv_sec = 0;
	CHECK(timerfd_settime(t, 0, &its, &old));
	printf("  old value>990 %d interval %ld\n", old.it_value.tv_sec > 990, old.it_interval.tv_sec);
	/* an absolute time in the past fires at once */
	its.it_value.tv_sec = 1; its.it_value.tv_nsec = 0;
	CHECK(timerfd_settime(t, TFD_TIMER_ABSTIME, &its, NULL));
	struct pollfd pf = {t, POLLIN, 0};
	CHECK(poll(&pf, 1, 5000));
	CHECK(read(t, &n, 8));
	printf("  expirations %lu\n", (unsigned long)n);
	CHECK(read(t, &n, 8));
	CHECK(timerfd_gettime(t, &its));
	printf("  %ld %ld\n", its.it_value.tv_sec, its.it_value.tv_nsec);
	/* a relative 1ns one-shot fires once */
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 1;
	CHECK(timerfd_settime(t, 0, &its, NULL));
	CHECK(poll(&pf, 1, 5000));
	CHECK(read(t, &n, 8));
	printf("  expirations %lu\n", (unsigned long)n);
	CHECK(write(t, &n, 8));
	CHECK(lseek(t, 0, SEEK_SET));
	int notimer = eventfd(0, 0);
	CHECK(timerfd_gettime(notimer, &its));
	CHECK(timerfd_settime(notimer, 0, &its, NULL));
	CHECK(timerfd_gettime(-1, &its));
	CHECK(timerfd_gettime(t, NULL));
	close(notimer);
	close(t);
}

static void signalfds(void) {
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	CHECK(signalfd(-1, &m, 0x1234));
	CHECK(syscall(SYS_signalfd4, -1, &m, 4, 0));
	CHECK(syscall(SYS_signalfd4, -1, NULL, 8, 0));
	int s = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	CHECK(s >= 0);
	CHECK(fcntl(s, F_GETFD));
	struct signalfd_siginfo si[2];
	CHECK(read(s, si, sizeof si));
	CHECK(read(s, si, 10));
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR1);
	struct pollfd pf = {s, POLLIN, 0};
	CHECK(poll(&pf, 1, 0));
	CHECK(read(s, si, sizeof si));
	printf("  signos %u %u code %d\n", si[0].ssi_signo, si[1].ssi_signo, si[0].ssi_code);
	CHECK(read(s, si, sizeof si));
	/* change the mask of an existing signalfd; SIGKILL/SIGSTOP are ignored in it */
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGKILL);
	CHECK(signalfd(s, &m, 0));
	kill(getpid(), SIGUSR2);
	CHECK(read(s, si, sizeof si));
	int e = eventfd(0, 0);
	CHECK(signalfd(e, &m, 0));
	CHECK(signalfd(99, &m, 0));
	close(e);
	CHECK(write(s, si, sizeof si[0]));
	sigset_t pend;
	sigpending(&pend);
	printf("  usr2 pending %d\n", sigismember(&pend, SIGUSR2));
	signal(SIGUSR2, SIG_IGN);
	sigpending(&pend);
	printf("  usr2 pending after ignore %d\n", sigismember(&pend, SIGUSR2));
	signal(SIGUSR2, SIG_DFL);
	close(s);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &m, NULL);
}

static void epolls(void) {
	struct epoll_event ev, evs[8];
	CHECK(epoll_create(0));
	CHECK(epoll_create(-1));
	CHECK(epoll_create1(0x1234));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(fcntl(ep, F_GETFD));
	int p[2];
	pipe2(p, O_NONBLOCK);
	ev.events = EPOLLIN; ev.data.u64 = 7;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], &ev));
	CHECK(epoll_ctl(ep, 99, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
	CHECK(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, -1, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], NULL));
	int f = open("/proc/self/status", O_RDONLY);
	int reg = open("/etc/hostname", O_RDONLY);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev));
	close(f); close(reg);
	CHECK(epoll_wait(ep, evs, 0, 0));
	CHECK(epoll_wait(ep, evs, -1, 0));
	CHECK(epoll_wait(ep, NULL, 1, 0));
	CHECK(epoll_wait(p[0], evs, 1, 0));
	CHECK(epoll_wait(ep, evs, 8, 0));
	write(p[1], "x", 1);
	CHECK(epoll_wait(ep, evs, 8, 0));
	printf("  events %x data %lu\n", evs[0].events, (unsigned long)evs[0].data.u64);
	/* level-triggered: reported again */
	CHECK(epoll_wait(ep, evs, 8, 0));
	/* edge-triggered: once per new arrival */
	ev.events = EPOLLIN | EPOLLET; ev.data.u64 = 8;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	CHECK(epoll_wait(ep, evs, 8, 0));
	CHECK(epoll_wait(ep, evs, 8, 0));
	write(p[1], "y", 1);
	CHECK(epoll_wait(ep, evs, 8, 0));
	CHECK(epoll_wait(ep, evs, 8, 0));
	/* one-shot: disabled after one report until re-armed with MOD */
	ev.events = EPOLLIN | EPOLLONESHOT; ev.data.u64 = 9;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	CHECK(epoll_wait(ep, evs, 8, 0));
	CHECK(epoll_wait(ep, evs, 8, 0));
	write(p[1], "z", 1);
	CHECK(epoll_wait(ep, evs, 8, 0));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	CHECK(epoll_wait(ep, evs, 8, 0));
	/* EPOLLEXCLUSIVE: ADD only, not with MOD, not with ONESHOT */
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], &ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	ev.events = EPOLLIN;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	/* nested: an epoll fd in another is readable when its own has events */
	int outer = epoll_create1(0);
	ev.events = EPOLLIN; ev.data.u64 = 1;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	ev.data.u64 = 2;
	CHECK(epoll_ctl(outer, EPOLL_CTL_ADD, ep, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, outer, &ev));
	CHECK(epoll_wait(outer, evs, 8, 0));
	printf("  nested data %lu\n", (unsigned long)evs[0].data.u64);
	char b[16];
	read(p[0], b, sizeof b);
	CHECK(epoll_wait(outer, evs, 8, 0));
	/* closing the only descriptor of a registered file removes it */
	int q[2];
	pipe(q);
	write(q[1], "q", 1);
	ev.data.u64 = 3;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev));
	CHECK(epoll_wait(ep, evs, 8, 0));
	close(q[0]);
	CHECK(epoll_wait(ep, evs, 8, 0));
	/* ...but a dup keeps it registered (and reported under the old data) */
	pipe(q);
	write(q[1], "q", 1);
	ev.data.u64 = 4;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev));
	int d = dup(q[0]);
	close(q[0]);
	CHECK(epoll_wait(ep, evs, 8, 0));
	printf("  data %lu\n", (unsigned long)evs[0].data.u64);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, d, &ev));
	close(d); close(q[1]);
	/* hang-up and error bits are always reported */
	ev.events = 0; ev.data.u64 = 5;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
	close(p[0]);
	CHECK(epoll_wait(ep, evs, 8, 0));
	printf("  events %x data %lu\n", evs[0].events, (unsigned long)evs[0].data.u64);
	close(p[1]); close(outer); close(ep);
	/* epoll_pwait with a mask, and a timeout interrupted by a signal */
	ep = epoll_create1(0);
	signal(SIGALRM, onsig);
	struct itimerval it = {{0, 0}, {0, 20000}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(epoll_wait(ep, evs, 8, 10000));
	sigset_t m;
	sigemptyset(&m);
	CHECK(epoll_pwait(ep, evs, 8, 0, &m));
	CHECK(syscall(SYS_epoll_pwait, ep, evs, 8, 0, &m, 4));
	close(ep);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	pipes();
	eventfds();
	timerfds();
	signalfds();
	epolls();
	return 0;
}
