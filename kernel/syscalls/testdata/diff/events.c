#include "common.h"
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <stdint.h>
#include <poll.h>
#include <time.h>
#include <sys/wait.h>
int main(void) {
	int e = eventfd(3, EFD_NONBLOCK);
	uint64_t v = 0;
	CHECK(read(e, &v, 8)); printf("v=%lu\n", v);
	CHECK(read(e, &v, 8));
	CHECK(read(e, &v, 4));
	v = 5; CHECK(write(e, &v, 8));
	v = UINT64_MAX; CHECK(write(e, &v, 8));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42}, out[4];
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, 1000, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev));
	int reg = open("/etc/hostname", O_RDONLY);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev));
	CHECK(epoll_wait(ep, out, 0, 0));
	int n = epoll_wait(ep, out, 4, 0);
	printf("n=%d ev=%x data=%lu\n", n, n > 0 ? out[0].events : 0, n > 0 ? out[0].data.u64 : 0);
	n = epoll_wait(ep, out, 4, 0); printf("LT again n=%d\n", n);
	ev.events = EPOLLIN | EPOLLET; ev.data.u64 = 7;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, e, &ev));
	n = epoll_wait(ep, out, 4, 0); printf("ET first n=%d data=%lu\n", n, out[0].data.u64);
	n = epoll_wait(ep, out, 4, 0); printf("ET second n=%d\n", n);
	v = 1; write(e, &v, 8);
	n = epoll_wait(ep, out, 4, 0); printf("ET after write n=%d\n", n);
	ev.events = EPOLLIN | EPOLLONESHOT;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, e, &ev));
	n = epoll_wait(ep, out, 4, 0); printf("oneshot n=%d\n", n);
	n = epoll_wait(ep, out, 4, 0); printf("oneshot again n=%d\n", n);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL));
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL));
	/* pipe + blocking wait with timeout */
	int p[2]; pipe(p);
	ev.events = EPOLLIN; ev.data.fd = p[0];
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	CHECK(epoll_wait(ep, out, 4, 50));
	pid_t child = fork();
	if (child == 0) { usleep(20000); write(p[1], "x", 1); _exit(0); }
	n = epoll_wait(ep, out, 4, 30000); printf("pipe n=%d fd ok=%d\n", n, out[0].data.fd == p[0]);
	waitpid(child, NULL, 0); /* its copies of the pipe's ends are gone too */
	close(p[1]);
	n = epoll_wait(ep, out, 4, 0); printf("after close n=%d ev=%x\n", n, out[0].events);
	close(p[0]);
	n = epoll_wait(ep, out, 4, 0); printf("after closing watched n=%d\n", n);
	/* timerfd */
	int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	CHECK(timerfd_create(99, 0));
	CHECK(timerfd_create(CLOCK_MONOTONIC, 0x1234));
	/* Armed but not expired: a minute is far enough off that the read always finds it so. */
	struct itimerspec its = {.it_value = {60, 0}, .it_interval = {0, 50000000}}, old;
	CHECK(timerfd_settime(tf, 0, &its, NULL));
	CHECK(read(tf, &v, 8));
	its.it_value = (struct timespec){0, 50000000};
	CHECK(timerfd_settime(tf, 0, &its, NULL));
	ev.events = EPOLLIN; ev.data.u64 = 99;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, tf, &ev));
	n = epoll_wait(ep, out, 4, 30000); printf("timer n=%d data=%lu\n", n, out[0].data.u64);
	usleep(175000);
	CHECK(read(tf, &v, 8)); printf("expirations>=3: %d\n", v >= 3);
	CHECK(timerfd_gettime(tf, &old)); printf("interval %ld\n", old.it_interval.tv_nsec);
	its.it_value.tv_nsec = 0;
	CHECK(timerfd_settime(tf, 0, &its, &old));
	CHECK(timerfd_gettime(tf, &old)); printf("disarmed %ld %ld\n", old.it_value.tv_sec, old.it_value.tv_nsec);
	its.it_value.tv_nsec = 2000000000L;
	CHECK(timerfd_settime(tf, 0, &its, NULL));
	CHECK(timerfd_settime(e, 0, &its, NULL));
	/* blocking timerfd read, one-shot absolute */
	int tb = timerfd_create(CLOCK_REALTIME, 0);
	struct timespec now; clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec abs = {.it_value = {now.tv_sec, now.tv_nsec + 20000000}};
	if (abs.it_value.tv_nsec >= 1000000000) { abs.it_value.tv_sec++; abs.it_value.tv_nsec -= 1000000000; }
	CHECK(timerfd_settime(tb, TFD_TIMER_ABSTIME, &abs, NULL));
	CHECK(read(tb, &v, 8)); printf("abs v=%lu\n", v);
	/* poll on eventfd, semaphore */
	int s = eventfd(2, EFD_SEMAPHORE);
	CHECK(read(s, &v, 8)); printf("sem %lu\n", v);
	struct pollfd pf = {.fd = s, .events = POLLIN | POLLOUT};
	CHECK(poll(&pf, 1, 0)); printf("revents %x\n", pf.revents);
	CHECK(eventfd(0, 0x12345));
	CHECK(epoll_create(0));
	CHECK(epoll_create1(1));
	/* nested epoll and ELOOP */
	int ep2 = epoll_create1(0);
	ev.events = EPOLLIN;
	CHECK(epoll_ctl(ep2, EPOLL_CTL_ADD, ep, &ev));
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep2, &ev));
	return 0;
}
