/* Pipes and named pipes (pipe(7), fifo(7)): opening a FIFO blocking and non-blocking
 * (ENXIO, each side waiting for the other, O_RDWR never waiting, EINTR), F_GETPIPE_SZ and
 * F_SETPIPE_SZ with their limits, PIPE_BUF atomicity, FIONREAD, poll events when an end
 * closes, EPIPE and SIGPIPE, data discarded when no one has the FIFO open. */
#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <sys/wait.h>

static void on_alarm(int s) { (void)s; }

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	workdir("fifo");
	signal(SIGPIPE, SIG_IGN);
	CHECK(mkfifo("f", 0644));
	CHECK(mkfifo("f", 0644));
	CHECK(open("f", O_WRONLY | O_NONBLOCK));
	int r, w;
	CHECK(r = open("f", O_RDONLY | O_NONBLOCK));
	char buf[70000];
	CHECK(read(r, buf, 10)); /* no writer: end of file */
	CHECK(w = open("f", O_WRONLY | O_NONBLOCK));
	struct stat st;
	CHECK(fstat(r, &st));
	printf("fifo type %d\n", S_ISFIFO(st.st_mode));
	CHECK(fcntl(w, F_GETPIPE_SZ));
	CHECK(fcntl(w, F_SETPIPE_SZ, 4096));
	CHECK(fcntl(r, F_GETPIPE_SZ));
	CHECK(fcntl(w, F_SETPIPE_SZ, 100));
	CHECK(fcntl(w, F_SETPIPE_SZ, 5000));
	CHECK(fcntl(w, F_SETPIPE_SZ, -1));
	CHECK(fcntl(w, F_SETPIPE_SZ, 1 << 20));
	CHECK(fcntl(w, F_SETPIPE_SZ, 65536));
	memset(buf, 'a', sizeof buf);
	CHECK(write(w, buf, 70000));
	int n = 0;
	CHECK(ioctl(r, FIONREAD, &n));
	printf("fionread %d\n", n);
	CHECK(write(w, buf, 1));
	CHECK(read(r, buf, 100));
	CHECK(write(w, buf, PIPE_BUF)); /* atomic: all or nothing */
	CHECK(write(w, buf, 100));
	CHECK(fcntl(w, F_SETPIPE_SZ, 4096)); /* holds more than that */
	struct pollfd p = {w, POLLOUT, 0};
	CHECK(poll(&p, 1, 0));
	CHECK(read(r, buf, sizeof buf));
	CHECK(poll(&p, 1, 0));
	printf("writer revents %#x\n", p.revents);
	close(r);
	CHECK(poll(&p, 1, 0));
	printf("writer after reader closed %#x\n", p.revents);
	CHECK(write(w, buf, 1));
	close(w);
	/* O_RDWR never waits; data left when the last opener goes is dropped. */
	int rw;
	CHECK(rw = open("f", O_RDWR));
	CHECK(write(rw, "xyz", 3));
	close(rw);
	CHECK(rw = open("f", O_RDWR | O_NONBLOCK));
	CHECK(read(rw, buf, 10));
	close(rw);
	/* Blocking opens wait for the other side. */
	pid_t c = fork();
	if (c == 0) {
		usleep(100000);
		int fd = open("f", O_WRONLY);
		write(fd, "hi", 2);
		_exit(0);
	}
	int fr;
	CHECK(fr = open("f", O_RDONLY));
	CHECK(read(fr, buf, 10));
	waitpid(c, NULL, 0);
	CHECK(read(fr, buf, 10));
	p.fd = fr;
	p.events = POLLIN;
	CHECK(poll(&p, 1, 0));
	printf("reader after writer left %#x\n", p.revents);
	close(fr);
	c = fork();
	if (c == 0) {
		usleep(100000);
		int fd = open("f", O_RDONLY);
		read(fd, buf, 10);
		_exit(0);
	}
	int fw;
	CHECK(fw = open("f", O_WRONLY));
	CHECK(write(fw, "yo", 2));
	close(fw);
	waitpid(c, NULL, 0);
	/* A handler without SA_RESTART ends a blocking open with EINTR. */
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	/* A repeating timer: a signal that lands before the call starts is followed by more. */
	struct itimerval it = {{0, 200000}, {0, 200000}}, off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	CHECK(open("f", O_RDONLY));
	setitimer(ITIMER_REAL, &off, NULL);
	/* SIGPIPE: a writer whose reader is gone dies of it unless it ignores it. */
	int pp[2];
	pipe(pp);
	close(pp[0]);
	c = fork();
	if (c == 0) {
		signal(SIGPIPE, SIG_DFL);
		write(pp[1], "x", 1);
		_exit(0);
	}
	int ws;
	waitpid(c, &ws, 0);
	printf("writer killed by SIGPIPE %d\n", WIFSIGNALED(ws) && WTERMSIG(ws) == SIGPIPE);
	CHECK(write(pp[1], "x", 1));
	close(pp[1]);
	CHECK(pipe(pp));
	CHECK(fcntl(pp[0], F_GETPIPE_SZ));
	CHECK(fcntl(pp[0], F_SETPIPE_SZ, 8192));
	CHECK(fcntl(pp[1], F_GETPIPE_SZ));
	CHECK(fcntl(0 + 100, F_GETPIPE_SZ));
	int fd = open("/", O_RDONLY);
	CHECK(fcntl(fd, F_GETPIPE_SZ));
	CHECK(unlink("f"));
	return 0;
}
