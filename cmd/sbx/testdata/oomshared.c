/* Under a 256 MiB limit: the parent maps 512 MiB of shared anonymous memory and a child
 * fills it. The child, which faulted the pages in, is the one killed, not the parent that
 * only maps them (Linux counts a process's resident pages in its own page tables); the
 * parent, which asks for no more memory, lives on with the memory still in use. It
 * touches what it will use (its output buffer) before the fork: a page asked for at the
 * limit would get it killed too, on Linux (no swap) as here. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

static char out[256];

int main(void) {
	memset(out, 0, sizeof out);
	size_t len = 512UL << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) { perror("mmap"); return 1; }
	pid_t child = fork();
	if (child == 0) {
		for (size_t i = 0; i < len; i += 4096)
			p[i] = 1;
		_exit(0);
	}
	int st;
	waitpid(child, &st, 0);
	int n = snprintf(out, sizeof out, "child: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit",
		WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	write(1, out, n);
	sleep(1); /* the memory stays in use: nothing more is asked for */
	munmap(p, len);
	write(1, "parent: done\n", 13);
	return 0;
}
