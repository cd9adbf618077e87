/* seccomp user notification, from seccomp_unotify(2): a thread's filter made with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER returns SECCOMP_RET_USER_NOTIF for getppid; the main
 * thread (unfiltered: filters are per thread) supervises through the listener: poll,
 * RECV, ID_VALID, SEND (value, error, CONTINUE), ADDFD, and closing the listener. A
 * listener whose filtered threads are all gone reports POLLHUP. */
#include "common.h"
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static int listener = -1;
static volatile pid_t worker_tid;
static volatile int worker_ready, done;

/* wait_done waits until the worker printed the outcome of call k, so the output has one order. */
static void wait_done(int k) {
	while (done < k)
		usleep(1000);
}

static void *worker(void *arg) {
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = {.len = 4, .filter = f};
	pid_t ppid = getppid(); /* before the filter: getppid is what it notifies */
	listener = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p);
	worker_tid = gettid();
	errno = 0;
	long again = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p);
	printf("worker: second listener %ld %s\n", again, errname(errno));
	worker_ready = 1;
	for (int i = 0; i < 6; i++) {
		errno = 0;
		long r = syscall(__NR_getppid, 100 + i, 0x1122334455667788L);
		printf("worker: call %d = %s %s\n", i, r < 0 ? "-1" : "value", errname(errno));
		if (i == 3)
			printf("worker: added fd is open %d, cloexec %d\n", fcntl(r, F_GETFD) >= 0, fcntl(r, F_GETFD) == FD_CLOEXEC);
		else if (i == 2)
			printf("worker: the real getppid ran: %d\n", r == ppid);
		else if (r >= 0)
			printf("worker: value %ld\n", r);
		fflush(stdout);
		done = i + 1;
	}
	return 0;
}

/* short_lived installs a notifying filter on itself and exits. */
static int hup_listener = -1;
static void *short_lived(void *arg) {
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = {.len = 4, .filter = f};
	hup_listener = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p);
	struct pollfd pfd = {hup_listener, POLLIN, 0};
	int r = poll(&pfd, 1, 0);
	printf("while filtered: poll %d revents %#x\n", r, pfd.revents);
	return 0;
}

static struct seccomp_notif *recv_one(void) {
	static struct seccomp_notif n;
	struct pollfd pfd = {listener, POLLIN, 0};
	poll(&pfd, 1, -1);
	memset(&n, 0, sizeof n);
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0) {
		printf("recv failed %s\n", errname(errno));
		return 0;
	}
	printf("notification: nr %d arch %#x args %lld %#llx from the worker %d\n", n.data.nr, n.data.arch,
		n.data.args[0], n.data.args[1], n.pid == worker_tid);
	return &n;
}

static void send(struct seccomp_notif *n, long long val, int error, unsigned flags, int call) {
	struct seccomp_notif_resp r = {.id = n->id, .val = val, .error = error, .flags = flags};
	errno = 0;
	long ret = ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
	int e = errno;
	wait_done(call + 1);
	printf("send %lld %d %u = %ld %s\n", val, error, flags, ret, errname(e));
}

int main(void) {
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	setvbuf(stdout, 0, _IOLBF, 0);
	pthread_t th;
	pthread_create(&th, 0, worker, 0);
	while (!worker_ready)
		usleep(1000);
	printf("listener ok %d, cloexec %d\n", listener >= 0, fcntl(listener, F_GETFD) == FD_CLOEXEC);
	struct pollfd pfd = {listener, POLLIN | POLLOUT, 0};
	struct seccomp_notif dirty = {.id = 1};
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &dirty));
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, (void *)8));

	struct seccomp_notif *n = recv_one(); /* call 0: a value */
	__u64 id = n->id;
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id));
	CHECK(poll(&pfd, 1, 0));
	printf("revents %#x\n", pfd.revents);
	struct seccomp_notif_resp bad = {.id = n->id, .val = 1, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &bad));
	bad = (struct seccomp_notif_resp){.id = n->id, .flags = 4};
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &bad));
	bad = (struct seccomp_notif_resp){.id = n->id + 1000};
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &bad));
	send(n, 42, 0, 0, 0);
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id));
	struct seccomp_notif_resp again = {.id = id, .val = 1};
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &again));

	n = recv_one(); /* call 1: an error */
	send(n, 0, -EPERM, 0, 1);
	n = recv_one(); /* call 2: continue */
	send(n, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE, 2);
	n = recv_one(); /* call 3: ADDFD with SEND */
	int pfds[2];
	pipe(pfds);
	struct seccomp_notif_addfd add = {.id = n->id, .srcfd = pfds[0], .flags = SECCOMP_ADDFD_FLAG_SEND,
		.newfd_flags = O_CLOEXEC};
	struct seccomp_notif_addfd badadd = add;
	badadd.newfd = 9;
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &badadd));
	badadd = add;
	badadd.newfd_flags = O_NONBLOCK;
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &badadd));
	badadd = add;
	badadd.srcfd = 999;
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &badadd));
	long added = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
	wait_done(4);
	printf("addfd with send: %d\n", added > 2);
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id));
	n = recv_one(); /* call 4: ADDFD at a chosen number, then a reply */
	add = (struct seccomp_notif_addfd){.id = n->id, .srcfd = pfds[1], .flags = SECCOMP_ADDFD_FLAG_SETFD, .newfd = 77};
	CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add));
	CHECK(fcntl(77, F_GETFD));
	send(n, 7, 0, 0, 4);
	n = recv_one(); /* call 5: the listener goes away */
	close(listener);
	wait_done(6);
	pthread_join(th, 0);

	pthread_create(&th, 0, short_lived, 0);
	pthread_join(th, 0);
	/* The thread's exit completes after its TID is cleared: poll waits for the hangup. */
	struct pollfd hup = {hup_listener, POLLIN, 0};
	int r = poll(&hup, 1, 30000);
	printf("filtered thread gone: poll %d revents %#x\n", r, hup.revents);
	return 0;
}
