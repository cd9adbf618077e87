#include "common.h"
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <utime.h>

/* The older ways to set file times (utimes, futimesat, utime), and capget. */

int main(void) {
	workdir("times");
	int fd = open("f", O_CREAT | O_WRONLY, 0644);
	close(fd);
	struct timeval tv[2] = {{1000000000, 250000}, {1100000000, 500000}};
	CHECK(utimes("f", tv));
	struct stat st;
	stat("f", &st);
	printf("atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	tv[0].tv_usec = 1000000;
	CHECK(utimes("f", tv));
	CHECK(utimes("missing", NULL));
	CHECK(utimes("f", NULL));
	stat("f", &st);
	printf("now-ish: %d\n", st.st_mtim.tv_sec > 1700000000);
	tv[0].tv_usec = 0;
	int d = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(syscall(SYS_futimesat, d, "f", tv));
	stat("f", &st);
	printf("futimesat mtime %ld\n", (long)st.st_mtim.tv_sec);
	struct utimbuf ub = {123456789, 987654321};
	CHECK(utime("f", &ub));
	stat("f", &st);
	printf("utime %ld %ld nsec %ld\n", (long)st.st_atim.tv_sec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	CHECK(utime("f", NULL));
	/* capget */
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	CHECK(syscall(SYS_capget, &h, data));
	printf("eff %x %x perm %x %x inh %x\n", data[0].effective, data[1].effective, data[0].permitted, data[1].permitted, data[0].inheritable);
	h.version = 0x1234;
	CHECK(syscall(SYS_capget, &h, NULL));
	printf("preferred %x\n", h.version);
	h.version = 0x1234;
	CHECK(syscall(SYS_capget, &h, data));
	h.version = _LINUX_CAPABILITY_VERSION_1;
	h.pid = 999999;
	CHECK(syscall(SYS_capget, &h, data));
	h.pid = -1;
	CHECK(syscall(SYS_capget, &h, data));
	return 0;
}
