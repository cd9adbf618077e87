/* The vDSO: the app finds it through AT_SYSINFO_EHDR, /proc/self/maps lists it ([vvar]
 * pages, then [vdso]), the kernel's own reads of it work (write(2) from it, /proc/self/mem),
 * its clocks agree with the clock_gettime syscall and never go back, the clocks it does not
 * serve still work (its fallback syscall), and fork and exec keep it. */
#include "common.h"
#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

/* mapsVDSO finds the [vdso] line of /proc/self/maps and whether [vvar] pages end where it
 * starts; returns the [vdso] start or 0. */
static unsigned long mapsVDSO(int *vvarBefore) {
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long s, e, vvarEnd = 0, vdso = 0;
	*vvarBefore = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) != 2) continue;
		if (strstr(line, "[vvar")) vvarEnd = e;
		if (strstr(line, "[vdso]")) {
			vdso = s;
			*vvarBefore = vvarEnd == s;
		}
	}
	if (f) fclose(f);
	return vdso;
}

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static void checks(const char *who) {
	unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
	int vvar;
	unsigned long inMaps = mapsVDSO(&vvar);
	printf("%s: AT_SYSINFO_EHDR given: %d, is [vdso] in maps: %d, [vvar] right before: %d\n", who,
	       ehdr != 0, ehdr != 0 && ehdr == inMaps, vvar);
	if (!ehdr) return;
	printf("%s: ELF header there: %d\n", who, memcmp((void *)ehdr, ELFMAG, SELFMAG) == 0);
	/* The kernel reads it for write(2) and process_vm_readv. */
	int p[2];
	char buf[SELFMAG] = {0};
	CHECK(pipe(p));
	CHECK(write(p[1], (void *)ehdr, SELFMAG));
	CHECK(read(p[0], buf, SELFMAG));
	printf("%s: through a pipe: %d\n", who, memcmp(buf, ELFMAG, SELFMAG) == 0);
	close(p[0]);
	close(p[1]);
	memset(buf, 0, sizeof buf);
	struct iovec local = {buf, SELFMAG}, remote = {(void *)ehdr, SELFMAG};
	CHECK(process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	printf("%s: through process_vm_readv: %d\n", who, memcmp(buf, ELFMAG, SELFMAG) == 0);
	/* Writing to it faults in the app; the kernel refuses to write there too. */
	CHECK(pipe(p));
	CHECK(write(p[1], "xxxx", 4));
	CHECK(read(p[0], (void *)ehdr, 4));
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv) {
	checks(argc > 1 ? "after exec" : "first");
	if (argc > 1) return 0;

	/* Monotonic clocks never go back; each agrees with its syscall. */
	clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME,
			   CLOCK_TAI, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE};
	const char *names[] = {"REALTIME", "MONOTONIC", "MONOTONIC_RAW", "BOOTTIME", "TAI",
			       "REALTIME_COARSE", "MONOTONIC_COARSE"};
	for (int i = 0; i < 7; i++) {
		struct timespec prev, now, sys, res;
		int back = 0;
		clock_gettime(ids[i], &prev);
		for (int j = 0; j < 100000; j++) {
			clock_gettime(ids[i], &now);
			if (ns(now) < ns(prev) && ids[i] != CLOCK_REALTIME && ids[i] != CLOCK_REALTIME_COARSE &&
			    ids[i] != CLOCK_TAI)
				back++;
			prev = now;
		}
		syscall(SYS_clock_gettime, ids[i], &sys);
		clock_gettime(ids[i], &now);
		long long d = ns(now) - ns(sys);
		CHECK(clock_getres(ids[i], &res));
		printf("%s: went back %d times, vs the syscall within 1s: %d, res %ld ns\n", names[i], back,
		       d > -1000000000LL && d < 1000000000LL, res.tv_nsec);
	}
	struct timeval tv;
	struct timespec rt;
	CHECK(gettimeofday(&tv, NULL));
	clock_gettime(CLOCK_REALTIME, &rt);
	printf("gettimeofday vs CLOCK_REALTIME within 1s: %d\n", rt.tv_sec - tv.tv_sec <= 1 && rt.tv_sec >= tv.tv_sec);
	time_t t1 = time(NULL);
	printf("time vs CLOCK_REALTIME within 1s: %d\n", t1 - rt.tv_sec <= 1 && t1 >= rt.tv_sec);
	/* Clocks the vDSO leaves to its syscall fallback. */
	struct timespec c1, c2;
	CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1));
	for (volatile int i = 0; i < 1000000; i++)
		;
	CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c2));
	printf("process CPU time advanced: %d\n", ns(c2) > ns(c1));
	CHECK(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1));
	CHECK(clock_gettime(12345, &c1));
	CHECK(clock_gettime(-1, &c1));
	CHECK(gettimeofday(&tv, (void *)0));
	int cpu = sched_getcpu();
	printf("getcpu in range: %d\n", cpu >= 0 && cpu < sysconf(_SC_NPROCESSORS_CONF));

	/* A child sees the vDSO where its parent does. */
	int vvar;
	unsigned long here = mapsVDSO(&vvar);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		struct timespec a;
		clock_gettime(CLOCK_MONOTONIC, &a);
		printf("child: vDSO where the parent has it: %d, clock works: %d\n", mapsVDSO(&vvar) == here, a.tv_sec > 0);
		fflush(stdout);
		_exit(0);
	}
	int st;
	CHECK(waitpid(c, &st, 0) == c);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		execl(argv[0], argv[0], "again", (char *)0);
		_exit(127);
	}
	CHECK(waitpid(c, &st, 0) == c);
	printf("exec'd child exit %d\n", WEXITSTATUS(st));
	return 0;
}
