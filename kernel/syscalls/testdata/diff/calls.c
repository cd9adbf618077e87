/* Calls sbx had no handler for (issue 19 item 5), with their documented errors:
 * syslog(2), sched_rr_get_interval(2), ioprio_get/ioprio_set(2), removexattr(2),
 * sched_setattr/sched_getattr(2), get_mempolicy/set_mempolicy/mbind(2) on one node,
 * name_to_handle_at(2) (checked up to the filesystem's answer), open_by_handle_at(2). */
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>

struct sched_attr_v1 {
	unsigned size, policy;
	unsigned long long flags;
	int nice;
	unsigned prio;
	unsigned long long runtime, deadline, period;
	unsigned util_min, util_max;
};

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("syslog\n");
	char buf[256];
	CHECK(syscall(SYS_syslog, 3, buf, 0));
	CHECK(syscall(SYS_syslog, 99, buf, 10));
	CHECK(syscall(SYS_syslog, 3, NULL, 10) == -1 && errno == EINVAL ? -1 : 0);
	CHECK(syscall(SYS_syslog, 9, 0, 0) >= 0 ? 0 : -1);
	CHECK(syscall(SYS_syslog, 8, 0, 99));

	printf("sched_rr_get_interval\n");
	struct timespec ts = {7, 7};
	CHECK(sched_rr_get_interval(0, &ts));
	CHECK(sched_rr_get_interval(-1, &ts));
	CHECK(sched_rr_get_interval(0x7fffffff, &ts));
	CHECK(sched_rr_get_interval(0, (void *)8));

	printf("ioprio\n");
	CHECK(syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 5));
	CHECK(syscall(SYS_ioprio_get, 1, 0));
	CHECK(syscall(SYS_ioprio_get, 1, getpid()));
	CHECK(syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 8));
	CHECK(syscall(SYS_ioprio_set, 1, 0, (3 << 13)));
	CHECK(syscall(SYS_ioprio_get, 1, 0));
	CHECK(syscall(SYS_ioprio_set, 1, 0, (0 << 13) | 1));
	CHECK(syscall(SYS_ioprio_set, 1, 0, (5 << 13)));
	CHECK(syscall(SYS_ioprio_set, 9, 0, 0));
	CHECK(syscall(SYS_ioprio_get, 9, 0));
	CHECK(syscall(SYS_ioprio_get, 1, 0x7fffffff));

	printf("removexattr\n");
	workdir("calls");
	int fd = open("f", O_CREAT | O_RDWR, 0644);
	CHECK(removexattr("f", "user.none"));
	CHECK(removexattr("f", "nodot"));
	CHECK(removexattr("nofile", "user.x"));
	CHECK(fremovexattr(99, "user.x"));
	CHECK(lremovexattr("f", ""));
	CHECK(setxattr("f", "user.a", "hello", 5, 0));
	CHECK(setxattr("f", "user.a", "x", 1, XATTR_CREATE));
	CHECK(setxattr("f", "user.b", "x", 1, XATTR_REPLACE));
	CHECK(setxattr("f", "user.b", "", 0, XATTR_CREATE));
	CHECK(setxattr("f", "user.c", "x", 1, 4));
	CHECK(getxattr("f", "user.a", NULL, 0));
	CHECK(getxattr("f", "user.a", buf, 2));
	CHECK(getxattr("f", "user.a", buf, sizeof buf));
	CHECK(getxattr("f", "user.b", buf, sizeof buf));
	CHECK(fgetxattr(fd, "user.a", buf, sizeof buf));
	char names[256];
	ssize_t ln = listxattr("f", names, sizeof names);
	printf("names:");
	for (ssize_t i = 0; i < ln; i += strlen(names + i) + 1) if (!strncmp(names + i, "user.", 5)) printf(" %s", names + i);
	printf("\n");
	CHECK(removexattr("f", "user.a"));
	CHECK(removexattr("f", "user.a"));
	CHECK(getxattr("f", "user.a", buf, sizeof buf));
	CHECK(fremovexattr(fd, "user.b"));
	CHECK(setxattr("f", "trusted.t", "x", 1, 0) == 0 ? 0 : errno == EPERM ? -2 : -1);
	CHECK(symlink("f", "l"));
	CHECK(lsetxattr("l", "user.a", "x", 1, 0));
	CHECK(lgetxattr("l", "user.a", buf, sizeof buf));
	CHECK(mkfifo("p", 0644));
	CHECK(setxattr("p", "user.a", "x", 1, 0));
	CHECK(mkdir("d", 01777));
	CHECK(setxattr("d", "user.a", "x", 1, 0));
	CHECK(getxattr("d", "user.a", buf, sizeof buf));
	unlink("l");
	unlink("p");
	rmdir("d");

	printf("sched_attr\n");
	struct sched_attr_v1 at;
	memset(&at, 0xff, sizeof at);
	CHECK(syscall(SYS_sched_getattr, 0, &at, sizeof at, 0));
	printf("size %u policy %u flags %llu nice %d prio %u\n", at.size, at.policy, at.flags, at.nice, at.prio);
	CHECK(syscall(SYS_sched_getattr, 0, &at, 47, 0));
	CHECK(syscall(SYS_sched_getattr, 0, &at, sizeof at, 1));
	CHECK(syscall(SYS_sched_getattr, -1, &at, sizeof at, 0));
	CHECK(syscall(SYS_sched_getattr, 0x7fffffff, &at, sizeof at, 0));
	CHECK(syscall(SYS_sched_getattr, 0, NULL, sizeof at, 0));
	memset(&at, 0, sizeof at);
	at.size = sizeof at;
	at.nice = 5;
	CHECK(syscall(SYS_sched_setattr, 0, &at, 0));
	CHECK(syscall(SYS_sched_getattr, 0, &at, sizeof at, 0));
	printf("nice now %d, getpriority agrees %d\n", at.nice, getpriority(PRIO_PROCESS, 0) == 5);
	at.nice = 3;
	CHECK(syscall(SYS_sched_setattr, 0, &at, 0) == 0 || getuid() != 0 ? 0 : -1);
	at.nice = 0;
	at.prio = 5;
	CHECK(syscall(SYS_sched_setattr, 0, &at, 0));
	at.prio = 0;
	at.policy = 77;
	CHECK(syscall(SYS_sched_setattr, 0, &at, 0));
	at.policy = 0;
	at.size = 20;
	CHECK(syscall(SYS_sched_setattr, 0, &at, 0));
	printf("size written back %u\n", at.size);
	at.size = sizeof at;
	CHECK(syscall(SYS_sched_setattr, 0, &at, 1));
	CHECK(syscall(SYS_sched_setattr, 0, NULL, 0));
	at.flags = 1 << 20;
	CHECK(syscall(SYS_sched_setattr, 0, &at, 0));

	printf("mempolicy\n");
	int mode = -1;
	unsigned long mask[4] = {0};
	CHECK(syscall(SYS_get_mempolicy, &mode, mask, 64, 0, 0));
	printf("mode %d mask %lx\n", mode, mask[0]);
	CHECK(syscall(SYS_get_mempolicy, &mode, mask, 64, 0, 4));
	printf("allowed %lx\n", mask[0]);
	CHECK(syscall(SYS_get_mempolicy, &mode, mask, 64, 0, 99));
	CHECK(syscall(SYS_get_mempolicy, &mode, mask, 64, 0, 1));
	CHECK(syscall(SYS_get_mempolicy, &mode, mask, 64, (void *)16, 2));
	CHECK(syscall(SYS_get_mempolicy, &mode, mask, 64, &mode, 2));
	unsigned long one = 1, two = 2;
	CHECK(syscall(SYS_set_mempolicy, 2, &one, 64));
	CHECK(syscall(SYS_get_mempolicy, &mode, mask, 64, 0, 0));
	printf("mode %d mask %lx\n", mode, mask[0]);
	CHECK(syscall(SYS_set_mempolicy, 2, &two, 64));
	CHECK(syscall(SYS_set_mempolicy, 2, NULL, 0));
	CHECK(syscall(SYS_set_mempolicy, 0, &one, 64));
	CHECK(syscall(SYS_set_mempolicy, 9, NULL, 0));
	CHECK(syscall(SYS_set_mempolicy, 0, NULL, 0));
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(syscall(SYS_mbind, m, 8192, 2, &one, 64, 0));
	CHECK(syscall(SYS_mbind, m + 1, 8192, 2, &one, 64, 0));
	CHECK(syscall(SYS_mbind, m, 8192, 2, &one, 64, 1 << 7));
	munmap(m + 4096, 4096);
	CHECK(syscall(SYS_mbind, m, 8192, 0, NULL, 0, 0));
	CHECK(syscall(SYS_mbind, m, 8192, 2, NULL, 0, 0));

	printf("name_to_handle_at\n");
	struct { unsigned bytes; int type; unsigned char h[128]; } fh = {200, 0};
	int mnt;
	CHECK(syscall(SYS_name_to_handle_at, AT_FDCWD, "f", &fh, &mnt, 0x4000000));
	CHECK(syscall(SYS_name_to_handle_at, AT_FDCWD, "nofile", &fh, &mnt, 0));
	CHECK(syscall(SYS_name_to_handle_at, AT_FDCWD, "f", &fh, &mnt, 0));

	/* open_by_handle_at's checks, in Linux's order; a handle no filesystem made is stale
	 * (for a caller with CAP_DAC_READ_SEARCH; EPERM for others). */
	printf("open_by_handle_at\n");
	CHECK(syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY));
	fh.bytes = 0;
	CHECK(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
	fh.bytes = 129;
	CHECK(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
	fh.bytes = 8;
	fh.type = -1;
	CHECK(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
	fh.type = 0x40000;
	CHECK(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
	fh.type = 1;
	CHECK(syscall(SYS_open_by_handle_at, 999, &fh, O_RDONLY));
	CHECK(syscall(SYS_open_by_handle_at, -5, &fh, O_RDONLY));
	CHECK(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
	CHECK(syscall(SYS_open_by_handle_at, fd, &fh, O_RDONLY));
	close(fd);
	unlink("f");
	return 0;
}
