#include "common.h"
#include <fcntl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/* The int 0x80 entry from 64-bit code: Linux runs the i386 system call numbered eax with
 * ebx, ecx, edx, esi, edi, ebp as 32-bit arguments. Pointers must then lie below 4 GiB:
 * buffers here come from mmap(MAP_32BIT), and a 64-bit pointer is cut (EFAULT). Seccomp
 * filters see such calls with AUDIT_ARCH_I386 and the i386 numbers. */

static long i80(long nr, long a, long b, long c) {
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
	return r;
}

static const char *res(long r) {
	static char buf[64];
	if (r < 0 && r > -4096) snprintf(buf, sizeof buf, "-1 %s", errname((int)-r));
	else snprintf(buf, sizeof buf, "%ld", r);
	return buf;
}

#define I80(nr, a, b, c) printf("%-50s = %s\n", #nr "(" #a ", " #b ", " #c ")", res(i80(nr, (long)(a), (long)(b), (long)(c))))

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	char *low = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low == MAP_FAILED || (unsigned long)low >= 1UL << 32) { perror("mmap"); return 2; }
	workdir("int80");
	char *path = low, *dir = low + 256, *buf = low + 1024;
	int *fds = (int *)(low + 512);
	strcpy(path, "file");
	strcpy(dir, "sub");

	printf("getpid same: %d\n", i80(20, 0, 0, 0) == getpid());
	printf("gettid same: %d\n", i80(224, 0, 0, 0) == syscall(SYS_gettid));
	printf("getppid same: %d\n", i80(64, 0, 0, 0) == getppid());
	printf("getuid32 same: %d\n", i80(199, 0, 0, 0) == getuid());
	printf("geteuid32 same: %d getegid32 same: %d\n", i80(201, 0, 0, 0) == geteuid(), i80(202, 0, 0, 0) == getegid());
	printf("getuid16 same: %d\n", i80(24, 0, 0, 0) == (getuid() > 65535 ? 65534 : getuid()));
	printf("brk(0) same: %d\n", i80(45, 0, 0, 0) == syscall(SYS_brk, 0));
	printf("umask: %ld\n", i80(60, 022, 0, 0));
	printf("umask again: %ld\n", i80(60, 022, 0, 0));

	/* Files through the i386 calls. */
	long fd = i80(5, (long)path, O_CREAT | O_WRONLY | O_TRUNC, 0640);
	printf("open: %s\n", fd >= 0 ? "OK" : res(fd));
	strcpy(buf, "0123456789");
	I80(4, fd, buf, 10);
	I80(19, fd, -1, SEEK_SET);
	I80(19, fd, 4, SEEK_SET);
	I80(4, fd, (long)"abc", 3);
	I80(4, fd, buf, 2);
	I80(6, fd, 0, 0);
	I80(6, fd, 0, 0);
	fd = open("file", O_RDONLY);
	char got[32] = {0};
	read(fd, got, sizeof got - 1);
	close(fd);
	printf("content: %s\n", got);
	fd = i80(5, (long)path, O_RDONLY, 0);
	memset(buf, 0, 32);
	I80(3, fd, buf, 4);
	printf("read: %s\n", buf);
	long d = i80(41, fd, 0, 0);
	printf("dup: %d\n", d > fd);
	I80(63, fd, 20, 0);
	I80(6, 20, 0, 0);
	I80(6, d, 0, 0);
	I80(6, fd, 0, 0);
	I80(33, (long)path, R_OK, 0);
	I80(92, (long)path, 3, 0);
	I80(92, (long)path, -1, 0);
	struct stat st;
	stat("file", &st);
	printf("size after truncate: %ld\n", (long)st.st_size);
	I80(15, (long)path, 0600, 0);
	stat("file", &st);
	printf("mode: %o\n", st.st_mode & 07777);
	I80(39, (long)dir, 0755, 0);
	I80(39, (long)dir, 0755, 0);
	I80(12, (long)dir, 0, 0);
	memset(buf, 0, 256);
	long n = i80(183, (long)buf, 256, 0);
	printf("getcwd: %ld ends in /sub: %d\n", n > 0 ? 1L : n, strlen(buf) > 4 && strcmp(buf + strlen(buf) - 4, "/sub") == 0);
	chdir("..");
	I80(40, (long)dir, 0, 0);
	I80(40, (long)dir, 0, 0);
	I80(10, (long)path, 0, 0);
	I80(10, (long)path, 0, 0);

	/* Pipes and uname. */
	I80(42, fds, 0, 0);
	strcpy(buf, "pipe");
	I80(4, fds[1], buf, 4);
	memset(buf, 0, 8);
	I80(3, fds[0], buf, 8);
	printf("pipe read: %s\n", buf);
	close(fds[0]);
	close(fds[1]);
	struct utsname *u = (struct utsname *)(low + 4096), mine;
	I80(122, u, 0, 0);
	uname(&mine);
	printf("uname same: %d %d\n", strcmp(u->sysname, mine.sysname) == 0, strcmp(u->release, mine.release) == 0);

	/* Pointers above 4 GiB are cut; unknown numbers are ENOSYS. */
	static char high[] = "high";
	if ((unsigned long)high >= 1UL << 32) I80(4, 1, high, 4); else printf("4(1, high, 4) = -1 EFAULT\n");
	I80(9999, 0, 0, 0);
	I80(223, 0, 0, 0);
	I80(-1, 0, 0, 0);

	/* fork, waitpid and exit through int 0x80. */
	long pid = i80(2, 0, 0, 0);
	if (pid == 0) {
		i80(1, 5, 0, 0);
		_exit(99);
	}
	int *status = (int *)(low + 768);
	printf("waitpid same pid: %d\n", i80(7, pid, (long)status, 0) == pid);
	printf("child status: exited %d code %d\n", WIFEXITED(*status), WEXITSTATUS(*status));
	I80(7, -1, (long)status, WNOHANG);

	/* Seccomp sees the i386 number and architecture. */
	pid = fork();
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 3),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 20, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog p = {sizeof f / sizeof f[0], f};
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p) != 0) { perror("seccomp"); _exit(2); }
		I80(20, 0, 0, 0);
		printf("64-bit getpid allowed: %d\n", syscall(SYS_getpid) > 0);
		printf("i386 gettid allowed: %d\n", i80(224, 0, 0, 0) > 0);
		i80(252, 0, 0, 0);
		_exit(98);
	}
	int ws;
	waitpid(pid, &ws, 0);
	printf("seccomp child exit %d\n", WEXITSTATUS(ws));
	return 0;
}
