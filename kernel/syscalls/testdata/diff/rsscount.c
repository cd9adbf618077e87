/* A process's memory counters as proc(5) describes them, before and after it touches
 * pages: VmRSS/RssAnon in /proc/self/status, resident in statm, rss in stat and Rss in
 * smaps_rollup grow by what was written, shrink by what MADV_DONTNEED and munmap
 * released, and VmHWM/VmPeak keep the highest values. Deltas are printed in MiB
 * (rounded), since Linux's counters are per-CPU sums that may lag by a few pages. */
#include "common.h"
#include <fcntl.h>
#include <sys/mman.h>

static char buf[1 << 16];

static long status_kb(const char *key) {
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *p = strstr(buf, key);
	return p ? strtol(p + strlen(key) + 1, NULL, 10) : -1;
}

static long statm_pages(int field) {
	int fd = open("/proc/self/statm", O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *p = buf;
	for (int i = 0; i < field; i++) p = strchr(p, ' ') + 1;
	return strtol(p, NULL, 10);
}

static long stat_rss_pages(void) {
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *p = strrchr(buf, ')') + 2; /* field 3 */
	for (int i = 3; i < 24; i++) p = strchr(p, ' ') + 1;
	return strtol(p, NULL, 10);
}

static long rollup_kb(void) {
	int fd = open("/proc/self/smaps_rollup", O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *p = strstr(buf, "\nRss:");
	return p ? strtol(p + 5, NULL, 10) : -1;
}

struct snap { long rss, anon, hwm, peak, size, statm, stat, rollup; };

static struct snap take(void) {
	struct snap s;
	s.rss = status_kb("VmRSS:");
	s.anon = status_kb("RssAnon:");
	s.hwm = status_kb("VmHWM:");
	s.peak = status_kb("VmPeak:");
	s.size = status_kb("VmSize:");
	s.statm = statm_pages(1) * 4;
	s.stat = stat_rss_pages() * 4;
	s.rollup = rollup_kb();
	return s;
}

static long mib(long kb) { return (kb + (kb < 0 ? -512 : 512)) / 1024; }

static void delta(const char *what, struct snap a, struct snap b) {
	printf("%s: VmRSS %+ld RssAnon %+ld statm %+ld stat %+ld rollup %+ld MiB\n", what,
	       mib(b.rss - a.rss), mib(b.anon - a.anon), mib(b.statm - a.statm),
	       mib(b.stat - a.stat), mib(b.rollup - a.rollup));
}

int main(void) {
	const size_t size = 64 << 20;
	struct snap s0 = take();
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) { printf("mmap: %s\n", errname(errno)); return 1; }
	struct snap s1 = take();
	delta("after mmap", s0, s1);
	printf("VmSize grew by %ld MiB\n", mib(s1.size - s0.size));
	for (size_t i = 0; i < 32 << 20; i += 4096) p[i] = 1;
	struct snap s2 = take();
	delta("after touching 32 MiB", s1, s2);
	for (size_t i = 32 << 20; i < 40 << 20; i += 8192) p[i] = 1;
	struct snap s3 = take();
	delta("after touching every other page of 8 MiB", s2, s3);
	struct snap s3b = take();
	delta("read again", s3, s3b);
	if (madvise(p + (8 << 20), 16 << 20, MADV_DONTNEED)) printf("madvise: %s\n", errname(errno));
	struct snap s4 = take();
	delta("after MADV_DONTNEED of 16 MiB", s3, s4);
	for (size_t i = 8 << 20; i < 12 << 20; i += 4096) p[i] = 1;
	struct snap s5 = take();
	delta("after touching 4 MiB of it again", s4, s5);
	munmap(p, size);
	struct snap s6 = take();
	delta("after munmap", s5, s6);
	printf("VmHWM minus the peak RSS: %ld MiB\n", mib(s6.hwm - s3.rss));
	printf("VmHWM above the current RSS by %ld MiB\n", mib(s6.hwm - s6.rss));
	printf("VmPeak at least the peak size: %s\n", s6.peak >= s1.size ? "yes" : "no");
	return 0;
}
