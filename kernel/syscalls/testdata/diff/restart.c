/* SA_RESTART across blocking calls (signal(7)): for each call, a child interrupts the
 * parent with a handled SIGUSR1 while it sleeps in the call, then satisfies the call; the
 * parent shows whether the call failed with EINTR or resumed and completed. Calls with a
 * timeout (and pause, sigsuspend, poll, select, epoll_wait, nanosleep, semtimedop...) are
 * never restarted after a handler; most others are with SA_RESTART. */
#include "common.h"
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/uio.h>

static void h(int s) {}

static int p[2];
static uint32_t *fword;
static int semid, msqid;

static int sleeping(pid_t pid) {
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0) return 0;
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *r = strrchr(buf, ')');
	return r && r[2] == 'S';
}

/* satisfy makes the parent's call able to finish. */
static void satisfy(int which) {
	switch (which) {
	case 2: case 3:
		__atomic_store_n(fword, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, fword, FUTEX_WAKE, 1, NULL, NULL, 0);
		break;
	case 8: { struct sembuf op = {0, 1, 0}; semop(semid, &op, 1); break; }
	case 9: { struct { long t; char c; } m = {1, 'x'}; msgsnd(msqid, &m, 1, 0); break; }
	default:
		write(p[1], "x", 1);
	}
}

static long call(int which) {
	char b;
	struct timespec ts = {30, 0};
	switch (which) {
	case 0: return read(p[0], &b, 1);
	case 1: { struct pollfd pf = {p[0], POLLIN, 0}; return poll(&pf, 1, -1); }
	case 2: return syscall(SYS_futex, fword, FUTEX_WAIT, 0, NULL, NULL, 0);
	case 3: return syscall(SYS_futex, fword, FUTEX_WAIT, 0, &ts, NULL, 0);
	case 4: { fd_set s; FD_ZERO(&s); FD_SET(p[0], &s); return select(p[0] + 1, &s, NULL, NULL, NULL); }
	case 5: { int e = epoll_create1(0); struct epoll_event ev = {.events = EPOLLIN}; epoll_ctl(e, EPOLL_CTL_ADD, p[0], &ev);
		long r = epoll_wait(e, &ev, 1, -1); int er = errno; close(e); errno = er; return r; }
	case 6: { char buf[1]; struct iovec iov = {buf, 1}; return readv(p[0], &iov, 1); }
	case 7: { char buf[1]; return pread(p[0], buf, 1, 0) < 0 && errno == ESPIPE ? read(p[0], buf, 1) : -1; }
	case 8: { struct sembuf op = {0, -1, 0}; return semop(semid, &op, 1); }
	case 9: { struct { long t; char c; } m; return msgrcv(msqid, &m, 1, 0, 0); }
	case 10: { struct timespec t2 = {30, 0}; struct sembuf op = {0, -1, 0}; return semtimedop(semid, &op, 1, &t2); }
	case 11: { struct timeval tv = {30, 0}; fd_set s; FD_ZERO(&s); FD_SET(p[0], &s); return select(p[0] + 1, &s, NULL, NULL, &tv); }
	case 12: { struct pollfd pf = {p[0], POLLIN, 0}; return poll(&pf, 1, 30000); }
	case 13: return syscall(SYS_wait4, -1, NULL, 0, NULL);
	}
	return -2;
}

static const char *names[] = {"read pipe", "poll no timeout", "futex wait", "futex wait timeout", "select no timeout",
	"epoll_wait", "readv pipe", "read after ESPIPE", "semop", "msgrcv", "semtimedop", "select timeout", "poll timeout",
	"wait4"};

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	fword = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	semid = semget(IPC_PRIVATE, 1, 0600);
	msqid = msgget(IPC_PRIVATE, 0600);
	for (int which = 0; which < 13; which++) {
		for (int restart = 0; restart < 2; restart++) {
			struct sigaction sa = {0};
			sa.sa_handler = h;
			sa.sa_flags = restart ? SA_RESTART : 0;
			sigaction(SIGUSR1, &sa, NULL);
			pipe(p);
			*fword = 0;
			semctl(semid, 0, SETVAL, 0);
			pid_t parent = getpid();
			pid_t c = fork();
			if (c == 0) {
				for (int i = 0; i < 5000 && !sleeping(parent); i++) usleep(1000);
				kill(parent, SIGUSR1);
				usleep(50000);
				for (int i = 0; i < 5000 && !sleeping(parent); i++) usleep(1000);
				if (which == 13) _exit(0);   /* the parent's wait ends with our exit */
				satisfy(which);
				usleep(50000);
				_exit(0);
			}
			errno = 0;
			long r = call(which);
			int e = errno;
			printf("%-20s %s SA_RESTART: %s\n", names[which], restart ? "with   " : "without", r >= 0 ? "completed" : errname(e));
			if (which != 13 || r < 0) waitpid(c, NULL, 0);
			/* drain what the child left */
			close(p[0]); close(p[1]);
			struct { long t; char c; } m;
			while (msgrcv(msqid, &m, 1, 0, IPC_NOWAIT) >= 0) ;
		}
	}
	semctl(semid, 0, IPC_RMID);
	msgctl(msqid, IPC_RMID, NULL);
	return 0;
}
