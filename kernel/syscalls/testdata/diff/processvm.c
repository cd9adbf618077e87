/* process_vm_readv/writev, from process_vm_readv(2): transfers between iovecs of two
 * processes in order, partial transfers, the ptrace access check (same IDs and dumpable,
 * or CAP_SYS_PTRACE), and the error cases. Crash reporters use them. */
#include "common.h"
#include <signal.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

static char remote_buf[64] = "hello from the child process";
static char remote2[16] = "second";

int main(void) {
	int go[2], back[2];
	pipe(go);
	pipe(back);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		strcpy(remote_buf, "child's own data: 0123456789");
		write(back[1], "r", 1);
		char c;
		read(go[0], &c, 1); /* the parent wrote into us */
		printf("child sees: %s\n", remote_buf);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		write(back[1], "d", 1);
		read(go[0], &c, 1);
		fflush(stdout);
		_exit(0);
	}
	char c;
	read(back[0], &c, 1);
	char a[10] = {0}, b[40] = {0};
	struct iovec local[2] = {{a, 5}, {b, 30}};
	struct iovec remote[2] = {{remote_buf, 12}, {remote_buf + 12, 16}};
	CHECK(process_vm_readv(pid, local, 2, remote, 2, 0));
	printf("read: [%s] [%s]\n", a, b);
	CHECK(process_vm_readv(pid, local, 2, remote, 2, 1));
	CHECK(process_vm_readv(pid, local, 1025, remote, 2, 0));
	CHECK(process_vm_readv(pid, local, 2, (void *)8, 2, 0));
	CHECK(process_vm_readv(pid, local, 0, remote, 2, 0));
	CHECK(process_vm_readv(0x3ffffff0, local, 2, remote, 2, 0));
	struct iovec bad_remote[2] = {{(void *)4096, 8}, {remote_buf, 8}};
	CHECK(process_vm_readv(pid, local, 2, bad_remote, 2, 0));
	struct iovec then_bad[2] = {{remote_buf, 8}, {(void *)4096, 8}};
	CHECK(process_vm_readv(pid, local, 2, then_bad, 2, 0));
	struct iovec bad_local[2] = {{a, 4}, {(void *)4096, 8}};
	CHECK(process_vm_readv(pid, bad_local, 2, remote, 2, 0));
	struct iovec short_local[1] = {{b, 3}};
	CHECK(process_vm_readv(pid, short_local, 1, remote, 2, 0));

	struct iovec wl[1] = {{"WRITTEN", 7}};
	struct iovec wr[1] = {{remote_buf, 7}};
	CHECK(process_vm_writev(pid, wl, 1, wr, 1, 0));
	struct iovec wbad[1] = {{(void *)4096, 7}};
	CHECK(process_vm_writev(pid, wl, 1, wbad, 1, 0));
	write(go[1], "g", 1);
	read(back[0], &c, 1); /* the child is no longer dumpable */
	errno = 0;
	long r = process_vm_readv(pid, local, 2, remote, 2, 0);
	printf("non-dumpable: %s\n", r >= 0 ? "read" : errname(errno));
	write(go[1], "g", 1);
	waitpid(pid, 0, 0);

	/* our own process */
	struct iovec self_l[1] = {{a, 6}};
	struct iovec self_r[1] = {{remote2, 6}};
	CHECK(process_vm_readv(getpid(), self_l, 1, self_r, 1, 0));
	printf("self: %.6s\n", a);
	return 0;
}
