/* Protection keys as on a CPU without PKU (pkeys(7)), Landlock and prctl options browsers'
 * sandboxes probe. The host must match: the test only runs where the host has no PKU. */
#include "common.h"
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

int main(void) {
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "flags", 5) && strstr(line, " pku")) {
			printf("host has PKU: nothing to compare\n");
			return 0;
		}
	char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(syscall(__NR_pkey_alloc, 0, 0));
	CHECK(syscall(__NR_pkey_alloc, 1, 0));
	CHECK(syscall(__NR_pkey_alloc, 0, 4));
	CHECK(syscall(__NR_pkey_free, 0));
	CHECK(syscall(__NR_pkey_free, 1));
	CHECK(syscall(__NR_pkey_mprotect, p, 4096, PROT_READ, -1));
	CHECK(syscall(__NR_pkey_mprotect, p, 4096, PROT_READ, 0));
	CHECK(syscall(__NR_pkey_mprotect, p, 4096, PROT_READ, 1));
	CHECK(syscall(__NR_pkey_mprotect, p + 1, 4096, PROT_READ, 1));
	CHECK(syscall(__NR_pkey_mprotect, p, 0, PROT_READ, 1));
	CHECK(syscall(__NR_pkey_mprotect, 0, 4096, PROT_READ, -1));
	p[4096] = 1;
	CHECK(prctl(PR_SET_PTRACER, 0, 0, 0, 0) == 0 || errno == EINVAL);
	CHECK(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
	CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_DUMPABLE, 2, 0, 0, 0));
	CHECK(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	return 0;
}
