#include "common.h"
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* FUTEX_WAKE_OP (futex(2)): apply an operation to the word at uaddr2 atomically, wake
 * waiters on uaddr, and, when the word's old value passes the comparison, waiters on
 * uaddr2 too; the second wake count travels in the timeout argument. Qt 5's QMutex and
 * QWaitCondition wake with it: without it a Qt app's main thread waits forever. */

static long futex(void *addr, int op, unsigned val, unsigned long val2, void *addr2, unsigned val3) {
	return syscall(SYS_futex, addr, op, val, val2, addr2, val3);
}

static _Atomic unsigned w1, w2;

static void *wait_on(void *arg) {
	_Atomic unsigned *w = arg;
	unsigned v = atomic_load(w);
	long r;
	/* Wait until the word changes, however often the wait is ended early. */
	do
		r = futex(w, FUTEX_WAIT_PRIVATE, v, 0, NULL, 0);
	while (atomic_load(w) == v && (r == 0 || errno == EINTR));
	return NULL;
}

static _Atomic unsigned w3;
static atomic_int cstop;

/* cmp_waiter waits on w3 for whatever value it holds, again and again. */
static void *cmp_waiter(void *arg) {
	while (!atomic_load(&cstop))
		futex(&w3, FUTEX_WAIT_PRIVATE, atomic_load(&w3), 0, NULL, 0);
	return NULL;
}

/* cmp_wake gives w3 the value old, waits until cmp_waiter waits on it (a same-word
 * FUTEX_CMP_REQUEUE counts the waiters without waking them), and returns how many waiters
 * FUTEX_WAKE_OP woke on w3 (the comparison passed) with no waiter on uaddr. */
static long cmp_wake(unsigned old, unsigned op) {
	unsigned none = 0;
	atomic_store(&w3, old);
	futex(&w3, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
	while (futex(&w3, FUTEX_CMP_REQUEUE_PRIVATE, 0, 1, &w3, old) != 1)
		sched_yield();
	return futex(&none, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w3, op);
}

/* run applies one encoded operation to a word holding start, with no waiter, and prints
 * the result and what the word became. */
static void run(const char *what, unsigned start, unsigned op) {
	unsigned a = 0, b = start;
	errno = 0;
	long r = futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, &b, op);
	printf("%-34s start %-11d -> %ld %-7s word %d\n", what, (int)start, r, r < 0 ? errname(errno) : "OK", (int)b);
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Every operation, and the shift form. */
	run("SET 5", 1, FUTEX_OP(FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 0));
	run("ADD 5", 1, FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 0));
	run("ADD -1 (12-bit signed)", 1, FUTEX_OP(FUTEX_OP_ADD, 0xfff, FUTEX_OP_CMP_EQ, 0));
	run("OR 6", 9, FUTEX_OP(FUTEX_OP_OR, 6, FUTEX_OP_CMP_EQ, 0));
	run("ANDN 3", 15, FUTEX_OP(FUTEX_OP_ANDN, 3, FUTEX_OP_CMP_EQ, 0));
	run("XOR 5", 3, FUTEX_OP(FUTEX_OP_XOR, 5, FUTEX_OP_CMP_EQ, 0));
	run("SET 1<<4", 0, FUTEX_OP(FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_EQ, 0));
	run("OR 1<<31", 1, FUTEX_OP(FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT, 31, FUTEX_OP_CMP_EQ, 0));
	/* Unknown operations fail before the word is touched; unknown comparisons after. */
	run("op 5", 7, (5u << 28) | (1u << 12));
	run("op 7", 7, (7u << 28) | (1u << 12));
	run("cmp 6 (after SET 9)", 7, FUTEX_OP(FUTEX_OP_SET, 9, 6, 0));
	run("cmp 15 (after SET 9)", 7, FUTEX_OP(FUTEX_OP_SET, 9, 15, 0));
	/* The comparisons, with a negative old value too (signed), seen through a waiter on
	 * uaddr2: woken (1) when the comparison passes, left waiting (0) when it fails. */
	pthread_t cw;
	pthread_create(&cw, NULL, cmp_waiter, NULL);
	for (int cmp = FUTEX_OP_CMP_EQ; cmp <= FUTEX_OP_CMP_GE; cmp++) {
		static const int olds[] = {3, 2, -5, 4};
		for (int i = 0; i < 4; i++) {
			printf("cmp %d arg 3, old %2d: woke %ld\n", cmp, olds[i], cmp_wake(olds[i], FUTEX_OP(FUTEX_OP_ADD, 0, cmp, 3)));
		}
		printf("cmp %d arg -1, old -1: woke %ld\n", cmp, cmp_wake(-1, FUTEX_OP(FUTEX_OP_ADD, 0, cmp, 0xfff)));
	}
	atomic_store(&cstop, 1);
	atomic_fetch_add(&w3, 1);
	futex(&w3, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
	pthread_join(cw, NULL);

	/* Bad addresses: uaddr2 misaligned, unmapped, read-only. */
	unsigned a = 0;
	char buf[8] __attribute__((aligned(4))) = {0};
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned op = FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0);
	CHECK(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, buf + 1, op));
	CHECK(futex(buf + 1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &a, op));
	CHECK(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, (void *)8, op));
	CHECK(futex(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, ro, op));
	printf("read-only word after: %u\n", *(unsigned *)ro);

	/* Waking: a waiter on uaddr is woken whatever the comparison says; one on uaddr2 only
	 * when it passes. Each call is repeated until the waiter was queued (it returns 1). */
	pthread_t t;
	long r;
	pthread_create(&t, NULL, wait_on, &w1);
	while ((r = futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w2, FUTEX_OP(FUTEX_OP_ADD, 0, FUTEX_OP_CMP_NE, 0))) == 0)
		sched_yield();
	atomic_store(&w1, 1);
	futex(&w1, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
	pthread_join(t, NULL);
	printf("waiter on uaddr, comparison false: woke %ld\n", r);

	pthread_create(&t, NULL, wait_on, &w2);
	/* The waiter waits while w2 is 0; SET 0 keeps it so, EQ 0 passes. */
	while ((r = futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &w2, FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_EQ, 0))) == 0)
		sched_yield();
	atomic_store(&w2, 1);
	futex(&w2, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
	pthread_join(t, NULL);
	printf("waiter on uaddr2, comparison true: woke %ld\n", r);

	/* The classic use, a condition variable's signal: the waker sets the word to 1 and
	 * the waiter, woken through uaddr2, sees it. */
	atomic_store(&w2, 0);
	pthread_create(&t, NULL, wait_on, &w2);
	while ((r = futex(&w1, FUTEX_WAKE_OP_PRIVATE, 0, 1, &w2, FUTEX_OP(FUTEX_OP_ADD, 0, FUTEX_OP_CMP_EQ, 0))) == 0)
		sched_yield();
	printf("second wake count 1 (first 0): woke %ld\n", r);
	atomic_store(&w2, 1);
	futex(&w2, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0);
	pthread_join(t, NULL);
	printf("done\n");
	return 0;
}
