/* futex and POSIX-timer edges: FUTEX_WAIT/WAKE/BITSET errnos, REQUEUE/CMP_REQUEUE/WAKE_OP
 * counts, priority-inheritance futexes (LOCK_PI/TRYLOCK_PI/UNLOCK_PI ownership rules,
 * EDEADLK, EPERM, ESRCH, a contended hand-over, timeouts), robust lists (set/get errnos,
 * a dying owner's FUTEX_OWNER_DIED), timer_create/settime/gettime/delete errnos,
 * SIGEV_THREAD_ID delivery to one thread, overrun counts, and personality(2). */
#include "common.h"
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <stddef.h>

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

static long futex(void *u, int op, uint32_t val, void *ts, void *u2, uint32_t val3) {
	return syscall(SYS_futex, u, op, val, ts, u2, val3);
}

static uint32_t fw;
static volatile int woke;
static void *waiter(void *a) {
	long r = futex(&fw, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, (uint32_t)(uintptr_t)a);
	if (r == 0) __sync_fetch_and_add(&woke, 1);
	return NULL;
}

static int task_sleeping(pid_t tid) {
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	int fd = open(path, O_RDONLY);
	if (fd < 0) return 0;
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *r = strrchr(buf, ')');
	return r && r[2] == 'S';
}

static pid_t tids[8];
static volatile int ntids;
static void *waiter_tid(void *a) {
	tids[__sync_fetch_and_add(&ntids, 1)] = gettid();
	return waiter(a);
}

/* wait_sleepers waits until n registered threads sleep. */
static void wait_sleepers(int n) {
	for (int tries = 0; tries < 5000; tries++) {
		int s = 0;
		for (int i = 0; i < ntids; i++) s += task_sleeping(tids[i]);
		if (ntids >= n && s >= n) return;
		usleep(1000);
	}
}

static void basic(void) {
	uint32_t v = 5;
	struct timespec ts = {0, 1000000};
	CHECK(futex(&v, FUTEX_WAIT, 4, NULL, NULL, 0));
	CHECK(futex(&v, FUTEX_WAIT, 5, &ts, NULL, 0));
	ts.tv_nsec = 1000000000;
	CHECK(futex(&v, FUTEX_WAIT, 5, &ts, NULL, 0));
	ts.tv_nsec = -1;
	CHECK(futex(&v, FUTEX_WAIT, 5, &ts, NULL, 0));
	ts.tv_sec = -1; ts.tv_nsec = 0;
	CHECK(futex(&v, FUTEX_WAIT, 5, &ts, NULL, 0));
	CHECK(futex((char *)&v + 1, FUTEX_WAIT, 5, NULL, NULL, 0));
	CHECK(futex((void *)8, FUTEX_WAIT, 5, NULL, NULL, 0));
	CHECK(futex(&v, FUTEX_WAIT_BITSET, 5, NULL, NULL, 0));
	CHECK(futex(&v, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0));
	CHECK(futex(&v, FUTEX_WAKE, 1, NULL, NULL, 0));
	CHECK(futex(&v, 99, 1, NULL, NULL, 0));
	CHECK(futex(&v, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0));
	CHECK(futex(&v, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 4, NULL, NULL, 0));
	/* absolute timeout in the past */
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_sec -= 1;
	CHECK(futex(&v, FUTEX_WAIT_BITSET, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY));
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_sec -= 1;
	CHECK(futex(&v, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY));
	CHECK(futex(&v, FUTEX_CMP_REQUEUE, 1, (void *)1, &fw, 4));
	CHECK(futex(&v, FUTEX_CMP_REQUEUE, 1, (void *)1, &fw, 5));
	CHECK(futex(&v, FUTEX_CMP_REQUEUE, -1, (void *)1, &fw, 5));
	CHECK(futex(&v, FUTEX_CMP_REQUEUE, 1, (void *)-1, &fw, 5));
	CHECK(futex(&v, FUTEX_REQUEUE, 1, (void *)1, &v, 0));
	CHECK(futex(&v, FUTEX_CMP_REQUEUE, 1, (void *)1, &v, 5));
	/* WAKE_OP: *uaddr2 = op(*uaddr2, arg), wake on uaddr, and on uaddr2 if the compare holds */
	uint32_t w2 = 3;
	CHECK(futex(&v, FUTEX_WAKE_OP, 1, (void *)1, &w2, FUTEX_OP(FUTEX_OP_ADD, 4, FUTEX_OP_CMP_EQ, 3)));
	printf("wake_op result=%u\n", w2);
	CHECK(futex(&v, FUTEX_WAKE_OP, 1, (void *)1, &w2, FUTEX_OP(FUTEX_OP_OR, 8, FUTEX_OP_CMP_GT, 100)));
	printf("wake_op result=%u\n", w2);
	CHECK(futex(&v, FUTEX_WAKE_OP, 1, (void *)1, &w2, FUTEX_OP(7, 8, FUTEX_OP_CMP_GT, 100)));
	CHECK(futex(&v, FUTEX_WAKE_OP, 1, (void *)1, &w2, FUTEX_OP(FUTEX_OP_ADD, 8, 9, 100)));
	CHECK(futex(&v, FUTEX_WAKE_OP, 1, (void *)1, (void *)8, FUTEX_OP(FUTEX_OP_ADD, 8, FUTEX_OP_CMP_GT, 100)));

	/* bitset wakeups: three waiters with bits 1, 2, 4; wake bits 5 */
	pthread_t th[3];
	fw = 0;
	woke = 0;
	ntids = 0;
	for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, waiter_tid, (void *)(uintptr_t)(1 << i));
	wait_sleepers(3);
	CHECK(futex(&fw, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 10, NULL, NULL, 5));
	CHECK(futex(&fw, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG, 10, NULL, NULL, 8));
	CHECK(futex(&fw, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 10, NULL, NULL, 0));
	for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
	printf("bitset woke=%d\n", woke);

	/* requeue: three waiters on fw, wake 1 and requeue 1 to w2, then wake w2 */
	fw = 0;
	woke = 0;
	ntids = 0;
	for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, waiter_tid, (void *)(uintptr_t)FUTEX_BITSET_MATCH_ANY);
	wait_sleepers(3);
	CHECK(futex(&fw, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 1, (void *)1, &w2, 0));
	CHECK(futex(&w2, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 10, NULL, NULL, 0));
	CHECK(futex(&fw, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 10, NULL, NULL, 0));
	for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
	printf("requeue woke=%d\n", woke);
}

static uint32_t pi;
static volatile long pi_res = -99;
static volatile pid_t pi_tid;
static volatile int pi_owned = -1;
static void *pi_locker(void *a) {
	pi_tid = gettid();
	long r = futex(&pi, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0);
	pi_res = r < 0 ? -errno : 0;
	if (r == 0) {
		pi_owned = (pi & FUTEX_TID_MASK) == (uint32_t)gettid();
		futex(&pi, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0);
	}
	return NULL;
}
static void *pi_trylock(void *a) {
	errno = 0;
	long r = futex(&pi, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0);
	pi_res = r < 0 ? -errno : 0;
	errno = 0;
	r = futex(&pi, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0);
	printf("non-owner unlock = %s\n", r < 0 ? errname(errno) : "OK");
	return NULL;
}
static void *pi_hold_and_die(void *a) {
	futex(&pi, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0);
	return NULL; /* exits holding it */
}

static struct { struct robust_list_head head; struct { struct robust_list list; uint32_t futex; } lock; } rpi;
static volatile int rpi_locked;
static void *rpi_owner(void *a) {
	rpi.head.list.next = (void *)((uintptr_t)&rpi.lock.list | 1);   /* bit 0: a PI futex */
	rpi.lock.list.next = &rpi.head.list;
	rpi.head.futex_offset = (long)((char *)&rpi.lock.futex - (char *)&rpi.lock.list);
	rpi.head.list_op_pending = NULL;
	syscall(SYS_set_robust_list, &rpi.head, sizeof rpi.head);
	futex(&rpi.lock.futex, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0);
	rpi_locked = 1;
	/* wait until the main thread sleeps on it, then die holding it */
	for (int i = 0; i < 5000 && !(rpi.lock.futex & FUTEX_WAITERS); i++) usleep(1000);
	usleep(20000);
	syscall(SYS_exit, 0);
	return NULL;
}

static void pifutex(void) {
	pi = 0;
	CHECK(futex(&pi, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
	printf("owner value==tid=%d waiters=%d\n", (pi & FUTEX_TID_MASK) == (uint32_t)gettid(), (pi & FUTEX_WAITERS) != 0);
	CHECK(futex(&pi, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
	CHECK(futex(&pi, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
	pthread_t th;
	pthread_create(&th, NULL, pi_trylock, NULL);
	pthread_join(th, NULL);
	printf("trylock of held = %s\n", errname(-pi_res));
	/* timed lock by another thread times out */
	CHECK(futex(&pi, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
	printf("after unlock value=%u\n", pi);
	CHECK(futex(&pi, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
	/* contended: we hold it, a thread blocks, we unlock and it gets it */
	futex(&pi, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0);
	pi_tid = 0;
	pthread_create(&th, NULL, pi_locker, NULL);
	while (!pi_tid) usleep(1000);
	for (int i = 0; i < 5000 && !(pi & FUTEX_WAITERS); i++) usleep(1000);
	printf("waiters bit set=%d\n", (pi & FUTEX_WAITERS) != 0);
	CHECK(futex(&pi, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
	pthread_join(th, NULL);
	printf("contended lock result=%ld owned=%d final=%u\n", pi_res, pi_owned, pi);
	/* a value naming no task */
	pi = 0x3ffff0;
	CHECK(futex(&pi, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
	CHECK(futex(&pi, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
	pi = 0;
	struct timespec abs;
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_sec -= 1;
	CHECK(futex(&pi, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, &abs, NULL, 0));
	CHECK(futex(&pi, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, &abs, NULL, 0));
	CHECK(futex(&pi, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
	pthread_t ro;
	pthread_create(&ro, NULL, rpi_owner, NULL);
	while (!rpi_locked) usleep(1000);
	errno = 0;
	long rr = futex(&rpi.lock.futex, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0);
	printf("robust PI owner died: lock=%s mine=%d owner_died=%d waiters=%d\n", rr < 0 ? errname(errno) : "OK",
	       (rpi.lock.futex & FUTEX_TID_MASK) == (uint32_t)gettid(), (rpi.lock.futex & FUTEX_OWNER_DIED) != 0,
	       (rpi.lock.futex & FUTEX_WAITERS) != 0);
	CHECK(futex((char *)&pi + 1, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
	CHECK(futex((void *)8, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
}

struct robust {
	struct robust_list_head head;
	struct { struct robust_list list; uint32_t futex; } lock;
};
static struct robust *shared;

static void robust(void) {
	struct robust_list_head *h;
	size_t len;
	CHECK(syscall(SYS_get_robust_list, 0, &h, &len));
	printf("glibc registered a head: len=%zu\n", len);
	CHECK(syscall(SYS_get_robust_list, 0x3ffff0, &h, &len));
	CHECK(syscall(SYS_get_robust_list, 0, (void *)8, &len));
	CHECK(syscall(SYS_set_robust_list, h, 23));
	CHECK(syscall(SYS_set_robust_list, h, 25));
	CHECK(syscall(SYS_set_robust_list, h, len));
	/* a child dies holding a robust lock in shared memory: the word gets OWNER_DIED
	 * and a waiter is woken */
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t c = fork();
	if (c == 0) {
		shared->head.list.next = &shared->lock.list;
		shared->lock.list.next = &shared->head.list;
		shared->head.futex_offset = (long)((char *)&shared->lock.futex - (char *)&shared->lock.list);
		shared->head.list_op_pending = NULL;
		shared->lock.futex = gettid();
		syscall(SYS_set_robust_list, &shared->head, sizeof shared->head);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	printf("robust word: owner_died=%d tid=%d\n", (shared->lock.futex & FUTEX_OWNER_DIED) != 0, (shared->lock.futex & FUTEX_TID_MASK) != 0);
	/* the pending op is handled too */
	shared->lock.futex = 0;
	c = fork();
	if (c == 0) {
		shared->head.list.next = &shared->head.list;
		shared->head.list_op_pending = &shared->lock.list;
		shared->lock.futex = gettid();
		syscall(SYS_set_robust_list, &shared->head, sizeof shared->head);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	printf("robust pending: owner_died=%d\n", (shared->lock.futex & FUTEX_OWNER_DIED) != 0);
	/* a word owned by someone else is left alone */
	shared->lock.futex = 12345;
	c = fork();
	if (c == 0) {
		shared->head.list.next = &shared->lock.list;
		shared->lock.list.next = &shared->head.list;
		shared->head.list_op_pending = NULL;
		syscall(SYS_set_robust_list, &shared->head, sizeof shared->head);
		_exit(0);
	}
	waitpid(c, NULL, 0);
	printf("robust foreign word=%u\n", shared->lock.futex);
}

static volatile pid_t target_tid;
static volatile int got_in_thread, got_code, got_overrun_pos;
static void *sigthread(void *a) {
	target_tid = gettid();
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN);
	siginfo_t si;
	if (sigwaitinfo(&s, &si) > 0) {
		got_in_thread = 1;
		got_code = si.si_code;
	}
	return NULL;
}

static void timers(void) {
	timer_t t;
	struct sigevent ev;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	CHECK(syscall(SYS_timer_create, 99, &ev, &t));
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, (void *)8));
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, (void *)8, &t));
	ev.sigev_signo = 0;
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t));
	ev.sigev_signo = 65;
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t));
	ev.sigev_signo = SIGRTMIN;
	ev.sigev_notify = 9;
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev._sigev_un._tid = 0x3ffff0;
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t));
	pid_t c = fork();
	if (c == 0) { pause(); _exit(0); }
	ev._sigev_un._tid = c;   /* a thread of another process */
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	ev.sigev_notify = SIGEV_SIGNAL | SIGEV_THREAD_ID;
	ev._sigev_un._tid = gettid();
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t) >= 0);
	syscall(SYS_timer_delete, t);
	int clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_TAI};
	ev.sigev_notify = SIGEV_NONE;
	for (int i = 0; i < (int)(sizeof clocks / sizeof clocks[0]); i++) {
		errno = 0;
		long r = syscall(SYS_timer_create, clocks[i], &ev, &t);
		printf("timer_create clock %d = %s\n", clocks[i], r < 0 ? errname(errno) : "OK");
		if (r == 0) syscall(SYS_timer_delete, t);
	}
	/* SIGEV_NONE: nothing is delivered, gettime counts down */
	timer_t tn;
	syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &tn);
	struct itimerspec its = {{0, 0}, {100, 0}}, cur;
	CHECK(syscall(SYS_timer_settime, tn, 0, &its, NULL));
	CHECK(syscall(SYS_timer_gettime, tn, &cur));
	printf("SIGEV_NONE remaining in (90,100]=%d\n", cur.it_value.tv_sec >= 90 && cur.it_value.tv_sec < 100);
	its.it_value.tv_nsec = 1000000000;
	CHECK(syscall(SYS_timer_settime, tn, 0, &its, NULL));
	its.it_value.tv_nsec = 0;
	its.it_interval.tv_nsec = -1;
	CHECK(syscall(SYS_timer_settime, tn, 0, &its, NULL));
	its.it_interval.tv_nsec = 0;
	CHECK(syscall(SYS_timer_settime, tn, 99, &its, NULL));
	CHECK(syscall(SYS_timer_settime, (timer_t)(long)12345, 0, &its, NULL));
	CHECK(syscall(SYS_timer_gettime, (timer_t)(long)12345, &cur));
	CHECK(syscall(SYS_timer_getoverrun, (timer_t)(long)12345));
	CHECK(syscall(SYS_timer_settime, tn, 0, NULL, NULL));
	memset(&its, 0, sizeof its);
	CHECK(syscall(SYS_timer_settime, tn, 0, &its, &cur));
	CHECK(syscall(SYS_timer_gettime, tn, &cur));
	printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
	/* absolute time in the past fires at once */
	CHECK(syscall(SYS_timer_delete, tn));
	CHECK(syscall(SYS_timer_delete, tn));

	/* SIGEV_THREAD_ID: the signal goes to that thread */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &s, NULL);
	pthread_t th;
	pthread_create(&th, NULL, sigthread, NULL);
	while (!target_tid) usleep(1000);
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN;
	ev._sigev_un._tid = target_tid;
	ev.sigev_value.sival_int = 77;
	syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t);
	struct itimerspec once = {{0, 0}, {0, 1000000}};
	syscall(SYS_timer_settime, t, 0, &once, NULL);
	pthread_join(th, NULL);
	sigset_t pend;
	sigpending(&pend);
	printf("thread got it=%d code=%d (SI_TIMER=%d) process pending=%d\n", got_in_thread, got_code, SI_TIMER, sigismember(&pend, SIGRTMIN));
	syscall(SYS_timer_delete, t);

	/* overruns: a 1 ms periodic timer while its signal is blocked */
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGRTMIN;
	ev.sigev_value.sival_int = 5;
	syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &t);
	struct itimerspec per = {{0, 1000000}, {0, 1000000}};
	syscall(SYS_timer_settime, t, 0, &per, NULL);
	usleep(100000);
	siginfo_t si;
	int r = sigwaitinfo(&s, &si);
	printf("periodic: sig ok=%d code=%d value=%d overrun>0=%d getoverrun>=0=%d\n", r == SIGRTMIN, si.si_code, si.si_value.sival_int,
	       si.si_overrun > 0, syscall(SYS_timer_getoverrun, t) >= 0);
	memset(&per, 0, sizeof per);
	syscall(SYS_timer_settime, t, 0, &per, NULL);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&s, &si, &zero) > 0) ;
	printf("getoverrun after disarm=%ld\n", syscall(SYS_timer_getoverrun, t));
	syscall(SYS_timer_delete, t);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
}

static void persona(void) {
	int cur = personality(0xffffffff);
	printf("personality now=%#x\n", cur);
	CHECK(personality(ADDR_NO_RANDOMIZE));
	printf("personality now=%#x\n", personality(0xffffffff));
	CHECK(personality(READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE));
	printf("personality now=%#x\n", personality(0xffffffff));
	CHECK(personality(0x12345678));
	printf("personality now=%#x\n", personality(0xffffffff));
	CHECK(personality(PER_LINUX32));
	printf("personality now=%#x\n", personality(0xffffffff));
	personality(cur);
	pid_t c = fork();
	if (c == 0) { personality(ADDR_NO_RANDOMIZE); _exit(personality(0xffffffff) == ADDR_NO_RANDOMIZE); }
	int st;
	waitpid(c, &st, 0);
	printf("child personality ok=%d, parent unchanged=%d\n", WEXITSTATUS(st), personality(0xffffffff) == cur);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	basic();
	pifutex();
	robust();
	timers();
	persona();
	return 0;
}
