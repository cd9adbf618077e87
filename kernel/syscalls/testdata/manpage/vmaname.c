/* PR_SET_VMA_ANON_NAME as prctl(2) and Linux's madvise_set_anon_name describe it (a kernel
 * built with CONFIG_ANON_VMA_NAME; this host's is not, so the expected output is
 * vmaname.want, written from the man page, not a native run): names of up to 79
 * printable characters without [ ] \ $ `, NULL resets, EINVAL/EFAULT/EBADF/ENOMEM paths,
 * [anon:NAME] and [anon_shmem:NAME] in /proc/PID/maps, kept across fork. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what) {
	FILE *f = fopen("/proc/self/maps", "r");
	char l[512];
	while (fgets(l, sizeof l, f)) {
		char *n = strstr(l, "[anon");
		if (n) printf("%s: %s", what, n);
	}
	fclose(f);
}

static int name(void *p, unsigned long len, const char *s) {
	errno = 0;
	return prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, p, len, s) < 0 ? errno : 0;
}

int main(void) {
	char *p = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("middle page: %d\n", name(p + 4096, 4096, "hello world"));
	show("after naming");
	printf("rename whole: %d\n", name(p, 4 * 4096, "whole"));
	show("after rename");
	char longname[100];
	memset(longname, 'a', sizeof longname - 1);
	longname[99] = 0;
	printf("100 chars: %d\n", name(p, 4096, longname));
	longname[79] = 0;
	printf("79 chars: %d\n", name(p, 4096, longname));
	longname[80 - 1] = 'a';
	longname[80] = 0;
	printf("80 chars: %d\n", name(p, 4096, longname));
	printf("bracket: %d, dollar: %d, newline: %d, backquote: %d, backslash: %d\n", name(p, 4096, "a[b"),
	       name(p, 4096, "a$b"), name(p, 4096, "a\nb"), name(p, 4096, "a`b"), name(p, 4096, "a\\b"));
	printf("bad option: %d\n", prctl(PR_SET_VMA, 7, p, 4096, "x") < 0 ? errno : 0);
	printf("unaligned: %d\n", name(p + 1, 4096, "x"));
	printf("bad pointer: %d\n", name(p, 4096, (const char *)8));
	printf("zero length: %d\n", name(p, 0, "x"));
	munmap(p + 4096, 4096);
	printf("with a hole: %d\n", name(p, 4 * 4096, "holes"));
	show("after hole");
	printf("reset: %d\n", name(p, 4 * 4096, NULL));
	show("after reset");
	int fd = open("/proc/self/exe", O_RDONLY);
	char *f = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("file mapping: %d\n", name(f, 4096, "file"));
	char *s = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("shared anonymous: %d\n", name(s, 4096, "shm"));
	show("shared");
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		show("child");
		fflush(stdout);
		_exit(0);
	}
	while (wait(0) > 0) {}
	return 0;
}
