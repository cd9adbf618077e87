#include "common.h"
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>

/* What a signal says about itself: si_code, si_pid, si_uid, si_status, si_value, through
 * SA_SIGINFO handlers, sigwaitinfo and signalfd. */

static volatile int h_code, h_pid, h_status, h_value;
static pthread_t main_thread;
static volatile int on_main, other_ran;

static void usr1_where(int sig) { on_main = pthread_equal(pthread_self(), main_thread); }

static void *other(void *arg) {
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	other_ran = 1;
	while (*(volatile int *)arg == 0)
		usleep(1000);
	return NULL;
}

static void handler(int sig, siginfo_t *si, void *uc) {
	h_code = si->si_code;
	h_pid = si->si_pid;
	h_status = si->si_status;
	h_value = si->si_value.sival_int;
}

int main(void) {
	struct sigaction sa = {0};
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	CHECK(kill(getpid(), SIGUSR1));
	printf("kill: code %d pid is me %d\n", h_code, h_pid == getpid());
	CHECK(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1));
	printf("tgkill: code %d\n", h_code);
	union sigval v = {.sival_int = 4242};
	CHECK(sigqueue(getpid(), SIGUSR1, v));
	printf("sigqueue: code %d value %d pid is me %d\n", h_code, h_value, h_pid == getpid());
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	int st;
	while (waitpid(c, &st, 0) < 0) {}
	printf("SIGCHLD: code %d status %d pid is child %d\n", h_code, h_status, h_pid == c);
	/* A killed child, seen by sigwaitinfo. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	CHECK(kill(c, SIGKILL));
	siginfo_t si;
	CHECK(sigwaitinfo(&set, &si));
	printf("killed child: code %d status %d pid is child %d\n", si.si_code, si.si_status, si.si_pid == c);
	waitpid(c, &st, 0);
	/* signalfd sees the sender. */
	int sfd = signalfd(-1, &set, 0);
	CHECK(kill(getpid(), SIGUSR2));
	struct signalfd_siginfo ssi;
	CHECK(read(sfd, &ssi, sizeof ssi));
	printf("signalfd: signo %u code %d pid is me %d uid ok %d\n", ssi.ssi_signo, ssi.ssi_code, ssi.ssi_pid == (unsigned)getpid(), ssi.ssi_uid == getuid());
	CHECK(sigqueue(getpid(), SIGUSR2, v));
	CHECK(read(sfd, &ssi, sizeof ssi));
	printf("signalfd sigqueue: code %d int %d\n", ssi.ssi_code, ssi.ssi_int);
	/* Only the kernel may claim si_code >= 0 for another process. */
	siginfo_t fake = {0};
	fake.si_code = 0;
	CHECK(syscall(SYS_rt_sigqueueinfo, getppid(), SIGUSR2, &fake));
	/* pthread_kill targets one thread: it waits for that thread, not another one. */
	main_thread = pthread_self();
	signal(SIGUSR1, usr1_where);
	sigset_t u1;
	sigemptyset(&u1);
	sigaddset(&u1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &u1, NULL);
	volatile int stop = 0;
	pthread_t th;
	pthread_create(&th, NULL, other, (void *)&stop);
	while (!other_ran)
		usleep(1000);
	CHECK(pthread_kill(main_thread, SIGUSR1));
	usleep(20000);
	sigset_t pend;
	sigpending(&pend);
	printf("pending for main: %d, ran elsewhere: %d\n", sigismember(&pend, SIGUSR1), on_main == 0 && h_code == 12345);
	pthread_sigmask(SIG_UNBLOCK, &u1, NULL);
	printf("handled on main: %d\n", on_main);
	stop = 1;
	pthread_join(th, NULL);
	return 0;
}
