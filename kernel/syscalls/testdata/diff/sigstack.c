/* Signal-stack and delivery edges: sigaltstack errnos (flags, MINSIGSTKSZ, EPERM while
 * on it), SS_ONSTACK reported inside a handler, SS_AUTODISARM, fork inheriting the stack;
 * rt_sigqueueinfo/rt_tgsigqueueinfo si_code rules; kill/tgkill/tkill errnos; the
 * delivery order of pending signals; SA_RESETHAND/SA_NODEFER/SA_SIGINFO; sigsuspend,
 * sigtimedwait and sigwaitinfo errnos; SA_RESTART on a pipe read and nanosleep's
 * remainder. */
#include "common.h"
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/time.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static char stk[65536];
static volatile int on_stack, in_handler_ss_flags, nested_err, nested_flags;
static volatile uintptr_t handler_sp;

static void onstack_handler(int sig) {
	int local;
	handler_sp = (uintptr_t)&local;
	stack_t cur;
	sigaltstack(NULL, &cur);
	in_handler_ss_flags = cur.ss_flags;
	/* Changing the stack while on it is EPERM. */
	stack_t n = {.ss_sp = stk, .ss_size = sizeof stk, .ss_flags = 0};
	errno = 0;
	nested_err = sigaltstack(&n, NULL) < 0 ? errno : 0;
	/* Disabling it while on it is EPERM too. */
	n.ss_flags = SS_DISABLE;
	if (nested_err == 0) nested_err = sigaltstack(&n, NULL) < 0 ? errno : 0;
	else nested_flags = sigaltstack(&n, NULL) < 0 ? errno : 0;
}

static void altstack(void) {
	stack_t ss, old;
	CHECK(sigaltstack(NULL, &old));
	printf("initial flags=%d size=%zu\n", old.ss_flags, old.ss_size);
	ss.ss_sp = stk; ss.ss_size = 1024; ss.ss_flags = 0;
	CHECK(sigaltstack(&ss, NULL));                 /* ENOMEM: below MINSIGSTKSZ */
	ss.ss_size = sizeof stk; ss.ss_flags = 0x10;
	CHECK(sigaltstack(&ss, NULL));                 /* EINVAL: unknown flag */
	ss.ss_flags = SS_ONSTACK;
	CHECK(sigaltstack(&ss, NULL));                 /* SS_ONSTACK is accepted as 0 */
	CHECK(sigaltstack(NULL, &old));
	printf("after SS_ONSTACK flags=%d size=%zu same=%d\n", old.ss_flags, old.ss_size, old.ss_sp == stk);
	CHECK(sigaltstack((stack_t *)1, NULL));        /* EFAULT */
	CHECK(sigaltstack(NULL, (stack_t *)1));        /* EFAULT */
	ss.ss_flags = SS_DISABLE; ss.ss_size = 0; ss.ss_sp = NULL;
	CHECK(sigaltstack(&ss, NULL));                 /* disabling ignores size */
	CHECK(sigaltstack(NULL, &old));
	printf("disabled flags=%d size=%zu sp_null=%d\n", old.ss_flags, old.ss_size, old.ss_sp == NULL);
	ss.ss_flags = SS_DISABLE | SS_AUTODISARM;
	CHECK(sigaltstack(&ss, NULL));
	ss.ss_sp = stk; ss.ss_size = sizeof stk; ss.ss_flags = 0;
	CHECK(sigaltstack(&ss, NULL));

	struct sigaction sa = {0};
	sa.sa_handler = onstack_handler;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("handler on alt stack=%d ss_flags=%d nested=%s",
	       handler_sp >= (uintptr_t)stk && handler_sp < (uintptr_t)stk + sizeof stk,
	       in_handler_ss_flags, errname(nested_err));
	printf(" disable=%s\n", errname(nested_flags));
	CHECK(sigaltstack(NULL, &old));
	printf("after handler flags=%d\n", old.ss_flags);

	/* Without SA_ONSTACK the handler runs on the normal stack. */
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("no SA_ONSTACK: on alt stack=%d ss_flags=%d nested=%s\n",
	       handler_sp >= (uintptr_t)stk && handler_sp < (uintptr_t)stk + sizeof stk, in_handler_ss_flags, errname(nested_err));
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);

	/* SS_AUTODISARM: inside the handler the stack reads as disabled, and changing it is
	 * allowed; it is restored on return. */
	ss.ss_flags = SS_AUTODISARM;
	CHECK(sigaltstack(&ss, NULL));
	CHECK(sigaltstack(NULL, &old));
	printf("autodisarm flags=%#x\n", (unsigned)old.ss_flags);
	nested_err = nested_flags = -1;
	raise(SIGUSR1);
	printf("autodisarm handler on alt=%d ss_flags=%d nested=%s\n",
	       handler_sp >= (uintptr_t)stk && handler_sp < (uintptr_t)stk + sizeof stk, in_handler_ss_flags, errname(nested_err));
	CHECK(sigaltstack(NULL, &old));
	printf("after autodisarm handler flags=%#x size=%zu\n", (unsigned)old.ss_flags, old.ss_size);

	/* fork keeps the alternate stack. */
	ss.ss_flags = 0; ss.ss_sp = stk; ss.ss_size = sizeof stk;
	sigaltstack(&ss, NULL);
	pid_t c = fork();
	if (c == 0) {
		stack_t o;
		sigaltstack(NULL, &o);
		_exit(o.ss_sp == stk && o.ss_size == sizeof stk && o.ss_flags == 0 ? 7 : 8);
	}
	int st;
	waitpid(c, &st, 0);
	printf("fork keeps altstack: exit %d\n", WEXITSTATUS(st));
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	signal(SIGUSR1, SIG_DFL);
}

static volatile siginfo_t got_info;
static volatile int got_sig;
static void info_handler(int sig, siginfo_t *si, void *uc) { got_sig = sig; memcpy((void *)&got_info, si, sizeof *si); }

static void queueinfo(void) {
	struct sigaction sa = {0};
	sa.sa_sigaction = info_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR2, &sa, NULL);
	siginfo_t si;
	pid_t me = getpid();
	int codes[] = {SI_QUEUE, SI_USER, SI_TKILL, SI_KERNEL, 1, -1, -7, SI_ASYNCIO, SI_MESGQ, SI_TIMER};
	for (int i = 0; i < (int)(sizeof codes / sizeof codes[0]); i++) {
		memset(&si, 0, sizeof si);
		si.si_signo = SIGUSR2;
		si.si_code = codes[i];
		si.si_value.sival_int = 40 + i;
		got_sig = 0;
		errno = 0;
		long r = syscall(SYS_rt_sigqueueinfo, me, SIGUSR2, &si);
		int e = errno;
		printf("rt_sigqueueinfo(code %d) = %ld %s got=%d code=%d val=%d same_pid=%d\n", codes[i], r, r < 0 ? errname(e) : "OK",
		       got_sig, got_sig ? got_info.si_code : 0, got_sig ? got_info.si_value.sival_int : 0,
		       got_sig ? got_info.si_pid == me : 0);
		got_sig = 0;
		errno = 0;
		r = syscall(SYS_rt_tgsigqueueinfo, me, gettid(), SIGUSR2, &si);
		e = errno;
		printf("rt_tgsigqueueinfo(code %d) = %ld %s got=%d code=%d\n", codes[i], r, r < 0 ? errname(e) : "OK",
		       got_sig, got_sig ? got_info.si_code : 0);
	}
	memset(&si, 0, sizeof si);
	si.si_code = SI_QUEUE;
	CHECK(syscall(SYS_rt_sigqueueinfo, me, 0, &si));        /* signal 0: permission probe */
	CHECK(syscall(SYS_rt_sigqueueinfo, me, 65, &si));
	CHECK(syscall(SYS_rt_sigqueueinfo, me, -1, &si));
	CHECK(syscall(SYS_rt_sigqueueinfo, 0x3ffff0, SIGUSR2, &si));
	CHECK(syscall(SYS_rt_sigqueueinfo, me, SIGUSR2, (void *)1));
	CHECK(syscall(SYS_rt_tgsigqueueinfo, me, 0x3ffff0, SIGUSR2, &si));
	CHECK(syscall(SYS_rt_tgsigqueueinfo, 0x3ffff0, gettid(), SIGUSR2, &si));
	CHECK(syscall(SYS_rt_tgsigqueueinfo, me, 0, SIGUSR2, &si));
	CHECK(syscall(SYS_rt_tgsigqueueinfo, me, -1, SIGUSR2, &si));
	CHECK(syscall(SYS_rt_tgsigqueueinfo, me, gettid(), 0, &si));
	/* si_signo in the struct is overwritten by the signal argument. */
	si.si_signo = SIGTERM; si.si_code = SI_QUEUE; got_sig = 0;
	CHECK(syscall(SYS_rt_sigqueueinfo, me, SIGUSR2, &si));
	printf("signo overwritten: got=%d signo=%d\n", got_sig, got_info.si_signo);

	/* kill/tgkill/tkill errnos */
	CHECK(kill(me, 65));
	CHECK(kill(me, -1));
	CHECK(kill(0x3ffff0, 0));
	CHECK(kill(me, 0));
	CHECK(kill(-0x3ffff0, 0));
	CHECK(syscall(SYS_tgkill, me, gettid(), 0));
	CHECK(syscall(SYS_tgkill, 0, gettid(), 0));
	CHECK(syscall(SYS_tgkill, -1, gettid(), 0));
	CHECK(syscall(SYS_tgkill, me, 0, 0));
	CHECK(syscall(SYS_tgkill, me, 0x3ffff0, 0));
	CHECK(syscall(SYS_tgkill, me, gettid(), 65));
	CHECK(syscall(SYS_tkill, 0, 0));
	CHECK(syscall(SYS_tkill, -5, 0));
	CHECK(syscall(SYS_tkill, gettid(), 65));
	CHECK(syscall(SYS_tkill, gettid(), 0));
	got_sig = 0;
	CHECK(syscall(SYS_tkill, gettid(), SIGUSR2));
	printf("tkill code=%d (SI_TKILL=%d)\n", got_info.si_code, SI_TKILL);
	CHECK(syscall(SYS_tgkill, me, gettid(), SIGUSR2));
	printf("tgkill code=%d\n", got_info.si_code);
	CHECK(kill(me, SIGUSR2));
	printf("kill code=%d uid_ok=%d\n", got_info.si_code, got_info.si_uid == getuid());
	signal(SIGUSR2, SIG_DFL);
}

static int order[64], norder;
static void order_handler(int sig) { if (norder < 64) order[norder++] = sig; }

static void delivery_order(void) {
	struct sigaction sa = {0};
	sa.sa_handler = order_handler;
	sigfillset(&sa.sa_mask);
	int sigs[] = {SIGUSR2, SIGTERM, SIGHUP, SIGRTMIN + 3, SIGRTMIN, SIGRTMIN + 3, SIGUSR1, SIGCHLD, SIGRTMIN, SIGWINCH, SIGALRM};
	sigset_t all, old;
	sigemptyset(&all);
	for (int i = 0; i < (int)(sizeof sigs / sizeof sigs[0]); i++) { sigaction(sigs[i], &sa, NULL); sigaddset(&all, sigs[i]); }
	sigprocmask(SIG_BLOCK, &all, &old);
	for (int i = 0; i < (int)(sizeof sigs / sizeof sigs[0]); i++) {
		if (sigs[i] >= SIGRTMIN) { union sigval v = {.sival_int = i}; sigqueue(getpid(), sigs[i], v); }
		else kill(getpid(), sigs[i]);
	}
	sigset_t pend;
	sigpending(&pend);
	printf("pending:");
	for (int s = 1; s < 65; s++) if (sigismember(&pend, s)) printf(" %d", s);
	printf("\n");
	norder = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("delivery order:");
	for (int i = 0; i < norder; i++) printf(" %d", order[i]);
	printf("\n");
	for (int i = 0; i < (int)(sizeof sigs / sizeof sigs[0]); i++) signal(sigs[i], SIG_DFL);
}

static volatile int resethand_count;
static volatile int nodefer_depth, nodefer_max;
static void resethand_handler(int sig) {
	resethand_count++;
	struct sigaction cur;
	sigaction(sig, NULL, &cur);
	printf("in resethand handler: disposition default=%d\n", cur.sa_handler == SIG_DFL);
}
static void nodefer_handler(int sig) {
	nodefer_depth++;
	if (nodefer_depth > nodefer_max) nodefer_max = nodefer_depth;
	if (nodefer_depth < 3) raise(sig);
	nodefer_depth--;
}
static void defer_handler(int sig) {
	nodefer_depth++;
	if (nodefer_depth > nodefer_max) nodefer_max = nodefer_depth;
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	static int raised;
	if (!raised) { raised = 1; printf("in handler: own signal blocked=%d\n", sigismember(&m, sig)); raise(sig); }
	nodefer_depth--;
}

static void flags(void) {
	struct sigaction sa = {0}, cur;
	sa.sa_handler = resethand_handler;
	sa.sa_flags = SA_RESETHAND;
	CHECK(sigaction(SIGUSR1, &sa, NULL));
	CHECK(sigaction(SIGUSR1, NULL, &cur));
	printf("SA_RESETHAND shown=%d\n", (cur.sa_flags & SA_RESETHAND) != 0);
	raise(SIGUSR1);
	CHECK(sigaction(SIGUSR1, NULL, &cur));
	printf("after: default=%d flags_resethand=%d count=%d\n", cur.sa_handler == SIG_DFL, (cur.sa_flags & SA_RESETHAND) != 0, resethand_count);
	sa.sa_handler = nodefer_handler;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGUSR1, &sa, NULL);
	nodefer_depth = nodefer_max = 0;
	raise(SIGUSR1);
	printf("SA_NODEFER max depth=%d\n", nodefer_max);
	sa.sa_handler = defer_handler;
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
	nodefer_depth = nodefer_max = 0;
	raise(SIGUSR1);
	printf("default defer max depth=%d\n", nodefer_max);
	signal(SIGUSR1, SIG_DFL);

	CHECK(sigaction(SIGKILL, &sa, NULL));
	CHECK(sigaction(SIGSTOP, &sa, NULL));
	CHECK(sigaction(SIGKILL, NULL, &cur));
	CHECK(sigaction(0, NULL, &cur));
	CHECK(sigaction(65, NULL, &cur));
	CHECK(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &cur, 4));
	CHECK(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &cur, 16));
	CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, NULL, 4));
	CHECK(syscall(SYS_rt_sigprocmask, 7, &sa.sa_mask, NULL, 8));
	CHECK(syscall(SYS_rt_sigpending, &cur.sa_mask, 16));
	CHECK(syscall(SYS_rt_sigpending, &cur.sa_mask, 4));
	/* SIGKILL/SIGSTOP cannot be blocked: the mask drops them silently. */
	sigset_t m, o;
	sigemptyset(&m);
	sigaddset(&m, SIGKILL); sigaddset(&m, SIGSTOP); sigaddset(&m, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m, &o);
	sigprocmask(SIG_BLOCK, NULL, &m);
	printf("mask kill=%d stop=%d usr1=%d\n", sigismember(&m, SIGKILL), sigismember(&m, SIGSTOP), sigismember(&m, SIGUSR1));
	sigprocmask(SIG_SETMASK, &o, NULL);
}

static void h_nop(int s) {}

static void waits(void) {
	sigset_t set, old;
	siginfo_t si;
	struct timespec ts = {0, 0};
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	CHECK(sigtimedwait(&set, &si, &ts));                  /* EAGAIN */
	ts.tv_nsec = 1000000000;
	CHECK(sigtimedwait(&set, &si, &ts));                  /* EINVAL */
	ts.tv_nsec = -1;
	CHECK(sigtimedwait(&set, &si, &ts));                  /* EINVAL */
	ts.tv_nsec = 0;
	CHECK(syscall(SYS_rt_sigtimedwait, &set, &si, &ts, 4)); /* EINVAL sigsetsize */
	CHECK(syscall(SYS_rt_sigtimedwait, (void *)1, &si, &ts, 8));
	kill(getpid(), SIGUSR1);
	CHECK(syscall(SYS_rt_sigtimedwait, &set, (void *)1, &ts, 8)); /* EFAULT: the signal is consumed */
	sigpending(&set);
	printf("pending after EFAULT wait=%d\n", sigismember(&set, SIGUSR1));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	kill(getpid(), SIGUSR1);
	CHECK(sigwaitinfo(&set, &si));
	printf("sigwaitinfo signo=%d code=%d\n", si.si_signo, si.si_code);
	kill(getpid(), SIGUSR1);
	CHECK(sigtimedwait(&set, NULL, NULL));
	/* sigtimedwait with SIGKILL in the set: the set drops it. */
	sigaddset(&set, SIGKILL);
	CHECK(sigtimedwait(&set, &si, &ts));
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* sigsuspend returns EINTR after a handler ran, and restores the mask. */
	signal(SIGUSR1, h_nop);
	sigprocmask(SIG_BLOCK, &set, &old);
	kill(getpid(), SIGUSR1);
	sigset_t empty;
	sigemptyset(&empty);
	CHECK(sigsuspend(&empty));
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("mask restored after sigsuspend: usr1 blocked=%d\n", sigismember(&now, SIGUSR1));
	CHECK(syscall(SYS_rt_sigsuspend, &empty, 4));
	CHECK(syscall(SYS_rt_sigsuspend, (void *)1, 8));
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
}

static void restart(void) {
	/* A child sends SIGUSR1 while the parent reads an empty pipe, then writes. With
	 * SA_RESTART the read resumes and returns the data; without it the read is EINTR. */
	for (int flags = 0; flags < 2; flags++) {
		struct sigaction sa = {0};
		sa.sa_handler = h_nop;
		sa.sa_flags = flags ? SA_RESTART : 0;
		sigaction(SIGUSR1, &sa, NULL);
		int p[2], q[2];
		pipe(p);
		pipe(q);
		pid_t parent = getpid();
		pid_t c = fork();
		if (c == 0) {
			char b;
			close(p[0]);
			read(q[0], &b, 1);                /* parent is about to block */
			/* Wait until the parent sleeps in read (state S in /proc). */
			for (int i = 0; i < 2000; i++) {
				char path[64], buf[512];
				snprintf(path, sizeof path, "/proc/%d/stat", parent);
				int fd = open(path, O_RDONLY);
				int n = read(fd, buf, sizeof buf - 1);
				close(fd);
				buf[n > 0 ? n : 0] = 0;
				char *r = strrchr(buf, ')');
				if (r && r[2] == 'S') break;
				usleep(1000);
			}
			kill(parent, SIGUSR1);
			usleep(20000);
			write(p[1], "x", 1);
			_exit(0);
		}
		close(p[1]);
		write(q[1], "g", 1);
		char b = 0;
		errno = 0;
		long r = read(p[0], &b, 1);
		printf("read with%s SA_RESTART = %ld %s\n", flags ? "" : "out", r, r < 0 ? errname(errno) : "OK");
		waitpid(c, NULL, 0);
		close(p[0]); close(q[0]); close(q[1]);
	}
	/* nanosleep interrupted: EINTR and a remainder between 0 and the request. */
	signal(SIGALRM, h_nop);
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec req = {30, 0}, rem = {0, 0};
	CHECK(nanosleep(&req, &rem));
	printf("remainder in range=%d\n", rem.tv_sec > 20 && rem.tv_sec < 30);
	setitimer(ITIMER_REAL, &it, NULL);
	rem.tv_sec = 99;
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem));
	printf("clock_nanosleep remainder in range=%d\n", rem.tv_sec > 20 && rem.tv_sec < 30);
	/* TIMER_ABSTIME does not write the remainder. */
	setitimer(ITIMER_REAL, &it, NULL);
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_sec += 30;
	rem.tv_sec = 99; rem.tv_nsec = 5;
	errno = 0;
	int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, &rem);
	printf("abstime interrupted = %s rem untouched=%d\n", errname(r), rem.tv_sec == 99 && rem.tv_nsec == 5);
	/* Even with SA_RESTART nanosleep returns EINTR. */
	struct sigaction sa = {0};
	sa.sa_handler = h_nop;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(nanosleep(&req, &rem));
	signal(SIGALRM, SIG_DFL);
	req.tv_nsec = 1000000000;
	CHECK(nanosleep(&req, &rem));
	req.tv_nsec = -1;
	CHECK(nanosleep(&req, &rem));
	req.tv_sec = -1; req.tv_nsec = 0;
	CHECK(nanosleep(&req, &rem));
	req.tv_sec = 0;
	CHECK(nanosleep(&req, NULL));
	CHECK(nanosleep(NULL, NULL));
	printf("clock_nanosleep bad clock = %s\n", errname(clock_nanosleep(99, 0, &req, NULL)));
	printf("clock_nanosleep thread cputime = %s\n", errname(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL)));
	printf("clock_nanosleep bad flags = %s\n", errname(clock_nanosleep(CLOCK_MONOTONIC, 2, &req, NULL)));
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_sec -= 10;
	printf("clock_nanosleep abs in the past = %s\n", errname(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL)));
	req.tv_sec = 0; req.tv_nsec = 1000;
	printf("clock_nanosleep boottime = %s\n", errname(clock_nanosleep(CLOCK_BOOTTIME, 0, &req, NULL)));
	printf("clock_nanosleep tai = %s\n", errname(clock_nanosleep(CLOCK_TAI, 0, &req, NULL)));
	printf("clock_nanosleep monotonic_raw = %s\n", errname(clock_nanosleep(CLOCK_MONOTONIC_RAW, 0, &req, NULL)));
	printf("clock_nanosleep realtime_coarse = %s\n", errname(clock_nanosleep(CLOCK_REALTIME_COARSE, 0, &req, NULL)));
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	altstack();
	queueinfo();
	delivery_order();
	flags();
	waits();
	restart();
	return 0;
}
