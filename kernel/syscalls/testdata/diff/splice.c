#include "common.h"
#include <fcntl.h>
#include <sys/uio.h>

/* splice between files and pipes (with and without offsets), tee, vmsplice, errors. */

int main(void) {
	workdir("splice");
	int f = open("src", O_RDWR | O_CREAT, 0644);
	CHECK(write(f, "0123456789abcdefghij", 20));
	int p[2], q[2];
	pipe(p);
	pipe(q);
	loff_t off = 5;
	CHECK(splice(f, &off, p[1], NULL, 8, 0));
	printf("offset now %ld, file position %ld\n", (long)off, (long)lseek(f, 0, SEEK_CUR));
	CHECK(tee(p[0], q[1], 100, 0));
	char buf[32] = {0};
	CHECK(read(q[0], buf, sizeof buf));
	printf("tee copy: %s\n", buf);
	int g = open("dst", O_RDWR | O_CREAT, 0644);
	CHECK(splice(p[0], NULL, g, NULL, 3, 0));
	loff_t goff = 10;
	CHECK(splice(p[0], NULL, g, &goff, 100, 0));
	memset(buf, 0, sizeof buf);
	CHECK(pread(g, buf, sizeof buf, 0));
	printf("dst: %.3s + at 10: %s, goff %ld\n", buf, buf + 10, (long)goff);
	/* Without an offset the file position is used and advanced. */
	lseek(f, 15, SEEK_SET);
	CHECK(splice(f, NULL, p[1], NULL, 100, 0));
	CHECK(lseek(f, 0, SEEK_CUR));
	memset(buf, 0, sizeof buf);
	CHECK(read(p[0], buf, sizeof buf));
	printf("rest: %s\n", buf);
	/* vmsplice app memory into a pipe. */
	struct iovec iov[2] = {{"vm", 2}, {"splice", 6}};
	CHECK(vmsplice(p[1], iov, 2, 0));
	memset(buf, 0, sizeof buf);
	CHECK(read(p[0], buf, sizeof buf));
	printf("vmsplice: %s\n", buf);
	/* Errors. */
	CHECK(splice(f, NULL, g, NULL, 10, 0));
	CHECK(splice(p[0], &off, g, NULL, 10, 0));
	CHECK(splice(p[0], NULL, g, NULL, 10, SPLICE_F_NONBLOCK));
	CHECK(tee(p[0], p[1], 10, 0));
	CHECK(tee(f, q[1], 10, 0));
	CHECK(splice(f, NULL, p[1], NULL, 10, 0x100));
	return 0;
}
