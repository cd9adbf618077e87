/* PROT_NONE mappings (mmap(2), mprotect(2)): no access until mprotect allows one, then
 * zero-filled memory that keeps what is written through later mprotects; MAP_FIXED over a
 * reservation, munmap of it, a PROT_NONE mapping over touched memory, a thread and a fork
 * child using what the reserving thread opened. (On trap/ptrace the stub maps a new
 * PROT_NONE range only when an access faults there: this checks what the app sees.) */
#include "common.h"
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PAGE 4096

static sigjmp_buf env;
static volatile void *fault_addr;
static volatile int fault_code;

static void onsegv(int sig, siginfo_t *si, void *uc) {
	fault_addr = si->si_addr;
	fault_code = si->si_code;
	siglongjmp(env, 1);
}

/* probe reads (write = 0) or writes p: "ok <byte>" or the fault's code, and whether its
 * address was p. */
static void probe(const char *what, volatile char *p, int write) {
	if (sigsetjmp(env, 1) == 0) {
		int v;
		if (write) {
			*p = 'w';
			v = *p;
		} else {
			v = *p;
		}
		printf("%-44s ok %d\n", what, v);
	} else {
		printf("%-44s SIGSEGV %s at %s\n", what,
		       fault_code == SEGV_ACCERR ? "SEGV_ACCERR" : fault_code == SEGV_MAPERR ? "SEGV_MAPERR" : "other",
		       fault_addr == (void *)p ? "the address" : "elsewhere");
	}
}

static char *shared_page;
static pthread_barrier_t bar;

static void *other(void *arg) {
	pthread_barrier_wait(&bar); /* the main thread reserved and opened the page */
	probe("thread: read opened page", shared_page, 0);
	probe("thread: write opened page", shared_page + 1, 1);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar); /* the main thread closed it again */
	probe("thread: read closed page", shared_page, 0);
	return NULL;
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = {0};
	sa.sa_sigaction = onsegv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);

	char *r = mmap(NULL, 64 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK0(r == MAP_FAILED ? -1 : 0);
	probe("reservation: read", r, 0);
	probe("reservation: write", r + 5 * PAGE, 1);
	CHECK(mprotect(r + 8 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE));
	probe("opened: read (zero)", r + 8 * PAGE, 0);
	probe("opened: write", r + 9 * PAGE + 7, 1);
	probe("opened: last page write", r + 12 * PAGE - 1, 1);
	probe("beyond opened: read", r + 12 * PAGE, 0);
	probe("before opened: read", r + 8 * PAGE - 1, 0);
	CHECK(mprotect(r + 8 * PAGE, 4 * PAGE, PROT_NONE));
	probe("closed again: read", r + 9 * PAGE + 7, 0);
	CHECK(mprotect(r + 8 * PAGE, 4 * PAGE, PROT_READ));
	probe("read-only: keeps its byte", r + 9 * PAGE + 7, 0);
	probe("read-only: write", r + 9 * PAGE + 7, 1);

	/* MAP_FIXED over part of the reservation: fresh zeroed memory there. */
	char *f = mmap(r + 20 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK0(f == r + 20 * PAGE ? 0 : -1);
	probe("MAP_FIXED over reservation: read", f, 0);
	probe("MAP_FIXED over reservation: write", f + PAGE, 1);
	probe("next to it: read", f + 2 * PAGE, 0);

	/* A PROT_NONE MAP_FIXED over touched memory takes the access away. */
	char *t = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t[0] = 'x';
	t[PAGE] = 'y';
	CHECK0(mmap(t, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == t ? 0 : -1);
	probe("PROT_NONE over touched: read", t, 0);
	probe("its neighbour keeps its byte", t + PAGE, 0);
	CHECK(mprotect(t, PAGE, PROT_READ));
	probe("opened again: zero", t, 0);

	/* A thread that already runs uses a page the main thread opens and closes. */
	pthread_barrier_init(&bar, NULL, 2);
	pthread_t th;
	pthread_create(&th, NULL, other, NULL);
	shared_page = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mprotect(shared_page, PAGE, PROT_READ | PROT_WRITE));
	shared_page[0] = 's';
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	probe("main: the thread's write", shared_page + 1, 0);
	CHECK(mprotect(shared_page, PAGE, PROT_NONE));
	pthread_barrier_wait(&bar);
	pthread_join(th, NULL);

	/* A fork child sees what the parent opened and wrote; its writes stay its own. */
	char *c = mmap(NULL, 4 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mprotect(c + PAGE, PAGE, PROT_READ | PROT_WRITE));
	c[PAGE] = 'p';
	pid_t pid = fork();
	if (pid == 0) {
		probe("child: parent's byte", c + PAGE, 0);
		probe("child: write", c + PAGE, 1);
		probe("child: still closed", c, 0);
		mprotect(c + 2 * PAGE, PAGE, PROT_READ);
		probe("child: opened after fork", c + 2 * PAGE, 0);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	probe("parent: its byte after the child wrote", c + PAGE, 0);
	probe("parent: the page the child opened", c + 2 * PAGE, 0);

	/* Unmapped: SEGV_MAPERR. */
	CHECK(munmap(r, 64 * PAGE));
	probe("unmapped reservation: read", r + 9 * PAGE, 0);

	/* Many reservations made and dropped, some opened and touched. */
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		char *p = mmap(NULL, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			bad++;
			continue;
		}
		if (i % 3 == 0) {
			if (mprotect(p + (i % 16) * PAGE, PAGE, PROT_READ | PROT_WRITE) != 0 || p[(i % 16) * PAGE] != 0)
				bad++;
			p[(i % 16) * PAGE] = (char)i;
			if (p[(i % 16) * PAGE] != (char)i)
				bad++;
		}
		if (munmap(p, 16 * PAGE) != 0)
			bad++;
	}
	printf("2000 reservations: %d bad\n", bad);
	return 0;
}
