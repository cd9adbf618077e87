#include "common.h"
#include <linux/aio_abi.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

/* Linux AIO on a regular file (io_setup(2), io_submit(2), io_getevents(2), io_cancel(2),
 * io_destroy(2)): argument checks, reads, writes, vectored and fsync requests, completion
 * events with their data and results, eventfd notification, timeouts. */

static long setup(unsigned n, aio_context_t *c) { return syscall(SYS_io_setup, n, c); }
static long submit(aio_context_t c, long n, struct iocb **l) { return syscall(SYS_io_submit, c, n, l); }
static long getev(aio_context_t c, long mn, long n, struct io_event *e, struct timespec *ts) {
	return syscall(SYS_io_getevents, c, mn, n, e, ts);
}

int main(void) {
	workdir("aio");
	int fd = open("f", O_RDWR | O_CREAT, 0600);
	CHECK(write(fd, "hello, world", 12));
	aio_context_t ctx = 1;
	CHECK(setup(4, &ctx));
	ctx = 0;
	CHECK(setup(0, &ctx));
	CHECK(setup(4, (aio_context_t *)8));
	CHECK(setup(4, &ctx));
	aio_context_t ctx2 = 0;
	CHECK(setup(1, &ctx2));
	CHECK(syscall(SYS_io_destroy, ctx2));
	CHECK(syscall(SYS_io_destroy, ctx2));
	CHECK(syscall(SYS_io_destroy, 0));

	char rbuf[32] = {0};
	struct iocb rd = {.aio_data = 11, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = fd,
		.aio_buf = (uintptr_t)rbuf, .aio_nbytes = 5, .aio_offset = 7};
	struct iocb wr = {.aio_data = 22, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_fildes = fd,
		.aio_buf = (uintptr_t)"HELLO", .aio_nbytes = 5, .aio_offset = 0};
	struct iocb *list[4] = {&rd, &wr};
	CHECK(submit(ctx, -1, list));
	CHECK(submit(0, 1, list));
	CHECK(submit(ctx, 0, list));
	CHECK(submit(ctx, 1, (struct iocb **)8));
	CHECK(submit(ctx, 2, list));
	struct io_event ev[8];
	struct timespec zero = {0, 0}, short_ = {0, 30000000};
	CHECK(getev(ctx, 3, 2, ev, &zero));
	CHECK(getev(ctx, -1, 2, ev, &zero));
	CHECK(getev(0, 0, 2, ev, &zero));
	CHECK(getev(ctx, 0, 8, ev, (struct timespec *)8));
	long n = getev(ctx, 2, 8, ev, NULL);
	printf("events %ld\n", n);
	for (int i = 0; i < n; i++)
		printf("data %llu obj ok %d res %lld res2 %lld\n", ev[i].data,
			ev[i].obj == (uintptr_t)(ev[i].data == 11 ? &rd : &wr), ev[i].res, ev[i].res2);
	printf("read [%s]\n", rbuf);
	char back[16] = {0};
	CHECK(pread(fd, back, 12, 0));
	printf("file [%s]\n", back);
	CHECK(getev(ctx, 1, 8, ev, &short_));
	CHECK(getev(ctx, 0, 8, ev, &zero));
	/* Bad requests. */
	struct iocb bad = rd;
	bad.aio_reserved2 = 1;
	list[0] = &bad;
	CHECK(submit(ctx, 1, list));
	bad = rd; bad.aio_fildes = 99;
	CHECK(submit(ctx, 1, list));
	bad = rd; bad.aio_lio_opcode = 42;
	CHECK(submit(ctx, 1, list));
	bad = rd; bad.aio_nbytes = (uint64_t)-1;
	CHECK(submit(ctx, 1, list));
	bad = rd; bad.aio_rw_flags = 0x80000000;
	CHECK(submit(ctx, 1, list));
	int ro = open("f", O_RDONLY);
	bad = wr; bad.aio_fildes = ro;
	CHECK(submit(ctx, 1, list));
	bad = rd; bad.aio_offset = -1;
	CHECK(submit(ctx, 1, list));
	bad = rd; bad.aio_offset = INT64_MAX;
	CHECK(submit(ctx, 1, list));
	CHECK(getev(ctx, 1, 8, ev, &zero));
	/* A bad second request: the first one counts. */
	list[0] = &rd; list[1] = &bad; bad.aio_fildes = 99;
	CHECK(submit(ctx, 2, list));
	CHECK(getev(ctx, 1, 8, ev, &zero));
	/* Vectored requests, fsync, eventfd notification. */
	char a[3] = {0}, b[4] = {0};
	struct iovec iov[2] = {{a, 2}, {b, 3}};
	struct iocb rv = {.aio_data = 33, .aio_lio_opcode = IOCB_CMD_PREADV, .aio_fildes = fd,
		.aio_buf = (uintptr_t)iov, .aio_nbytes = 2, .aio_offset = 0};
	int efd = eventfd(0, 0);
	struct iocb fs = {.aio_data = 44, .aio_lio_opcode = IOCB_CMD_FSYNC, .aio_fildes = fd,
		.aio_flags = IOCB_FLAG_RESFD, .aio_resfd = efd};
	list[0] = &rv; list[1] = &fs;
	CHECK(submit(ctx, 2, list));
	uint64_t cnt = 0;
	CHECK(read(efd, &cnt, 8));
	printf("eventfd %llu\n", (unsigned long long)cnt);
	n = getev(ctx, 2, 2, ev, NULL);
	printf("events %ld: %llu %lld, %llu %lld; [%s][%s]\n", n, ev[0].data, ev[0].res, ev[1].data, ev[1].res, a, b);
	list[0] = &rd;
	CHECK(syscall(SYS_io_cancel, ctx, &rd, ev));
	CHECK(syscall(SYS_io_cancel, ctx, (struct iocb *)8, ev));
	/* A forked child does not share the context. */
	pid_t c = fork();
	if (c == 0)
		_exit(submit(ctx, 1, list) == -1 && errno == EINVAL ? 0 : 1);
	int st;
	CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	CHECK(syscall(SYS_io_destroy, ctx));
	CHECK(submit(ctx, 1, list));
	return 0;
}
