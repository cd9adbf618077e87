#define _GNU_SOURCE
#include "common.h"
#include <mqueue.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/netlink.h>

/* mq_notify(3) with SIGEV_THREAD: glibc registers a netlink socket and a cookie with the
 * kernel (mq_notify(2)'s sigev_signo and sigev_value), and its helper thread starts the
 * function when the kernel sends the cookie there. The raw call's errors: a bad
 * descriptor, a file that is not a socket, a socket that is not netlink. */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int called;
static int value;

static void fn(union sigval sv) {
	pthread_mutex_lock(&mu);
	called++;
	value = sv.sival_int;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static int waitcall(int want) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30; /* a loaded machine */
	pthread_mutex_lock(&mu);
	while (called < want)
		if (pthread_cond_timedwait(&cv, &mu, &ts) != 0) break;
	int c = called;
	pthread_mutex_unlock(&mu);
	return c;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char name[64];
	snprintf(name, sizeof name, "/sbxdiff-mqthread-%d", (int)getpid());
	mqd_t q = mq_open(name, O_RDWR | O_CREAT, 0600, NULL);
	CHECK(q >= 0);
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = fn;
	ev.sigev_value.sival_int = 42;
	CHECK(mq_notify(q, &ev));
	CHECK(mq_notify(q, &ev));
	CHECK(mq_send(q, "a", 1, 0));
	printf("function called: %d\n", waitcall(1));
	char buf[8192];
	CHECK(mq_receive(q, buf, sizeof buf, NULL));
	/* One notification per registration. */
	CHECK(mq_send(q, "b", 1, 0));
	usleep(200000);
	printf("after a second message: %d\n", called);
	CHECK(mq_receive(q, buf, sizeof buf, NULL));
	ev.sigev_value.sival_int = 7;
	CHECK(mq_notify(q, &ev));
	CHECK(mq_notify(q, NULL));
	CHECK(mq_send(q, "c", 1, 0));
	usleep(200000);
	printf("after removal: %d\n", called);
	CHECK(mq_receive(q, buf, sizeof buf, NULL));
	CHECK(mq_notify(q, &ev));
	CHECK(mq_send(q, "d", 1, 0));
	printf("again: %d\n", waitcall(2));
	CHECK(mq_receive(q, buf, sizeof buf, NULL));

	/* The raw call. */
	char cookie[32] = {0};
	struct { void *ptr; int signo; int notify; int pad[12]; } raw = {cookie, 999, SIGEV_THREAD};
	CHECK(syscall(SYS_mq_notify, q, &raw));
	raw.signo = q;
	CHECK(syscall(SYS_mq_notify, q, &raw));
	int sv[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	raw.signo = sv[0];
	CHECK(syscall(SYS_mq_notify, q, &raw));
	raw.ptr = (void *)-4096L;
	CHECK(syscall(SYS_mq_notify, q, &raw));
	raw.notify = 3;
	CHECK(syscall(SYS_mq_notify, q, &raw));
	int nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	raw.ptr = cookie, raw.signo = nl, raw.notify = SIGEV_THREAD;
	cookie[0] = 'k';
	CHECK(syscall(SYS_mq_notify, q, &raw));
	CHECK(mq_send(q, "e", 1, 0));
	char got[64] = {0};
	CHECK(recv(nl, got, sizeof got, 0));
	printf("cookie %c last byte %d\n", got[0], got[31]);
	CHECK(mq_receive(q, buf, sizeof buf, NULL));
	CHECK(syscall(SYS_mq_notify, q, &raw));
	CHECK(syscall(SYS_mq_notify, q, NULL));
	CHECK(recv(nl, got, sizeof got, MSG_DONTWAIT));
	printf("removal: last byte %d\n", got[31]);
	mq_unlink(name);
	return 0;
}
