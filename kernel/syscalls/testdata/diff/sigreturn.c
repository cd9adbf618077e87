/* rt_sigreturn robustness: a handler's edits to the saved context take effect (RIP past a
 * faulting instruction, general registers, the signal mask, the alternate stack), the
 * blocked-signal mask cannot gain SIGKILL/SIGSTOP, and a direct rt_sigreturn with a
 * garbage frame kills the caller with SIGSEGV. */
#define _GNU_SOURCE
#include "common.h"
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

static volatile int faults;
static void on_ill(int sig, siginfo_t *si, void *ctx) {
	ucontext_t *uc = ctx;
	faults++;
	uc->uc_mcontext.gregs[REG_RIP] += 2;          /* skip ud2 */
	uc->uc_mcontext.gregs[REG_RBX] = 0x1234;
	sigaddset(&uc->uc_sigmask, SIGUSR2);           /* blocked after return */
	sigaddset(&uc->uc_sigmask, SIGKILL);
	printf("in handler: si_code=%d addr ok=%d\n", si->si_code, si->si_addr != NULL);
}

static void on_segv(int sig, siginfo_t *si, void *ctx) {
	ucontext_t *uc = ctx;
	printf("segv: code=%d addr=%#lx\n", si->si_code, (unsigned long)si->si_addr);
	uc->uc_mcontext.gregs[REG_RIP] = uc->uc_mcontext.gregs[REG_RIP] + 3;  /* skip the 3-byte mov */
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_ill;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGILL, &sa, NULL);
	long rbx;
	__asm__ volatile("mov $1, %%rbx\n\tud2\n\tmov %%rbx, %0" : "=r"(rbx) : : "rbx");
	sigset_t m;
	sigprocmask(SIG_BLOCK, NULL, &m);
	printf("after ud2: faults=%d rbx=%#lx usr2 blocked=%d kill blocked=%d\n", faults, rbx, sigismember(&m, SIGUSR2), sigismember(&m, SIGKILL));
	sigprocmask(SIG_UNBLOCK, &m, NULL);

	sa.sa_sigaction = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	volatile long v = 0;
	/* a 3-byte load from address 8: mov (%rax),%rax is 48 8b 00 */
	__asm__ volatile("mov $8, %%rax\n\t.byte 0x48, 0x8b, 0x00\n\tmov %%rax, %0" : "=m"(v) : : "rax");
	printf("after segv: resumed=1\n");

	/* A direct rt_sigreturn with a garbage frame: SIGSEGV. */
	pid_t c = fork();
	if (c == 0) {
		signal(SIGSEGV, SIG_DFL);
		__asm__ volatile("mov $0x10, %%rsp\n\tmov $15, %%eax\n\tsyscall" : : : "memory");
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	printf("garbage frame: signaled=%d sig=%d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);

	/* rt_sigreturn with an all-zero frame on a valid stack: the kernel fixes CS/SS and
	 * flags; RIP 0 then faults. */
	c = fork();
	if (c == 0) {
		signal(SIGSEGV, SIG_DFL);
		static char stack[8192] __attribute__((aligned(16)));
		__asm__ volatile("lea %0, %%rsp\n\tmov $15, %%eax\n\tsyscall" : : "m"(stack[0]) : "memory");
		_exit(0);
	}
	waitpid(c, &st, 0);
	printf("zero frame: signaled=%d sig=%d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return 0;
}
