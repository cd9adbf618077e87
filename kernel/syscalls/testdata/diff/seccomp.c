/* seccomp(2) and prctl(PR_SET_SECCOMP), from seccomp(2), prctl(2) and the kernel's
 * Documentation/userspace-api/seccomp_filter.rst: filter validation, every action, the
 * order of precedence, seccomp_data, strict mode, no_new_privs, inheritance across fork and
 * exec, TSYNC. Each case runs in a child so a filter or a kill never reaches the rest. */
#include "common.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

#define TARGET __NR_getppid
#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ON_TARGET(ret) LD_NR, BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TARGET, 0, 1), BPF_STMT(BPF_RET | BPF_K, (ret)), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static long install(struct sock_filter *f, int n, unsigned flags) {
	struct sock_fprog p = {.len = n, .filter = f};
	return syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p);
}
#define INSTALL(flags, ...) ({ struct sock_filter _f[] = {__VA_ARGS__}; install(_f, sizeof _f / sizeof _f[0], flags); })

static void status_lines(void) {
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "Seccomp", 7) || !strncmp(line, "NoNewPrivs", 10))
			printf("status %s", line);
	if (f)
		fclose(f);
}

static void nnp(void) { prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

/* run forks, runs fn in the child and prints how the child ended. */
static void run(const char *name, void (*fn)(void)) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		printf("%s: killed by %s\n", name, strsignal(WTERMSIG(st)));
	else
		printf("%s: exit %d\n", name, WEXITSTATUS(st));
}

static void validation(void) {
	struct sock_filter ok[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog p = {.len = 0, .filter = ok};
	nnp();
	CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
	p.len = 4097;
	CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
	CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, (void *)8));
	p.len = 1;
	p.filter = (void *)8;
	CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
	CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 1 << 20, &p));
	CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER, &p));
	CHECK(syscall(__NR_seccomp, 99, 0, 0));
	CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 1, 0));
	CHECK(INSTALL(0, BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, LD_NR));
	CHECK(INSTALL(0, LD_NR, BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 1, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, BPF_STMT(BPF_JMP | BPF_JA, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, BPF_STMT(BPF_LD | BPF_MEM, 16), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, BPF_STMT(BPF_LD | BPF_MEM, 3), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, LD_NR, BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1), BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LD | BPF_MEM, 3), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(INSTALL(0, BPF_STMT(BPF_RET | BPF_X, 0)));
	CHECK(INSTALL(0, BPF_STMT(BPF_MISC | BPF_TAX, 0)));
	CHECK(INSTALL(0, BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	/* a program that writes scratch memory before reading it on every path is fine */
	CHECK(INSTALL(0, LD_NR, BPF_STMT(BPF_ST, 3), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0),
		BPF_STMT(BPF_LDX | BPF_MEM, 3), BPF_STMT(BPF_MISC | BPF_TXA, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)));
	CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0));
	CHECK(prctl(PR_SET_SECCOMP, 7, 0, 0, 0));
}

static void avail(void) {
	unsigned acts[] = {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
		SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW, 0x00010000, 0x7fff0001};
	for (int i = 0; i < 10; i++) {
		printf("action %#x: ", acts[i]);
		CHECK(syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &acts[i]));
	}
	CHECK(syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 1, &acts[0]));
	CHECK(syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, (void *)8));
	struct seccomp_notif_sizes sz;
	CHECK(syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz));
	printf("sizes %d %d %d\n", sz.seccomp_notif, sz.seccomp_notif_resp, sz.seccomp_data);
	CHECK(syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, (void *)8));
	CHECK(syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 2, &sz));
}

static void no_nnp(void) {
	/* root has CAP_SYS_ADMIN and may install without no_new_privs; others get EACCES */
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | 1)));
}

static void act_errno(void) {
	nnp();
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | EPERM)));
	CHECK(syscall(TARGET));
	CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | 0)));
	CHECK(syscall(TARGET)); /* the newest filter wins between equal actions */
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | 5000)));
	CHECK(syscall(TARGET)); /* data above MAX_ERRNO is clamped */
	CHECK(syscall(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0));
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ALLOW)));
	CHECK(syscall(TARGET)); /* an older ERRNO still beats a newer ALLOW */
	CHECK(getpid() > 0);
}

static void act_mixed(void) {
	nnp();
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ALLOW)));
	CHECK(syscall(TARGET) > 0);
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_LOG)));
	CHECK(syscall(TARGET) > 0); /* LOG allows */
	CHECK(INSTALL(SECCOMP_FILTER_FLAG_LOG, ON_TARGET(SECCOMP_RET_TRACE)));
	CHECK(syscall(TARGET)); /* TRACE without a tracer: ENOSYS */
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | EACCES)));
	CHECK(syscall(TARGET)); /* ERRNO beats TRACE */
	CHECK(syscall(__NR_getpid) > 0);
}

static void act_notif(void) {
	nnp();
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_USER_NOTIF)));
	CHECK(syscall(TARGET)); /* no listener: ENOSYS */
}

static void act_data(void) {
	nnp();
	/* errno = the low 12 bits of the call's address, then the args and arch */
	CHECK(INSTALL(0, LD_NR, BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TARGET, 1, 0), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xfff), BPF_JUMP(BPF_JMP | BPF_JA, 4, 0, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[5]) + 4),
		BPF_STMT(BPF_MISC | BPF_TAX, 0), BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
		/* merge: A holds the data */
		BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO), BPF_STMT(BPF_RET | BPF_A, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 77),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 78)));
	errno = 0;
	long r = syscall(TARGET, 1L);
	printf("ip low bits: %ld %d\n", r, errno);
	CHECK(syscall(TARGET, 2L, 0L, 0L, 0x100000003L, 0L, 0x500000000L));
	CHECK(syscall(TARGET, 3L));
}

static volatile int trapped;
static void on_sigsys(int sig, siginfo_t *si, void *uc) {
	ucontext_t *u = uc;
	printf("SIGSYS: signo %d code %d errno %d syscall %d arch %#x addr==rip %d rax==nr %d\n", si->si_signo,
		si->si_code, si->si_errno, si->si_syscall, si->si_arch,
		si->si_call_addr == (void *)u->uc_mcontext.gregs[REG_RIP], u->uc_mcontext.gregs[REG_RAX] == TARGET);
	trapped++;
}

static void act_trap(void) {
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigaction(SIGSYS, &sa, 0);
	nnp();
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_TRAP | 42)));
	long r = syscall(TARGET);
	printf("after trap: %ld trapped %d\n", r, trapped);
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | 1)));
	r = syscall(TARGET);
	printf("trap beats errno: %ld trapped %d\n", r, trapped);
}

static void act_trap_blocked(void) {
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	sigaction(SIGSYS, &sa, 0);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	sigprocmask(SIG_BLOCK, &s, 0);
	nnp();
	INSTALL(0, ON_TARGET(SECCOMP_RET_TRAP));
	syscall(TARGET);
	printf("not reached\n");
}

static void act_trap_ignored(void) {
	signal(SIGSYS, SIG_IGN);
	nnp();
	INSTALL(0, ON_TARGET(SECCOMP_RET_TRAP));
	syscall(TARGET);
	printf("not reached\n");
}

static void act_kill_process(void) {
	nnp();
	INSTALL(0, ON_TARGET(SECCOMP_RET_KILL_PROCESS));
	syscall(TARGET);
	printf("not reached\n");
}

static void act_unknown(void) {
	nnp();
	INSTALL(0, ON_TARGET(0x00010000));
	syscall(TARGET);
	printf("not reached\n");
}

static void act_kill_thread_single(void) {
	nnp();
	INSTALL(0, ON_TARGET(SECCOMP_RET_KILL_THREAD));
	syscall(TARGET);
	printf("not reached\n");
}

static void *killed_thread(void *arg) {
	INSTALL(0, ON_TARGET(SECCOMP_RET_KILL_THREAD));
	syscall(TARGET);
	printf("not reached\n");
	return 0;
}

static void act_kill_thread(void) {
	nnp();
	pthread_t th;
	pthread_create(&th, 0, killed_thread, 0);
	sleep(1); /* the thread is gone (killed, so it cannot be joined) */
	printf("main thread goes on: %d\n", syscall(TARGET) > 0);
}

static void strict(void) {
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0));
	const char m[] = "strict: write works\n";
	fflush(stdout);
	write(1, m, sizeof m - 1);
	syscall(__NR_getpid);
	write(1, "not reached\n", 12);
}

static void strict_exit(void) {
	fflush(stdout);
	syscall(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0);
	syscall(__NR_exit, 3);
}

static void inherit(void) {
	nnp();
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | EPERM)));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		CHECK(syscall(TARGET));
		CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
		CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ALLOW)));
		status_lines();
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, 0, 0);
}

static char *self;
static void exec_keeps(void) {
	nnp();
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | EXDEV)));
	fflush(stdout);
	execl(self, self, "exec-child", (char *)0);
	printf("exec failed\n");
}

static volatile int tsynced;
static void *plain_thread(void *arg) {
	for (int i = 0; i < 30000 && !tsynced; i++)
		usleep(1000);
	errno = 0;
	long r = syscall(TARGET);
	printf("thread after tsync: %ld %s\n", r < 0 ? -1 : 0, errname(errno));
	return 0;
}

static void tsync(void) {
	nnp();
	pthread_t th;
	pthread_create(&th, 0, plain_thread, 0);
	CHECK(INSTALL(SECCOMP_FILTER_FLAG_TSYNC, ON_TARGET(SECCOMP_RET_ERRNO | ENOENT)));
	tsynced = 1;
	pthread_join(th, 0);
}

static volatile pid_t other_tid;
static volatile int go_on;
static void *diverging_thread(void *arg) {
	INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | EBUSY));
	other_tid = gettid();
	while (!go_on)
		usleep(1000);
	errno = 0;
	long r = syscall(TARGET);
	printf("diverged thread: %ld %s\n", r < 0 ? -1 : 0, errname(errno));
	return 0;
}

static void tsync_fail(void) {
	nnp();
	pthread_t th;
	pthread_create(&th, 0, diverging_thread, 0);
	while (!other_tid)
		usleep(1000);
	long r = INSTALL(SECCOMP_FILTER_FLAG_TSYNC, ON_TARGET(SECCOMP_RET_ERRNO | ENOENT));
	printf("tsync returns the other thread: %d\n", r == other_tid);
	CHECK(INSTALL(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH, ON_TARGET(SECCOMP_RET_ERRNO | ENOENT)));
	CHECK(syscall(TARGET) > 0); /* the failed TSYNC installed nothing here */
	go_on = 1;
	pthread_join(th, 0);
}

static void *filtered_thread(void *arg) {
	CHECK(INSTALL(0, ON_TARGET(SECCOMP_RET_ERRNO | EBUSY)));
	CHECK(syscall(TARGET));
	return 0;
}

static void per_thread(void) {
	nnp();
	pthread_t th;
	pthread_create(&th, 0, filtered_thread, 0);
	pthread_join(th, 0);
	CHECK(syscall(TARGET) > 0); /* the thread's filter is its own */
	CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
}

static void chain_limit(void) {
	static struct sock_filter big[4096];
	for (int i = 0; i < 4095; i++)
		big[i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
	big[4095] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	nnp();
	int ok = 0;
	long r;
	while ((r = install(big, 4096, 0)) == 0)
		ok++;
	printf("filters of 4096: %d, then %s\n", ok, errname(errno));
}

int main(int argc, char **argv) {
	self = argv[0];
	if (argc > 1) {
		CHECK(syscall(TARGET));
		CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
		CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
		return 0;
	}
	setvbuf(stdout, 0, _IOFBF, 1 << 16);
	CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	status_lines();
	run("validation", validation);
	run("avail", avail);
	run("no_nnp", no_nnp);
	run("errno", act_errno);
	run("mixed", act_mixed);
	run("notif", act_notif);
	run("data", act_data);
	run("trap", act_trap);
	run("trap_blocked", act_trap_blocked);
	run("trap_ignored", act_trap_ignored);
	run("kill_process", act_kill_process);
	run("unknown", act_unknown);
	run("kill_thread_single", act_kill_thread_single);
	run("kill_thread", act_kill_thread);
	run("strict", strict);
	run("strict_exit", strict_exit);
	run("inherit", inherit);
	run("exec", exec_keeps);
	run("tsync", tsync);
	run("tsync_fail", tsync_fail);
	run("per_thread", per_thread);
	run("chain_limit", chain_limit);
	return 0;
}
