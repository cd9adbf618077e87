#include "common.h"
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

/* io_pgetevents(2): io_getevents with a signal mask in force while it waits (struct
 * __aio_sigset), its argument checks in Linux's order, and a pending signal the mask
 * unblocks interrupting the wait (its handler runs, the old mask comes back). */

struct aiosig { const sigset_t *mask; size_t size; };

static long pget(aio_context_t c, long mn, long n, struct io_event *e, struct timespec *ts, struct aiosig *s) {
	return syscall(SYS_io_pgetevents, c, mn, n, e, ts, s);
}

static volatile int got;
static void onusr1(int s) { (void)s; got++; }

int main(void) {
	workdir("aiopget");
	int fd = open("f", O_RDWR | O_CREAT, 0600);
	CHECK(write(fd, "hello", 5));
	aio_context_t ctx = 0;
	CHECK(syscall(SYS_io_setup, 4, &ctx));
	struct io_event ev[4];
	struct timespec zero = {0, 0}, short_ = {0, 10000000};
	sigset_t none, usr1;
	sigemptyset(&none);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	struct aiosig s = {&none, 8};
	CHECK(pget(ctx, 0, 4, ev, &zero, NULL));
	CHECK(pget(ctx, 0, 4, ev, &zero, &s));
	CHECK(pget(ctx, 1, 0, ev, &zero, &s));
	CHECK(pget(0, 0, 4, ev, &zero, &s));
	CHECK(pget(ctx, 0, 4, ev, (struct timespec *)8, &s));
	CHECK(pget(ctx, 0, 4, ev, &zero, (struct aiosig *)8));
	struct aiosig badsize = {&none, 4};
	CHECK(pget(ctx, 0, 4, ev, &zero, &badsize));
	struct aiosig badmask = {(sigset_t *)8, 8};
	CHECK(pget(ctx, 0, 4, ev, &zero, &badmask));
	struct aiosig nullmask = {NULL, 4};
	CHECK(pget(ctx, 0, 4, ev, &zero, &nullmask));

	char buf[8] = {0};
	struct iocb rd = {.aio_data = 7, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = fd,
		.aio_buf = (uintptr_t)buf, .aio_nbytes = 5, .aio_offset = 0};
	struct iocb *list[1] = {&rd};
	CHECK(syscall(SYS_io_submit, ctx, 1, list));
	CHECK(pget(ctx, 1, 4, ev, NULL, &s));
	printf("data %llu res %lld buf %s\n", ev[0].data, ev[0].res, buf);

	/* a pending SIGUSR1, blocked: a mask that unblocks it interrupts the wait */
	signal(SIGUSR1, onusr1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	raise(SIGUSR1);
	struct aiosig keep = {&usr1, 8};
	CHECK(pget(ctx, 1, 4, ev, &short_, &keep));
	printf("handler ran %d\n", got);
	CHECK(pget(ctx, 1, 4, ev, &short_, &s));
	printf("handler ran %d\n", got);
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("usr1 still blocked %d\n", sigismember(&now, SIGUSR1));
	CHECK(syscall(SYS_io_destroy, ctx));
	CHECK(pget(ctx, 0, 4, ev, &zero, &s));
	return 0;
}
