/* sbx-diff: host-rw-dir
 * copy_file_range(2) across filesystems: a host file (served by the gofer), a tmpfs file
 * (/dev/shm), a procfs file and a device. Files of two filesystems are EXDEV after the
 * file checks (EINVAL for a non-regular file) and before the offsets and count are
 * looked at; two host files copy. */
#include "common.h"

int main(int argc, char **argv) {
	char p[256], q[256], s[64];
	snprintf(p, sizeof p, "%s/cfr-src-XXXXXX", argv[1]);
	int a = mkstemp(p);
	write(a, "0123456789", 10);
	snprintf(s, sizeof s, "/dev/shm/sbxdiff-cfr-XXXXXX");
	int b = mkstemp(s);
	loff_t x = 0, y = 0;
	CHECK(copy_file_range(a, &x, b, &y, 10, 0));
	CHECK(copy_file_range(b, &y, a, &x, 10, 0));
	CHECK(copy_file_range(a, &x, b, &y, 0, 0));
	int d = open("/dev/null", O_WRONLY);
	CHECK(copy_file_range(a, &x, d, NULL, 10, 0));
	int pr = open("/proc/self/status", O_RDONLY);
	CHECK(copy_file_range(pr, NULL, b, NULL, 10, 0));
	snprintf(q, sizeof q, "%s/cfr-dst-XXXXXX", argv[1]);
	int e = mkstemp(q);
	x = 0;
	CHECK(copy_file_range(a, &x, e, NULL, 10, 0));
	char buf[16] = {0};
	CHECK(pread(e, buf, sizeof buf - 1, 0));
	printf("  copied %s\n", buf);
	write(b, "abc", 3);
	int b2 = open("/dev/shm", O_TMPFILE | O_RDWR, 0600);
	CHECK(copy_file_range(b, &(loff_t){0}, b2, NULL, 10, 0));
	unlink(p); unlink(q); unlink(s);
	return 0;
}
