/* Threads share one address space: once a thread's store or its change of the mappings has
 * happened, every other thread sees it (threads(7), mmap(2), munmap(2), mprotect(2),
 * madvise(2)). Reader threads spin in user space (no system call that could let them catch
 * up) until the writer says "go", then at once read or write the page the writer just
 * changed:
 *   - a private page still shared with a fork child: the writer's store breaks the sharing,
 *     and the readers must read the new value, not the page the child keeps;
 *   - MADV_DONTNEED of a private page: the readers must read zeros;
 *   - MAP_FIXED of a new page over one: the readers must read the new page;
 *   - munmap: their read must fault (SIGSEGV);
 *   - mprotect to read-only: their write must fault; to PROT_NONE: their read must fault.
 * The pages are ones the readers used before, so they were mapped in their view. */
#include "common.h"
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define NREADERS 2
#define PAGE 4096
#define CHUNK (2 << 20)
#define NCHUNKS 8
#define NFORKS 3
#define NPAGES 32

enum { OP_READ = 1, OP_READFAULT, OP_WRITEFAULT, OP_TOUCH, OP_EXIT };

/* ctl is MAP_SHARED: a private page of its own would itself be shared with the fork
 * children and change under the readers. */
struct ctl {
	int go;    /* round number; readers act when it changes */
	int acks;  /* readers done with the round */
	int op;
	volatile int *addr;
	int expect;
	char *touch;
	long touchlen;
	int ok[NREADERS];
};
static struct ctl *ctl;
static __thread sigjmp_buf jb;

static void onsegv(int sig) { siglongjmp(jb, 1); }

static void *reader(void *arg) {
	int id = (int)(long)arg, seen = 0;
	for (;;) {
		int g;
		while ((g = __atomic_load_n(&ctl->go, __ATOMIC_ACQUIRE)) == seen)
			;
		seen = g;
		int ok = 0;
		volatile int *a = ctl->addr;
		switch (ctl->op) {
		case OP_EXIT:
			return NULL; /* unacknowledged: the writer joins */
		case OP_READ:
			ok = *a == ctl->expect;
			break;
		case OP_READFAULT:
			if (sigsetjmp(jb, 1) == 0) {
				(void)*a;
				ok = 0;
			} else
				ok = 1;
			break;
		case OP_WRITEFAULT:
			if (sigsetjmp(jb, 1) == 0) {
				*a = 7;
				ok = 0;
			} else
				ok = 1;
			break;
		case OP_TOUCH:
			for (long i = 0; i < ctl->touchlen; i += PAGE)
				ok += ((volatile char *)ctl->touch)[i];
			ok = 1;
			break;
		}
		ctl->ok[id] = ok;
		__atomic_add_fetch(&ctl->acks, 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, &ctl->acks, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
}

/* round runs one operation in every reader and returns how many found what they should. */
static int round_(int op, volatile void *addr, int expect) {
	ctl->op = op;
	ctl->addr = addr;
	ctl->expect = expect;
	__atomic_store_n(&ctl->acks, 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&ctl->go, 1, __ATOMIC_RELEASE);
	int n;
	while ((n = __atomic_load_n(&ctl->acks, __ATOMIC_ACQUIRE)) < NREADERS)
		syscall(SYS_futex, &ctl->acks, FUTEX_WAIT, n, NULL, NULL, 0);
	int good = 0;
	for (int i = 0; i < NREADERS; i++)
		good += ctl->ok[i];
	return good;
}

static void touch(void *p, long len) {
	ctl->touch = p;
	ctl->touchlen = len;
	round_(OP_TOUCH, NULL, 0);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	ctl = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = {.sa_handler = onsegv};
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	pthread_t th[NREADERS];
	for (long i = 0; i < NREADERS; i++)
		pthread_create(&th[i], NULL, reader, (void *)i);

	/* Copy-on-write breaks: every chunk of buf is shared with a child when written. */
	int *buf = mmap(NULL, NCHUNKS * CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(buf, 1, NCHUNKS * CHUNK);
	int good = 0, total = 0;
	for (int f = 0; f < NFORKS; f++) {
		int p[2];
		pipe(p);
		pid_t c = fork();
		if (c == 0) {
			char b;
			close(p[1]);
			read(p[0], &b, 1);
			_exit(buf[f * 3 * PAGE / sizeof(int)] == 0x01010101 ? 0 : 1);
		}
		touch(buf, NCHUNKS * CHUNK);
		for (int k = 0; k < NCHUNKS; k++) {
			volatile int *a = buf + (k * CHUNK + f * 3 * PAGE) / sizeof(int);
			*a = 1000 + f * 100 + k;
			good += round_(OP_READ, a, 1000 + f * 100 + k);
			total += NREADERS;
		}
		close(p[1]);
		int st;
		waitpid(c, &st, 0);
		printf("fork %d: child kept its copy: %s\n", f, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no");
	}
	printf("copy-on-write: %d of %d reads saw the other thread's store\n", good, total);

	/* MADV_DONTNEED: private anonymous pages read as zeros again. */
	good = total = 0;
	char *r = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(r, 3, NPAGES * PAGE);
	touch(r, NPAGES * PAGE);
	for (int i = 0; i < NPAGES; i++) {
		madvise(r + i * PAGE, PAGE, MADV_DONTNEED);
		good += round_(OP_READ, r + i * PAGE, 0);
		total += NREADERS;
	}
	printf("MADV_DONTNEED: %d of %d reads saw zeros\n", good, total);

	/* MAP_FIXED over a mapped page: the new page. */
	good = total = 0;
	memset(r, 3, NPAGES * PAGE);
	touch(r, NPAGES * PAGE);
	for (int i = 0; i < NPAGES; i++) {
		int *n = mmap(r + i * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		good += round_(OP_READ, n, 0);
		total += NREADERS;
	}
	printf("MAP_FIXED: %d of %d reads saw the new page\n", good, total);

	/* mprotect: read-only, then no access. */
	good = total = 0;
	memset(r, 3, NPAGES * PAGE);
	touch(r, NPAGES * PAGE);
	for (int i = 0; i < NPAGES; i++) {
		mprotect(r + i * PAGE, PAGE, PROT_READ);
		good += round_(OP_WRITEFAULT, r + i * PAGE, 0);
		total += NREADERS;
	}
	printf("mprotect PROT_READ: %d of %d writes faulted\n", good, total);
	good = total = 0;
	for (int i = 0; i < NPAGES; i++) {
		mprotect(r + i * PAGE, PAGE, PROT_NONE);
		good += round_(OP_READFAULT, r + i * PAGE, 0);
		total += NREADERS;
	}
	printf("mprotect PROT_NONE: %d of %d reads faulted\n", good, total);

	/* munmap. */
	good = total = 0;
	mprotect(r, NPAGES * PAGE, PROT_READ | PROT_WRITE);
	touch(r, NPAGES * PAGE);
	for (int i = 0; i < NPAGES; i++) {
		munmap(r + i * PAGE, PAGE);
		good += round_(OP_READFAULT, r + i * PAGE, 0);
		total += NREADERS;
	}
	printf("munmap: %d of %d reads faulted\n", good, total);

	ctl->op = OP_EXIT;
	__atomic_add_fetch(&ctl->go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);
	return 0;
}
