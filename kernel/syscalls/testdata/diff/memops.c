/* mremap(2), madvise(2), mprotect(2) on parts of mappings, msync(2) and the mlock(2)
 * family, with every documented errno path, and what /proc/self/maps and smaps show of
 * the results (addresses printed relative to a reserved region, so runs compare). */
#include "common.h"
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define PG 4096L
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

static char *base; /* a reserved 64-page region: everything is placed in it */

/* maps prints the lines of /proc/self/maps inside the region, relative to it. */
static void maps(const char *what) {
	printf("  maps %s:\n", what);
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
		if (lo < (unsigned long)base || hi > (unsigned long)base + 64 * PG) continue;
		printf("    %2ld-%2ld %s\n", (long)(lo - (unsigned long)base) / PG, (long)(hi - (unsigned long)base) / PG, perms);
	}
	fclose(f);
}

/* smaps prints chosen fields of the smaps entry starting at p. */
static void smaps(const char *what, void *p) {
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	printf("  smaps %s:", what);
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ') && line[8] != ':') {
			in = lo == (unsigned long)p;
			continue;
		}
		if (!in) continue;
		char key[64];
		long v;
		if (sscanf(line, "%63[^:]: %ld", key, &v) == 2 &&
		    (!strcmp(key, "Size") || !strcmp(key, "Rss") || !strcmp(key, "Anonymous") ||
		     !strcmp(key, "Locked") || !strcmp(key, "Shared_Dirty") || !strcmp(key, "Private_Dirty") ||
		     !strcmp(key, "Swap")))
			printf(" %s=%ld", key, v);
		if (!strncmp(line, "VmFlags:", 8)) {
			line[strcspn(line, "\n")] = 0;
			/* only flags about what is tested here */
			char *t = strtok(line + 8, " ");
			printf(" flags:");
			while (t) {
				if (!strcmp(t, "lo") || !strcmp(t, "dc") || !strcmp(t, "wf") || !strcmp(t, "sh") || !strcmp(t, "wr") || !strcmp(t, "rd"))
					printf(" %s", t);
				t = strtok(NULL, " ");
			}
		}
	}
	printf("\n");
	fclose(f);
}

static long status(const char *key) {
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && line[n] == ':') v = atol(line + n + 1);
	fclose(f);
	return v;
}

static char *at(int page) { return base + page * PG; }

/* unreserve makes pages [page, page+n) of the region unmapped (the reservation covers the rest). */
static void unreserve(int page, int n) { munmap(at(page), n * PG); }

/* reset gives the region back to the reservation. */
static void reset(void) {
	munmap(base, 64 * PG);
	mmap(base, 64 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

/* HOLE is an address nothing maps. */
#define HOLE ((char *)(1UL << 40))

static char *anon(int page, int pages, int prot, int flags) {
	return mmap(at(page), pages * PG, prot, flags | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

static void test_mremap(void) {
	printf("mremap\n");
	char *p = anon(0, 2, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	memset(p, 'a', 2 * PG);
	CHECK(mremap(p + 1, PG, PG, 0));
	CHECK(mremap(p, PG, PG, 8));
	CHECK(mremap(p, 0, PG, 0));
	CHECK(mremap(p, PG, 0, 0));
	CHECK(mremap(p, PG, PG, MREMAP_FIXED));
	/* grow in place: the next pages are free */
	unreserve(2, 2);
	CHECK(mremap(p, 2 * PG, 4 * PG, 0) == p);
	CHECK(p[2 * PG] == 0 && p[PG] == 'a');
	maps("grown in place");
	/* cannot grow in place over another mapping without MAYMOVE */
	anon(4, 1, PROT_READ, MAP_PRIVATE);
	unreserve(5, 1);
	CHECK(mremap(p, 4 * PG, 6 * PG, 0));
	/* shrink */
	CHECK(mremap(p, 4 * PG, 3 * PG, 0) == p);
	maps("shrunk");
	/* MREMAP_FIXED moves to a given place, replacing what is there */
	anon(10, 3, PROT_READ, MAP_PRIVATE);
	char *q = mremap(p, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, at(10));
	CHECK(q == at(10));
	CHECK(q[0] == 'a' && q[PG] == 'a' && q[2 * PG] == 0);
	maps("moved to 10");
	CHECK(mremap(q, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, at(10) + 1));
	CHECK(mremap(q, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, at(11)));
	/* MREMAP_DONTUNMAP: the old range stays mapped, empty (private anonymous) */
	CHECK(mremap(q, PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0));
	CHECK(mremap(q, PG, PG, MREMAP_DONTUNMAP, 0));
	char *r = mremap(q, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, at(20));
	CHECK(r == at(20));
	CHECK(r[0] == 'a' && q[0] == 0 && q[PG] == 'a');
	maps("dontunmap to 20");
	char *s = mmap(at(30), PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	s[0] = 's';
	CHECK(mremap(s, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, at(32)) == at(32));
	CHECK(s[0] == 's' && at(32)[0] == 's');
	/* a shared mapping moved keeps its pages shared */
	char *t = mremap(s, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, at(33));
	CHECK(t == at(33));
	CHECK(t[0] == 's');
	CHECK(mremap(HOLE, PG, PG, MREMAP_MAYMOVE));
	/* old_size 0 on a shared mapping makes a second mapping of the same pages */
	char *u = mremap(t, 0, PG, MREMAP_MAYMOVE | MREMAP_FIXED, at(36));
	CHECK(u == at(36));
	u[0] = 'u';
	CHECK(t[0] == 'u');
	CHECK(mremap(at(10) + PG, 0, PG, MREMAP_MAYMOVE));
	reset();
}

static void test_madvise(void) {
	printf("madvise\n");
	char *p = anon(0, 4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	memset(p, 'p', 4 * PG);
	CHECK(madvise(p + 1, PG, MADV_DONTNEED));
	CHECK(madvise(p, PG, 12345));
	CHECK(madvise(p, PG, -1));
	CHECK(madvise(HOLE, PG, MADV_DONTNEED));
	CHECK(madvise(HOLE, PG, MADV_NORMAL));
	CHECK(madvise(p, 0, MADV_DONTNEED));
	CHECK(madvise(p, PG, MADV_DONTNEED));
	CHECK(p[0] == 0 && p[PG] == 'p');
	CHECK(madvise(p + PG, PG, MADV_FREE));
	CHECK(p[PG] == 'p' || p[PG] == 0);
	CHECK(madvise(p, PG, MADV_REMOVE));
	CHECK(madvise(p, PG, MADV_WILLNEED));
	CHECK(madvise(p, PG, MADV_NORMAL));
	CHECK(madvise(p, PG, MADV_SEQUENTIAL));
	CHECK(madvise(p, PG, MADV_RANDOM));
	/* shared anonymous: DONTNEED keeps the data, REMOVE frees it */
	char *s = anon(8, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
	memset(s, 's', 2 * PG);
	CHECK(madvise(s, PG, MADV_DONTNEED));
	CHECK(s[0] == 's');
	CHECK(madvise(s, PG, MADV_REMOVE));
	CHECK(s[0] == 0 && s[PG] == 's');
	CHECK(madvise(s, PG, MADV_FREE));
	CHECK(madvise(s, PG, MADV_WIPEONFORK));
	/* tmpfs file: REMOVE punches a hole, the size stays */
	char path[] = "/dev/shm/sbxdiff-memops-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	ftruncate(fd, 2 * PG);
	char *f = mmap(at(12), 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	memset(f, 'f', 2 * PG);
	CHECK(madvise(f, PG, MADV_REMOVE));
	char c = 1;
	CHECK(pread(fd, &c, 1, 0));
	CHECK(c == 0 && f[PG] == 'f');
	struct stat st;
	fstat(fd, &st);
	CHECK(st.st_size);
	char *ro = mmap(at(16), PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	CHECK(madvise(ro, PG, MADV_REMOVE));
	close(fd);
	/* fork: DONTFORK leaves the range out of the child, WIPEONFORK gives it zeros */
	char *d = anon(20, 1, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *w = anon(22, 1, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	char *k = anon(24, 1, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	d[0] = 'd', w[0] = 'w', k[0] = 'k';
	CHECK(madvise(d, PG, MADV_DONTFORK));
	CHECK(madvise(w, PG, MADV_WIPEONFORK));
	CHECK(madvise(k, PG, MADV_WIPEONFORK));
	CHECK(madvise(k, PG, MADV_KEEPONFORK));
	smaps("dontfork", d);
	smaps("wipeonfork", w);
	pid_t pid = fork();
	if (pid == 0) {
		FILE *m = fopen("/proc/self/maps", "r");
		char line[256];
		int seen = 0;
		while (fgets(line, sizeof line, m))
			if (strtoul(line, NULL, 16) == (unsigned long)d) seen = 1;
		fclose(m);
		printf("  child: dontfork mapped %d, wipeonfork %d, keeponfork %c\n", seen, w[0], k[0]);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	CHECK(madvise(d, PG, MADV_DOFORK));
	pid = fork();
	if (pid == 0) {
		printf("  child after DOFORK: %c\n", d[0]);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	reset();
}

static void test_mprotect(void) {
	printf("mprotect\n");
	char *p = anon(0, 8, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	memset(p, 'm', 8 * PG);
	CHECK(mprotect(p + 1, PG, PROT_READ));
	CHECK(mprotect(p, PG, 0x100));
	CHECK(mprotect(p + 2 * PG, 2 * PG, PROT_READ));
	maps("middle read-only");
	CHECK(mprotect(p + 3 * PG, 3 * PG, PROT_NONE));
	maps("overlapping none");
	CHECK(mprotect(p, 8 * PG, PROT_READ | PROT_WRITE));
	maps("whole back");
	unreserve(8, 2);
	CHECK(mprotect(p + 6 * PG, 4 * PG, PROT_READ));
	maps("past the end: ENOMEM, the mapped part changed");
	CHECK(mprotect(HOLE, PG, PROT_READ));
	munmap(p + 6 * PG, 2 * PG);
	CHECK(mprotect(p + 4 * PG, 4 * PG, PROT_READ));
	maps("hole after");
	/* a read-only shared file mapping cannot become writable */
	char path[] = "/dev/shm/sbxdiff-memops-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	ftruncate(fd, PG);
	char buf[32];
	snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
	int rfd = open(buf, O_RDONLY);
	char *f = mmap(at(12), PG, PROT_READ, MAP_SHARED | MAP_FIXED, rfd, 0);
	CHECK(f == at(12));
	CHECK(mprotect(f, PG, PROT_READ | PROT_WRITE));
	CHECK(mprotect(f, PG, PROT_READ | PROT_EXEC));
	char *g = mmap(at(14), PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, rfd, 0);
	CHECK(mprotect(g, PG, PROT_READ | PROT_WRITE));
	close(fd);
	close(rfd);
	reset();
}

static void test_msync(void) {
	printf("msync\n");
	char *p = anon(0, 2, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHECK(msync(p, PG, MS_SYNC));
	CHECK(msync(p, PG, MS_ASYNC));
	CHECK(msync(p, PG, MS_INVALIDATE));
	CHECK(msync(p, PG, MS_SYNC | MS_ASYNC));
	CHECK(msync(p, PG, 8));
	CHECK(msync(p + 1, PG, MS_SYNC));
	CHECK(msync(p, 0, MS_SYNC));
	CHECK(msync(HOLE, PG, MS_SYNC));
	unreserve(2, 1);
	CHECK(msync(p, 4 * PG, MS_SYNC));
	char path[] = "/dev/shm/sbxdiff-memops-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	ftruncate(fd, PG);
	char *f = mmap(at(4), PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	memcpy(f, "synced", 6);
	CHECK(msync(f, PG, MS_SYNC));
	char b[8] = {0};
	CHECK(pread(fd, b, 6, 0));
	printf("  file reads %s\n", b);
	CHECK(mlock(f, PG));
	CHECK(msync(f, PG, MS_INVALIDATE));
	CHECK(msync(f, PG, MS_SYNC));
	munlock(f, PG);
	close(fd);
	reset();
}

static void test_mlock(void) {
	printf("mlock\n");
	char *p = anon(0, 8, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct rlimit rl = {16 * PG, 16 * PG};
	CHECK(setrlimit(RLIMIT_MEMLOCK, &rl));
	long before = status("VmLck");
	CHECK(mlock(p, 2 * PG));
	CHECK(status("VmLck") - before);
	smaps("locked", p);
	CHECK(mlock(p + 100, PG));
	CHECK(status("VmLck") - before);
	CHECK(mlock(HOLE, PG));
	CHECK(mlock(p, 0));
	CHECK(mlock2(p, PG, 2));
	CHECK(mlock2(p + 4 * PG, PG, MLOCK_ONFAULT));
	CHECK(status("VmLck") - before);
	CHECK(munlock(p, 8 * PG));
	CHECK(status("VmLck") - before);
	CHECK(munlock(HOLE, PG));
	maps("after munlock");
	/* a locked mapping grown in place stays locked, the new part too */
	char *g = anon(20, 2, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	unreserve(22, 2);
	CHECK(mlock(g, 2 * PG));
	CHECK(madvise(g, 2 * PG, MADV_DONTFORK));
	CHECK(mremap(g, 2 * PG, 4 * PG, 0) == g);
	CHECK(status("VmLck") - before);
	smaps("grown locked", g);
	munlock(g, 4 * PG);
	/* beyond RLIMIT_MEMLOCK: ENOMEM without CAP_IPC_LOCK */
	struct rlimit small = {PG, PG};
	setrlimit(RLIMIT_MEMLOCK, &small);
	long r = mlock(p, 4 * PG);
	int e = errno;
	printf("  mlock past the limit: %s\n", r == 0 ? (geteuid() == 0 ? "root ok" : "ok?") : (geteuid() == 0 ? "root failed" : errname(e)));
	munlock(p, 8 * PG);
	setrlimit(RLIMIT_MEMLOCK, &rl);
	CHECK(mlockall(0));
	CHECK(mlockall(8));
	CHECK(mlockall(MCL_ONFAULT));
	CHECK(munlockall());
	CHECK(status("VmLck") - before);
	reset();
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	base = mmap(NULL, 64 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	test_mremap();
	test_madvise();
	test_mprotect();
	test_msync();
	test_mlock();
	return 0;
}
