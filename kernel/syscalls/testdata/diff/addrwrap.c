/* Structures the kernel writes field by field at addresses near the top of the address
 * space: an address that would wrap around is EFAULT, never a write at a low address
 * (pipe(2), io_cancel(2), sendmmsg(2), recvmmsg(2), recvmsg(2)). */
#include "common.h"
#include <stdint.h>
#include <linux/aio_abi.h>
#include <sys/socket.h>
#include <sys/syscall.h>

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	const uintptr_t top = UINTPTR_MAX;
	CHECK(pipe((int *)(top - 3)));
	CHECK(pipe((int *)(top - 7)));
	CHECK(pipe((int *)(top - 8 + 1 - 4096)));
	aio_context_t ctx = 0;
	CHECK(syscall(SYS_io_setup, 4, &ctx));
	struct io_event ev;
	CHECK(syscall(SYS_io_cancel, ctx, (struct iocb *)(top - 4), &ev));
	CHECK(syscall(SYS_io_cancel, ctx, (struct iocb *)(top - 15), &ev));
	CHECK(syscall(SYS_io_destroy, ctx));
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	CHECK(sendmmsg(sv[0], (struct mmsghdr *)(top - 63), 2, 0));
	CHECK(recvmmsg(sv[1], (struct mmsghdr *)(top - 63), 2, MSG_DONTWAIT, NULL));
	CHECK(recvmsg(sv[1], (struct msghdr *)(top - 7), MSG_DONTWAIT));
	/* msg_len written back after a good header. */
	static char buf[8] = "hi";
	struct iovec iov = {buf, 2};
	struct mmsghdr one = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
	CHECK(sendmmsg(sv[0], &one, 1, 0));
	CHECK(recvmmsg(sv[1], &one, 1, MSG_DONTWAIT, NULL));
	printf("msg_len %u\n", one.msg_len);
	return 0;
}
