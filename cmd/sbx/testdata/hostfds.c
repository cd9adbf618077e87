// hostfds: passes files both ways with a host peer over the socket named by
// $WAYLAND_DISPLAY (under sbx: brokered, as a compositor's is). The peer (wayland_test.go)
// sends a sealed memfd and the read end of a pipe holding "pipe-data"; this program maps
// and reads them, then sends back the write end of a pipe of its own (the peer writes
// "clip" into it and closes it: a clipboard transfer), the read end of another (the peer
// reads "from-app" to end of file), and the memfd it received (the peer checks that it is
// the same file). It prints what it saw; the test compares that with a native run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int recv_fds(int s, char *tag, int *fds, int max, int *flags) {
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = {tag, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			   .msg_controllen = CMSG_SPACE(sizeof(int) * max)};
	ssize_t n = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
	if (n != 1) {
		printf("recvmsg: %zd %s\n", n, strerror(errno));
		exit(1);
	}
	*flags = m.msg_flags;
	int got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds + got, CMSG_DATA(c), k * sizeof(int));
			got += k;
		}
	}
	return got;
}

static int send_fd(int s, char tag, int fd) {
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&tag, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(s, &m, 0) == 1 ? 0 : -errno;
}

static void read_all(int fd, char *buf, size_t size) {
	size_t got = 0;
	ssize_t n;
	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
}

static long futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts) {
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

// waiter waits on the shared futex word it is given, for at most 10 s.
static void *waiter(void *arg) {
	struct timespec ts = {10, 0};
	long r = futex(arg, FUTEX_WAIT, 0, &ts);
	return (void *)(r == 0 ? "woken" : strerror(errno));
}

// wake_across waits on the word at wait in a thread and wakes it through wake (another
// mapping of the same file), retrying until the waiter is there (at most 5 s).
static void wake_across(const char *what, uint32_t *wait, uint32_t *wake) {
	pthread_t th;
	*wait = 0;
	pthread_create(&th, NULL, waiter, wait);
	long n = 0;
	for (int i = 0; i < 5000 && n == 0; i++) {
		n = futex(wake, FUTEX_WAKE, 1, NULL);
		if (n == 0)
			usleep(1000);
	}
	void *res;
	pthread_join(th, &res);
	printf("futex %s: woke %ld, waiter %s\n", what, n, (char *)res);
}

int main(void) {
	const char *path = getenv("WAYLAND_DISPLAY");
	if (!path || path[0] != '/') {
		printf("WAYLAND_DISPLAY is not a path: %s\n", path ? path : "(unset)");
		return 1;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strncpy(a.sun_path, path, sizeof(a.sun_path) - 1);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IONBF, 0);

	// A message with too little room for its files: they are closed, MSG_CTRUNC says so.
	int fds[8], flags;
	char tag;
	int n = recv_fds(s, &tag, fds, 0, &flags);
	printf("no room: tag %c, %d files, ctrunc %d\n", tag, n, !!(flags & MSG_CTRUNC));

	n = recv_fds(s, &tag, fds, 8, &flags);
	printf("tag %c, %d files, ctrunc %d\n", tag, n, !!(flags & MSG_CTRUNC));
	if (n != 2)
		return 1;
	int memfd = fds[0], rpipe = fds[1];
	struct stat st;
	fstat(memfd, &st);
	printf("memfd: regular %d, size %lld, cloexec %d\n", S_ISREG(st.st_mode), (long long)st.st_size,
	       !!(fcntl(memfd, F_GETFD) & FD_CLOEXEC));
	printf("memfd seals: %#x\n", fcntl(memfd, F_GET_SEALS));
	char *p = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, memfd, 0);
	if (p == MAP_FAILED) {
		printf("mmap shared read-only: %s\n", strerror(errno));
		return 1;
	}
	printf("mapped shared: %.*s\n", (int)st.st_size, p);
	char *ws = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	printf("sealed, shared writable: %s\n", ws == MAP_FAILED ? strerror(errno) : "mapped");
	char *q = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, memfd, 0);
	if (q == MAP_FAILED) {
		printf("mmap private: %s\n", strerror(errno));
		return 1;
	}
	memcpy(q, "KEYMAP", 6);
	printf("private copy: %.*s, file still: %.*s\n", (int)st.st_size, q, (int)st.st_size, p);
	char buf[64];
	ssize_t r = pread(memfd, buf, 6, 0);
	printf("pread: %.*s\n", (int)r, buf);
	fstat(rpipe, &st);
	read_all(rpipe, buf, sizeof(buf));
	printf("pipe: fifo %d, read %s\n", S_ISFIFO(st.st_mode), buf);

	// A clipboard transfer: the peer writes into the write end we send.
	int p1[2];
	pipe2(p1, O_CLOEXEC);
	printf("send write end: %d\n", send_fd(s, 'W', p1[1]));
	close(p1[1]);
	read_all(p1[0], buf, sizeof(buf));
	printf("read from peer: %s\n", buf);

	// The other way: the peer reads what we write to the end of file.
	int p2[2];
	pipe2(p2, O_CLOEXEC);
	printf("send read end: %d\n", send_fd(s, 'R', p2[0]));
	close(p2[0]);
	write(p2[1], "from-app", 8);
	close(p2[1]);

	// A memfd of the app's own (a wl_shm pool): written through a shared mapping, sealed
	// against shrinking; the peer must see the pixels and the seal, and its own store must
	// show in the app's mapping.
	int own = memfd_create("wl_shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ftruncate(own, 4096);
	char *pix = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, own, 0);
	if (pix == MAP_FAILED) {
		printf("mmap own memfd: %s\n", strerror(errno));
		return 1;
	}
	strcpy(pix, "pixels-from-app");
	printf("seal own memfd: %d\n", fcntl(own, F_ADD_SEALS, F_SEAL_SHRINK));
	printf("send own memfd: %d\n", send_fd(s, 'S', own));
	char ack = 0;
	read(s, &ack, 1);
	printf("peer ack %c, mapping now: %s\n", ack, pix + 100);

	// A /dev/shm file (shm_open: a sound server's pool) goes out as itself too.
	char shmname[64];
	snprintf(shmname, sizeof shmname, "/sbx-hostfds-%d", getpid());
	int shm = shm_open(shmname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	shm_unlink(shmname);
	ftruncate(shm, 4096);
	char *sp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
	strcpy(sp, "shm-from-app");
	printf("send shm file: %d\n", send_fd(s, 'H', shm));
	read(s, &ack, 1);
	printf("peer ack %c, shm mapping now: %s\n", ack, sp + 100);

	// A sound server's pool: the peer's memfd, mapped shared and writable, the app's stores
	// and the peer's seen by both (the app closes the file first: the mapping keeps it).
	// The same file open read-only maps shared only without write; a file sealed with
	// F_SEAL_FUTURE_WRITE maps shared only without write.
	int pfds[8];
	n = recv_fds(s, &tag, pfds, 8, &flags);
	printf("tag %c, %d files, ctrunc %d\n", tag, n, !!(flags & MSG_CTRUNC));
	if (n != 3)
		return 1;
	int pool = pfds[0], pool_ro = pfds[1], sealed = pfds[2];
	printf("pool access %d, read-only access %d\n", fcntl(pool, F_GETFL) & O_ACCMODE,
	       fcntl(pool_ro, F_GETFL) & O_ACCMODE);
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, pool_ro, 0);
	printf("read-only file, shared writable: %s\n", w == MAP_FAILED ? strerror(errno) : "mapped");
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, pool_ro, 0);
	if (ro == MAP_FAILED) {
		printf("mmap read-only file shared: %s\n", strerror(errno));
		return 1;
	}
	printf("read-only file, mprotect writable: %s\n",
	       mprotect(ro, 4096, PROT_READ | PROT_WRITE) ? strerror(errno) : "done");
	w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sealed, 0);
	printf("future-write sealed, shared writable: %s\n", w == MAP_FAILED ? strerror(errno) : "mapped");
	w = mmap(NULL, 4096, PROT_READ, MAP_SHARED, sealed, 0);
	if (w == MAP_FAILED) {
		printf("mmap sealed file shared: %s\n", strerror(errno));
		return 1;
	}
	printf("future-write sealed: %s, mprotect writable: %s\n", w,
	       mprotect(w, 4096, PROT_READ | PROT_WRITE) ? strerror(errno) : "done");
	int pp[2];
	pipe2(pp, O_CLOEXEC);
	printf("write from the sealed mapping: %zd\n", write(pp[1], w, 11));
	r = read(pp[0], buf, sizeof(buf));
	printf("the pipe holds: %.*s\n", (int)r, buf);
	char *pl = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, pool, 0);
	if (pl == MAP_FAILED) {
		printf("mmap pool shared writable: %s\n", strerror(errno));
		return 1;
	}
	// Opened again through /proc: the same file, mapped shared as well.
	char procpath[64];
	snprintf(procpath, sizeof procpath, "/proc/self/fd/%d", pool);
	int again = open(procpath, O_RDWR | O_CLOEXEC);
	char *pa = again < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, again, 0);
	if (pa == MAP_FAILED) {
		printf("pool opened again: %s\n", strerror(errno));
		return 1;
	}
	close(again);
	strcpy(pa + 50, "through-proc");
	close(pool);
	printf("pool: %s, %s\n", pl, pl + 50);
	// A child shares the mapping of the closed file.
	pid_t child = fork();
	if (child == 0) {
		strcpy(pl + 400, "from-child");
		_exit(0);
	}
	waitpid(child, NULL, 0);
	printf("after the child: %s\n", pl + 400);
	// Grown (past the end of the file, untouched there): the closed file again.
	char *pm = mremap(pl, 4096, 8192, MREMAP_MAYMOVE);
	if (pm == MAP_FAILED) {
		printf("mremap of the pool: %s\n", strerror(errno));
		return 1;
	}
	pl = pm;
	printf("grown: %s\n", pl + 50);
	strcpy(pl + 100, "app-in-pool");
	printf("pread into the pool: %zd\n", pread(pool_ro, pl + 300, 14, 0));
	write(s, "P", 1);
	read(s, &ack, 1);
	printf("peer ack %c, pool now: %s, read-only mapping: %s\n", ack, pl + 200, ro + 200);

	// A sound server's wake-ups: the peer's non-blocking eventfd (counter 5). It has no
	// offset: reads and writes take and add to the counter.
	n = recv_fds(s, &tag, fds, 8, &flags);
	printf("tag %c, %d files, ctrunc %d\n", tag, n, !!(flags & MSG_CTRUNC));
	if (n != 1)
		return 1;
	int efd = fds[0];
	uint64_t v = 0;
	fstat(efd, &st);
	printf("eventfd: type %o, nonblock %d\n", st.st_mode & S_IFMT, !!(fcntl(efd, F_GETFL) & O_NONBLOCK));
	r = read(efd, &v, sizeof v);
	printf("eventfd read: %zd, %llu\n", r, (unsigned long long)v);
	r = read(efd, &v, sizeof v);
	printf("eventfd read again: %zd (%s)\n", r, r < 0 ? strerror(errno) : "");
	r = read(efd, &v, 4);
	printf("eventfd short read: %zd (%s)\n", r, r < 0 ? strerror(errno) : "");
	r = pread(efd, &v, sizeof v, 0);
	printf("eventfd pread: %zd (%s)\n", r, r < 0 ? strerror(errno) : "");
	v = 7;
	printf("eventfd write 7: %zd\n", write(efd, &v, sizeof v));
	write(s, "E", 1);
	read(s, &ack, 1);
	printf("peer ack %c\n", ack);
	// The peer took the 7 and adds 3 soon: a wait in poll ends with it.
	struct pollfd pf = {efd, POLLIN, 0};
	int pr = poll(&pf, 1, 10000);
	r = read(efd, &v, sizeof v);
	printf("eventfd poll: %d %#x, read %zd, %llu\n", pr, pf.revents, r, (unsigned long long)v);

	// One host file received twice (and opened again through /proc) is one file: a futex
	// in one mapping of it is woken through another. The kernel copies through the
	// mappings; once the app has unmapped them, the peer may seal the file against writing.
	n = recv_fds(s, &tag, fds, 8, &flags);
	printf("tag %c, %d files, ctrunc %d\n", tag, n, !!(flags & MSG_CTRUNC));
	if (n != 2)
		return 1;
	snprintf(procpath, sizeof procpath, "/proc/self/fd/%d", fds[0]);
	int third = open(procpath, O_RDWR | O_CLOEXEC);
	uint32_t *m1 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	uint32_t *m2 = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
	uint32_t *m3 = third < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, third, 0);
	if (m1 == MAP_FAILED || m2 == MAP_FAILED || m3 == MAP_FAILED) {
		printf("mapping the file received twice: %s\n", strerror(errno));
		return 1;
	}
	wake_across("across two receptions", m1 + 16, m2 + 16);
	wake_across("across a reception and its reopening", m3 + 32, m1 + 32);
	pipe2(pp, O_CLOEXEC);
	write(pp[1], "through-pipe", 12);
	printf("read into the second mapping: %zd\n", read(pp[0], (char *)m2 + 1024, 12));
	printf("write from the first mapping: %zd\n", write(pp[1], (char *)m1 + 1024, 12));
	r = read(pp[0], buf, sizeof buf);
	printf("the pipe holds: %.*s\n", (int)r, buf);
	close(pp[0]);
	close(pp[1]);
	munmap(m1, 4096);
	munmap(m2, 4096);
	munmap(m3, 4096);
	write(s, "F", 1);
	read(s, &ack, 1);
	printf("the peer's F_SEAL_WRITE after the mappings went: %c\n", ack);
	close(third);
	close(fds[0]);
	close(fds[1]);

	// A file received from the host goes back as itself.
	printf("send memfd back: %d\n", send_fd(s, 'M', memfd));

	read_all(s, buf, sizeof(buf));
	printf("peer says: %s\n", buf);
	return 0;
}
