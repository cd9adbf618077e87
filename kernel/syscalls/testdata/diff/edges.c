/* Values near the edges that must fail cleanly, never crash the kernel or kill the
 * caller (issue 19 item 7): file offsets near 2^63 in mmap(2), pwrite(2), splice(2),
 * fallocate(2) on a memfd; brk(2) with wild values; kill(2)'s permission rule after a
 * process dropped its user ID; capget(2) against CapEff in /proc/self/status. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <sched.h>
#include <xmmintrin.h>

static int exec_true(void *a) { (void)a; execl("/bin/true", "true", (char *)NULL); _exit(1); }

/* A CLONE_FILES child's execve unshares the table first: the parent keeps its
 * close-on-exec descriptors. */
static void clone_files_exec(void) {
	int fd = open("/", O_RDONLY | O_CLOEXEC);
	static char stack[65536];
	pid_t p = clone(exec_true, stack + sizeof stack, CLONE_FILES | CLONE_VFORK | SIGCHLD, NULL);
	int st;
	waitpid(p, &st, 0);
	printf("clone_files: child exited %d\n", WEXITSTATUS(st));
	CHECK(fcntl(fd, F_GETFD));
	close(fd);
}

static int exit7(void *a) { (void)a; return 7; }

/* clone(CLONE_PARENT) from a child makes a sibling: the grandparent reaps both (this once
 * crashed the kernel with an unlock of an unlocked mutex). */
static void clone_parent(void) {
	pid_t c = fork();
	if (c == 0) {
		static char stack[65536];
		int r = clone(exit7, stack + sizeof stack, CLONE_PARENT | SIGCHLD, NULL);
		printf("clone_parent: made a sibling %d\n", r > 0);
		_exit(0);
	}
	int st, n = 0, sevens = 0;
	while (wait(&st) > 0) {
		n++;
		sevens += WEXITSTATUS(st) == 7;
	}
	printf("clone_parent: reaped %d, the sibling's status 7: %d\n", n, sevens);
}

/* A child forked inside a signal handler inherits the handler's MXCSR. */
static void on_usr1(int s) {
	(void)s;
	_mm_setcsr(0x1f80 | 0x6000);
	pid_t c = fork();
	if (c == 0) { printf("mxcsr: child %x\n", _mm_getcsr()); _exit(0); }
	waitpid(c, NULL, 0);
}

static void mxcsr(void) {
	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
	printf("mxcsr: parent after the handler %x\n", _mm_getcsr());
}

static void offsets(void) {
	int fd = memfd_create("edges", 0);
	ftruncate(fd, 4096);
	printf("mmap\n");
	CHECK(mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0x7ffffffffffff000) == MAP_FAILED ? -1 : 0);
	CHECK(mmap(0, 8192, PROT_READ, MAP_SHARED, fd, 0x7ffffffffffff000) == MAP_FAILED ? -1 : 0);
	CHECK(mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0xfffffffffffff000) == MAP_FAILED ? -1 : 0);
	CHECK(mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0x8000000000000000) == MAP_FAILED ? -1 : 0);
	CHECK(mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0xfffffffffffff000) == MAP_FAILED ? -1 : 0);
	CHECK(mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 4095) == MAP_FAILED ? -1 : 0);
	CHECK(mmap(0, -1UL, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
	CHECK(mmap(0, -4096UL, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
	printf("file positions\n");
	CHECK(pwrite(fd, "x", 1, 0x7fffffffffffffffLL));
	CHECK(pwrite(fd, "x", 1, -1));
	char b[8];
	CHECK(pread(fd, b, 8, -2));
	CHECK(lseek(fd, 0x7fffffffffffffffLL, SEEK_SET) < 0 ? -1 : 0);
	CHECK(write(fd, "x", 1));
	CHECK(read(fd, b, 1));
	CHECK(fallocate(fd, 0, 0x7ffffffffffff000LL, 0x2000));
	CHECK(fallocate(fd, 0, -4096, 4096));
	CHECK(ftruncate(fd, -1));
	int p[2];
	pipe(p);
	write(p[1], "hello", 5);
	off_t off = 0x7ffffffffffffffeLL;
	CHECK(splice(p[0], NULL, fd, &off, 5, 0));
	off = -1;
	CHECK(splice(p[0], NULL, fd, &off, 5, 0));
	off = -4096;
	CHECK(splice(fd, &off, p[1], NULL, 5, 0));
	close(p[0]); close(p[1]); close(fd);
}

static void brks(void) {
	printf("brk\n");
	long cur = syscall(SYS_brk, 0);
	long wild[] = {-1L, -4096L, 1L, cur - 0x100000000L, 0x7fffffffffffL, 0x800000000000L, cur + 4096};
	for (int i = 0; i < 7; i++) {
		long r = syscall(SYS_brk, wild[i]);
		printf("brk(%d) unchanged %d\n", i, r == cur);
	}
	syscall(SYS_brk, cur);
	char *q = sbrk(4096);
	q[10] = 1;
	printf("heap still usable %d\n", q[10] == 1);
}

static void kills(void) {
	printf("kill\n");
	pid_t parent = getpid();
	int root = getuid() == 0;
	pid_t c = fork();
	if (c == 0) {
		if (getuid() == 0 && setresuid(65534, 65534, 65534) != 0) _exit(9);
		if (getuid() == 0) _exit(8);
		errno = 0;
		int r = kill(parent, 0);
		printf("  child kill(parent, 0) = %s\n", r && errno == EPERM ? "EPERM" : r ? "error" : "allowed");
		r = kill(parent, root ? SIGKILL : 0); /* a user's own parent would die of it */
		printf("  child kill(parent, SIGKILL) = %s\n", r && errno == EPERM ? "EPERM" : r ? "error" : "allowed");
		r = kill(parent, SIGCONT); /* same session: allowed */
		printf("  child kill(parent, SIGCONT) = %s\n", r ? errname(errno) : "allowed");
		r = syscall(SYS_tgkill, parent, parent, 0);
		printf("  child tgkill(parent, 0) = %s\n", r ? errname(errno) : "allowed");
		r = syscall(SYS_tkill, parent, 0);
		printf("  child tkill(parent, 0) = %s\n", r ? errname(errno) : "allowed");
		siginfo_t si = {0};
		si.si_code = SI_QUEUE;
		r = syscall(SYS_rt_sigqueueinfo, parent, 0, &si);
		printf("  child rt_sigqueueinfo(parent, 0) = %s\n", r ? errname(errno) : "allowed");
		r = kill(0, 0);
		printf("  child kill(own group, 0) = %s\n", r ? errname(errno) : "allowed");
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	printf("  parent alive, child status %d\n", WEXITSTATUS(st));
	CHECK(kill(c, 0));
	CHECK(kill(0x7fffffff, 0));
	CHECK(kill(parent, 65));
}

static void caps(void) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_capget, &h, d);
	unsigned long long eff = (unsigned long long)d[1].effective << 32 | d[0].effective;
	unsigned long long prm = (unsigned long long)d[1].permitted << 32 | d[0].permitted;
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long seff = 1, sprm = 1;
	while (fgets(line, sizeof line, f)) {
		sscanf(line, "CapEff: %llx", &seff);
		sscanf(line, "CapPrm: %llx", &sprm);
	}
	fclose(f);
	printf("caps: capget effective == CapEff %d, permitted == CapPrm %d\n", eff == seff, prm == sprm);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	offsets();
	brks();
	kills();
	caps();
	clone_files_exec();
	clone_parent();
	mxcsr();
	return 0;
}
