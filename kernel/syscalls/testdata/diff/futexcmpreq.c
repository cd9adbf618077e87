#include "common.h"
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

/* FUTEX_CMP_REQUEUE compares the word and requeues as one step (futex(2)): it moves only
 * waiters that were already waiting when the word held the value it compared with.
 *
 * The word F only grows: a waker thread increments it and wakes every waiter on it. Each
 * waiter waits on F with the value it read, and a wait-bitset naming that value (bit
 * value % 32). Two requeuer threads each read F and CMP_REQUEUE every waiter from F to a
 * word of their own; right after a successful requeue with value v, the requeuer wakes its
 * word with a bitset of the values v+1..v+16 first: any waiter woken there was waiting on a
 * value F took after the comparison, which a correct CMP_REQUEUE never moves. Then it
 * wakes the rest, so no waiter stays on its word. A lost waiter would hang the program. */

static _Atomic unsigned F;
static unsigned M[2];
static atomic_int stop, bad, requeues;

static long futex(void *addr, int op, unsigned val, unsigned long val2, void *addr2, unsigned val3) {
	return syscall(SYS_futex, addr, op, val, val2, addr2, val3);
}

static void *waiter(void *arg) {
	while (!atomic_load(&stop)) {
		unsigned v = atomic_load(&F);
		futex(&F, FUTEX_WAIT_BITSET_PRIVATE, v, 0, NULL, 1u << (v % 32));
	}
	return NULL;
}

static void *waker(void *arg) {
	while (!atomic_load(&stop)) {
		atomic_fetch_add(&F, 1);
		futex(&F, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0);
		if (atomic_load(&F) % 64 == 0)
			usleep(100);
	}
	return NULL;
}

static void *requeuer(void *arg) {
	unsigned *m = &M[(long)arg];
	while (!atomic_load(&stop)) {
		unsigned v = atomic_load(&F);
		long r = futex(&F, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, m, v);
		if (r < 0 && errno != EAGAIN) {
			printf("CMP_REQUEUE: %s\n", errname(errno));
			atomic_fetch_add(&bad, 1);
		}
		if (r > 0) {
			atomic_fetch_add(&requeues, 1);
			unsigned later = 0;
			for (unsigned d = 1; d <= 16; d++)
				later |= 1u << ((v + d) % 32);
			long n = futex(m, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, NULL, later);
			if (n > 0)
				atomic_fetch_add(&bad, n);
		}
		futex(m, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0);
	}
	return NULL;
}

int main(void) {
	alarm(60); /* a lost wake-up hangs: fail rather than wait forever */
	enum { W = 6, ROUNDS = 20000 };
	pthread_t ws[W], wk, rq[2];
	for (int i = 0; i < W; i++)
		pthread_create(&ws[i], NULL, waiter, NULL);
	pthread_create(&rq[0], NULL, requeuer, (void *)0);
	pthread_create(&rq[1], NULL, requeuer, (void *)1);
	pthread_create(&wk, NULL, waker, NULL);
	while (atomic_load(&F) < ROUNDS)
		usleep(1000);
	atomic_store(&stop, 1);
	pthread_join(wk, NULL);
	pthread_join(rq[0], NULL);
	pthread_join(rq[1], NULL);
	/* Release the waiters: each wakes, sees stop and leaves. */
	for (int i = 0; i < W; i++) {
		for (;;) {
			atomic_fetch_add(&F, 1);
			futex(&F, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0);
			futex(&M[0], FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0);
			futex(&M[1], FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0);
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(ws[i], NULL, &ts) == 0)
				break;
		}
	}
	printf("waiters moved by a comparison with a value they never waited on: %d\n", atomic_load(&bad));
	printf("some requeues succeeded: %s\n", atomic_load(&requeues) > 0 ? "yes" : "no");

	/* The documented cases, with no other thread around. */
	unsigned w = 5, w2 = 0;
	CHECK(futex(&w, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &w2, 4));
	CHECK(futex(&w, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &w2, 5));
	CHECK(futex(&w, FUTEX_CMP_REQUEUE, 1, 1, &w2, 5));
	CHECK(futex((void *)8, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &w2, 5));
	CHECK(futex((char *)&w + 1, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &w2, 5));
	return 0;
}
