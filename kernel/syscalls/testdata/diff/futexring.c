#include "common.h"
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>

/* futex(2) under contention: a token passed round a ring of threads thousands of times
 * with FUTEX_WAIT and FUTEX_WAKE (a lost wake-up hangs it), and FUTEX_CMP_REQUEUE moving
 * sleeping waiters from one word to another (man 2 futex: the count returned is woken plus
 * requeued; EAGAIN when the word no longer holds val3). */

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val, long val2, _Atomic uint32_t *uaddr2, uint32_t val3) {
	return syscall(SYS_futex, uaddr, op, val, val2, uaddr2, val3);
}

#define RING 6
#define ROUNDS 1000

static _Atomic uint32_t turn[RING];
static int passes[RING];

static void *ring(void *arg) {
	int i = (int)(intptr_t)arg;
	for (;;) {
		while (atomic_load(&turn[i]) == 0)
			futex(&turn[i], FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0);
		uint32_t v = atomic_exchange(&turn[i], 0);
		if (v == 2) /* the end */
			return NULL;
		passes[i]++;
		int next = (i + 1) % RING;
		int done = i == RING - 1 && passes[i] == ROUNDS;
		atomic_store(&turn[next], done ? 2 : 1);
		futex(&turn[next], FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
		if (done) {
			/* Stop the others: each passes the end on. */
			for (int j = 0; j < RING; j++) {
				if (j != i) {
					atomic_store(&turn[j], 2);
					futex(&turn[j], FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
				}
			}
			return NULL;
		}
	}
}

static _Atomic uint32_t cond, mutex;
static int woke;
static pthread_mutex_t woke_mu = PTHREAD_MUTEX_INITIALIZER;

static void *waiter(void *arg) {
	(void)arg;
	long r;
	do
		r = futex(&cond, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0);
	while (r == -1 && errno == EINTR);
	pthread_mutex_lock(&woke_mu);
	woke++;
	pthread_mutex_unlock(&woke_mu);
	return NULL;
}

int main(void) {
	pthread_t th[RING];
	for (int i = 0; i < RING; i++)
		pthread_create(&th[i], NULL, ring, (void *)(intptr_t)i);
	atomic_store(&turn[0], 1);
	futex(&turn[0], FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
	for (int i = 0; i < RING; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < RING; i++)
		printf("ring thread %d passed the token %d times\n", i, passes[i]);

	/* Four waiters on cond. Moving them to mutex (no wake) until all four have moved
	 * needs no knowledge of when each goes to sleep: each is moved once, when it sleeps. */
	pthread_t w[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&w[i], NULL, waiter, (void *)(intptr_t)i);
	long moved = 0;
	for (int tries = 0; moved < 4 && tries < 30000; tries++) {
		long r = futex(&cond, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, &mutex, 0);
		if (r > 0)
			moved += r;
		else
			usleep(1000);
	}
	printf("moved to mutex: %ld\n", moved);
	/* CMP_REQUEUE wakes one and moves three back to cond; EAGAIN when mutex is not val3. */
	CHECK(futex(&mutex, FUTEX_CMP_REQUEUE_PRIVATE, 1, INT_MAX, &cond, 7));
	CHECK(futex(&mutex, FUTEX_CMP_REQUEUE_PRIVATE, 1, INT_MAX, &cond, 0));
	/* The requeued three sleep on cond now: waking mutex finds nobody. */
	CHECK(futex(&mutex, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0));
	CHECK(futex(&cond, FUTEX_WAKE_PRIVATE, 2, 0, NULL, 0));
	/* REQUEUE (no compare) of the last one onto its own word counts it as moved. */
	CHECK(futex(&cond, FUTEX_REQUEUE_PRIVATE, 0, 1, &cond, 0));
	CHECK(futex(&cond, FUTEX_WAKE_PRIVATE, INT_MAX, 0, NULL, 0));
	for (int i = 0; i < 4; i++)
		pthread_join(w[i], NULL);
	printf("waiters woken: %d\n", woke);

	/* FUTEX_WAIT returns EAGAIN at once when the word differs, EINVAL on a misaligned one. */
	_Atomic uint32_t *one = &mutex;
	atomic_store(one, 1);
	CHECK(futex(one, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0));
	CHECK(futex((_Atomic uint32_t *)((char *)&turn[0] + 1), FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0));
	return 0;
}
