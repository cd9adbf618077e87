/* Calls that must return where Linux returns (issue 19 item 1): a robust mutex whose
 * owner died gives the next locker EOWNERDEAD (thread exit, process exit, exec), waitid
 * without WEXITED reports stops and continues, a blocked read ends with EINTR when a
 * handler runs, a pending-op futex of a dead thread wakes its waiter. An alarm ends the
 * program if anything hangs, so a regression fails instead of stalling the suite. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <linux/futex.h>

static pthread_mutex_t *m;

static void *lock_and_exit(void *a) { (void)a; pthread_mutex_lock(m); return NULL; }

static void robust(void) {
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutex_init(m, &at);
	pthread_t th;
	pthread_create(&th, 0, lock_and_exit, 0);
	pthread_join(th, 0);
	int r = pthread_mutex_lock(m);
	printf("robust: thread died holding it: %s\n", errname(r));
	printf("robust: made consistent: %s\n", errname(pthread_mutex_consistent(m)));
	pthread_mutex_unlock(m);
	pid_t c = fork();
	if (c == 0) { pthread_mutex_lock(m); _exit(0); }
	waitpid(c, 0, 0);
	r = pthread_mutex_lock(m);
	printf("robust: process died holding it: %s\n", errname(r));
	/* Not made consistent: unlocking leaves it unrecoverable. */
	pthread_mutex_unlock(m);
	printf("robust: after unlock without consistent: %s\n", errname(pthread_mutex_lock(m)));
	c = fork();
	if (c == 0) {
		pthread_mutex_t *m2 = (pthread_mutex_t *)((char *)m + 512);
		pthread_mutex_init(m2, &at);
		pthread_mutex_lock(m2);
		execl("/bin/true", "true", (char *)NULL);
		_exit(1);
	}
	waitpid(c, 0, 0);
	printf("robust: exec while holding it: %s\n", errname(pthread_mutex_lock((pthread_mutex_t *)((char *)m + 512))));
	/* A waiter blocked on a robust mutex is woken when the owner dies. */
	pthread_mutex_t *m3 = (pthread_mutex_t *)((char *)m + 1024);
	pthread_mutex_init(m3, &at);
	int locked[2];
	pipe(locked);
	c = fork();
	if (c == 0) { pthread_mutex_lock(m3); write(locked[1], "x", 1); usleep(200000); _exit(0); }
	char x;
	read(locked[0], &x, 1); /* the child holds it (the lock below must not come first) */
	r = pthread_mutex_lock(m3);
	printf("robust: waiter woken by the owner's death: %s\n", errname(r));
	waitpid(c, 0, 0);
}

static void waitids(void) {
	pid_t c = fork();
	if (c == 0) { pause(); _exit(3); }
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, c, &si, WSTOPPED | WNOHANG));
	printf("waitid: nothing yet, si_pid %d\n", si.si_pid);
	kill(c, SIGSTOP);
	CHECK(waitid(P_PID, c, &si, WSTOPPED));
	printf("waitid: stopped code %d status %d\n", si.si_code, si.si_status);
	kill(c, SIGCONT);
	CHECK(waitid(P_PID, c, &si, WCONTINUED));
	printf("waitid: continued code %d status %d\n", si.si_code, si.si_status);
	CHECK(waitid(P_PID, c, &si, WSTOPPED | WCONTINUED | WNOHANG));
	kill(c, SIGTERM);
	CHECK(waitid(P_PID, c, &si, WEXITED));
	printf("waitid: exited code %d status %d\n", si.si_code, si.si_status);
	CHECK(waitid(P_PID, c, &si, 0));
	CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG));
}

static void on_alarm(int s) { (void)s; }

static void interrupted(void) {
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	int p[2];
	pipe(p);
	char b[4];
	/* A repeating timer: a signal that lands before the call starts is followed by more. */
	struct itimerval it = {{0, 200000}, {0, 200000}}, off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(read(p[0], b, 4));
	CHECK(syscall(SYS_futex, &p[0], FUTEX_WAIT, p[0], NULL, NULL, 0));
	setitimer(ITIMER_REAL, &off, NULL);
	close(p[0]);
	close(p[1]);
}

static void on_watchdog(int s) { (void)s; printf("hang: gave up waiting\n"); _exit(1); }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, on_watchdog);
	alarm(20);
	robust();
	waitids();
	interrupted();
	return 0;
}
