/* Pseudo-terminals: ptmx/pts, the line discipline (canonical and raw input, echo, erase,
 * kill, signal characters to the foreground process group, VMIN/VTIME,
 * IUTF8, output processing, packet mode), controlling terminals and sessions (setsid,
 * TIOCSCTTY, TIOCNOTTY, tcsetpgrp, SIGTTIN for background readers, SIGHUP on hangup) and
 * window sizes with SIGWINCH. Written from pty(7), termios(3), tty_ioctl(2), credentials(7). */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static void show(const char *what, const char *buf, int n) {
	printf("%s: %d [", what, n);
	for (int i = 0; i < n; i++) {
		unsigned char c = buf[i];
		if (c >= 32 && c < 127) putchar(c); else printf("\\%03o", c);
	}
	printf("]\n");
}

static int openpair(int *s) {
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) { perror("openpt"); exit(2); }
	*s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (*s < 0) { perror("open slave"); exit(2); }
	return m;
}

/* drain reads what the master has right now. */
static void drain(const char *what, int m) {
	char buf[512];
	struct pollfd p = {m, POLLIN, 0};
	int total = 0;
	while (poll(&p, 1, 100) == 1 && (p.revents & POLLIN)) {
		int n = read(m, buf + total, sizeof buf - total);
		if (n <= 0) break;
		total += n;
	}
	show(what, buf, total);
}

static void slaveread(const char *what, int s) {
	char buf[256];
	int n = read(s, buf, sizeof buf);
	if (n < 0) printf("%s: -1 %s\n", what, errname(errno)); else show(what, buf, n);
}

static volatile sig_atomic_t got[65];
static void onsig(int sig) { got[sig]++; }

/* await waits for a signal sent by the other process (bounded, 30 s on a loaded machine). */
static void await(int sig) {
	for (int i = 0; i < 3000 && !got[sig]; i++)
		usleep(10000);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int s, m = openpair(&s);
	char buf[256];
	unsigned n;

	/* Naming and locking. */
	char *name = ptsname(m);
	printf("ptsname prefix ok: %d\n", strncmp(name, "/dev/pts/", 9) == 0);
	CHECK(ioctl(m, TIOCGPTN, &n));
	printf("TIOCGPTN matches ptsname: %d\n", atoi(name + 9) == (int)n);
	CHECK(isatty(m));
	CHECK(isatty(s));
	CHECK(ioctl(s, TIOCGPTN, &n));
	struct stat st;
	CHECK(fstat(s, &st));
	printf("slave is chr %d major %d\n", S_ISCHR(st.st_mode), major(st.st_rdev));
	printf("ttyname(slave) = ptsname: %d\n", strcmp(ttyname(s), name) == 0);
	int m2 = posix_openpt(O_RDWR | O_NOCTTY);
	char name2[64];
	snprintf(name2, sizeof name2, "%s", ptsname(m2));
	CHECK(open(name2, O_RDWR | O_NOCTTY));
	int lock = 0;
	CHECK(ioctl(m2, TIOCSPTLCK, &lock));
	int s2 = open(name2, O_RDWR | O_NOCTTY);
	printf("open after unlock: %d\n", s2 >= 0);
	int peer = ioctl(m2, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	printf("TIOCGPTPEER: %d\n", peer >= 0);
	CHECK(ioctl(m2, TIOCGPTPEER, O_RDWR | O_NOCTTY | 0x40000000));
	if (peer >= 0) {
		write(m2, "peer\n", 5);
		slaveread("peer read", peer);
		close(peer);
	}
	close(s2);
	/* The master sees a hangup when the last slave closes. */
	struct pollfd pm = {m2, POLLIN | POLLOUT, 0};
	CHECK(poll(&pm, 1, 0));
	printf("master revents after slave close: %x\n", pm.revents);
	fcntl(m2, F_SETFL, O_NONBLOCK);
	CHECK(read(m2, buf, sizeof buf));
	close(m2);

	/* Default settings. */
	struct termios t;
	CHECK(tcgetattr(s, &t));
	printf("iflag %o oflag %o lflag %o cflag-csize %o vmin %d vtime %d vintr %d verase %d\n",
	       t.c_iflag, t.c_oflag, t.c_lflag, t.c_cflag & CSIZE, t.c_cc[VMIN], t.c_cc[VTIME], t.c_cc[VINTR], t.c_cc[VERASE]);
	struct termios tm;
	CHECK(tcgetattr(m, &tm));
	printf("master sees the slave's lflag: %d\n", tm.c_lflag == t.c_lflag);

	/* Canonical input: echo, erase, kill, word erase, EOF. */
	write(m, "helo\177lo\n", 8);
	slaveread("canon read", s);
	drain("echo", m);
	write(m, "abc\025xyz\n", 8);
	slaveread("after kill", s);
	drain("kill echo", m);
	write(m, "one two\027three\n", 14);
	slaveread("after werase", s);
	drain("werase echo", m);
	write(m, "part\004", 5);
	slaveread("eof-terminated", s);
	write(m, "\004", 1);
	slaveread("eof", s);
	drain("eof echo", m);
	write(m, "\026\003x\n", 4);
	slaveread("lnext", s);
	drain("lnext echo", m);
	write(m, "long line\n", 10);
	n = read(s, buf, 4);
	show("short read 1", buf, n);
	slaveread("short read 2", s);
	drain("echo", m);
	write(m, "cr\r", 3);
	slaveread("icrnl", s);
	drain("echo", m);

	/* Output processing. */
	write(s, "a\nb\tc\n", 6);
	drain("onlcr", m);
	t.c_oflag &= ~ONLCR;
	tcsetattr(s, TCSANOW, &t);
	write(s, "a\nb\n", 4);
	drain("no onlcr", m);
	t.c_oflag |= ONLCR;
	tcsetattr(s, TCSANOW, &t);

	/* Echo settings. */
	t.c_lflag &= ~ECHO;
	t.c_lflag |= ECHONL;
	tcsetattr(s, TCSANOW, &t);
	write(m, "quiet\n", 6);
	slaveread("noecho read", s);
	drain("echonl only", m);
	t.c_lflag |= ECHO;
	t.c_lflag &= ~(ECHOCTL | ECHONL);
	tcsetattr(s, TCSANOW, &t);
	write(m, "x\001\n", 3);
	slaveread("no echoctl", s);
	drain("raw ctl echo", m);
	t.c_lflag |= ECHOCTL;
	tcsetattr(s, TCSANOW, &t);

	/* UTF-8 erase. */
	t.c_iflag |= IUTF8;
	tcsetattr(s, TCSANOW, &t);
	write(m, "h\xc3\xa9\177\n", 5);
	slaveread("iutf8 erase", s);
	drain("iutf8 echo", m);
	t.c_iflag &= ~IUTF8;
	tcsetattr(s, TCSANOW, &t);

	/* Raw input, VMIN and VTIME. */
	struct termios raw = t;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 3;
	raw.c_cc[VTIME] = 0;
	CHECK(tcsetattr(s, TCSANOW, &raw));
	write(m, "ab", 2);
	struct pollfd ps = {s, POLLIN, 0};
	CHECK(poll(&ps, 1, 50));
	write(m, "c\r", 2);
	slaveread("vmin 3", s);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 2;
	tcsetattr(s, TCSANOW, &raw);
	slaveread("vtime timeout", s);
	write(m, "q", 1);
	slaveread("vtime data", s);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &raw);
	slaveread("polling read", s);
	raw.c_cc[VMIN] = 5;
	raw.c_cc[VTIME] = 1;
	tcsetattr(s, TCSANOW, &raw);
	write(m, "xy", 2);
	slaveread("vmin+vtime", s);
	drain("raw echo (none)", m);
	write(s, "out\n", 4);
	drain("raw output", m);
	/* Canonical again: pending raw input becomes a line. */
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &raw);
	write(m, "pend", 4);
	/* The line discipline takes input asynchronously (a kernel worker): poll, which waits
	 * for that, makes sure "pend" arrived in raw mode before the switch. */
	CHECK(poll(&ps, 1, 30000));
	CHECK(tcsetattr(s, TCSANOW, &t));
	slaveread("pending to canon", s);
	drain("echo", m);

	/* Flushing and queue sizes. */
	write(m, "queued\n", 7);
	drain("echo", m);
	int q = -1;
	CHECK(ioctl(s, FIONREAD, &q));
	printf("FIONREAD %d\n", q);
	CHECK(tcflush(s, TCIFLUSH));
	CHECK(ioctl(s, FIONREAD, &q));
	printf("FIONREAD after flush %d\n", q);
	CHECK(tcflush(s, 7));

	/* Packet mode. */
	int one = 1;
	CHECK(ioctl(m, TIOCPKT, &one));
	write(s, "pkt", 3);
	n = read(m, buf, sizeof buf);
	show("packet data", buf, n);
	tcflush(s, TCIOFLUSH);
	n = read(m, buf, sizeof buf);
	show("packet flush", buf, n);
	int zero = 0;
	ioctl(m, TIOCPKT, &zero);

	/* Window size. */
	struct winsize ws = {0}, ws2;
	CHECK(ioctl(s, TIOCGWINSZ, &ws2));
	printf("initial winsize %d %d\n", ws2.ws_row, ws2.ws_col);
	ws.ws_row = 40; ws.ws_col = 100;
	CHECK(ioctl(m, TIOCSWINSZ, &ws));
	CHECK(ioctl(s, TIOCGWINSZ, &ws2));
	printf("winsize %d %d\n", ws2.ws_row, ws2.ws_col);

	/* Not our controlling terminal. */
	CHECK(tcgetpgrp(s));
	CHECK(tcsetpgrp(s, getpgrp()));
	CHECK(ioctl(s, TIOCNOTTY));
	CHECK(ioctl(s, TIOCGSID, &n));

	/* A session with the slave as its controlling terminal. */
	int sync[2];
	pipe(sync);
	pid_t leader = fork();
	if (leader == 0) {
		close(m);
		CHECK(ioctl(s, TIOCSCTTY, 0));
		CHECK0(setsid());
		CHECK(tcgetpgrp(s));
		CHECK(ioctl(s, TIOCSCTTY, 0));
		printf("pgrp is mine: %d\n", tcgetpgrp(s) == getpid());
		CHECK(ioctl(s, TIOCSCTTY, 0));
		CHECK(ioctl(s, TIOCGSID, &n));
		printf("sid is mine: %d\n", (pid_t)n == getpid());
		int tfd = open("/dev/tty", O_RDWR);
		printf("/dev/tty opens: %d\n", tfd >= 0);
		if (tfd >= 0) {
			printf("/dev/tty pgrp is mine: %d\n", tcgetpgrp(tfd) == getpid());
			close(tfd);
		}
		signal(SIGINT, onsig);
		signal(SIGWINCH, onsig);
		signal(SIGHUP, onsig);
		signal(SIGTTOU, SIG_IGN);
		/* A background child: reading stops it, reading with SIGTTIN ignored is EIO. */
		pid_t bg = fork();
		if (bg == 0) {
			setpgid(0, 0);
			signal(SIGTTIN, SIG_IGN);
			errno = 0;
			int r = read(s, buf, 1);
			printf("bg read with SIGTTIN ignored: %d %s\n", r, errname(errno));
			signal(SIGTTIN, SIG_DFL);
			errno = 0;
			r = read(s, buf, 1);
			printf("bg read after continue: %d %s\n", r, errname(errno));
			_exit(0);
		}
		setpgid(bg, bg);
		int st2;
		CHECK(waitpid(bg, &st2, WUNTRACED) == bg);
		printf("bg stopped by %s\n", WIFSTOPPED(st2) && WSTOPSIG(st2) == SIGTTIN ? "SIGTTIN" : "?");
		CHECK(tcsetpgrp(s, bg));
		CHECK(tcgetpgrp(s) == bg);
		CHECK(tcsetpgrp(s, 99999));
		kill(bg, SIGCONT);
		write(sync[1], "1", 1);
		waitpid(bg, &st2, 0);
		printf("bg exited %d\n", WIFEXITED(st2));
		CHECK(tcsetpgrp(s, getpgrp()));
		write(sync[1], "2", 1);
		/* Signal characters and window size changes reach the foreground group. */
		await(SIGINT);
		printf("got SIGINT %d\n", got[SIGINT]);
		await(SIGWINCH);
		printf("got SIGWINCH %d\n", got[SIGWINCH]);
		write(sync[1], "3", 1);
		await(SIGHUP);
		printf("got SIGHUP %d\n", got[SIGHUP]);
		CHECK(read(s, buf, 1));
		CHECK(write(s, "x", 1));
		CHECK(tcgetpgrp(s));
		_exit(0);
	}
	char c;
	read(sync[0], &c, 1);
	write(m, "z\n", 2); /* for the background reader */
	read(sync[0], &c, 1);
	drain("drain", m);
	write(m, "\003", 1);
	ws.ws_row = 41;
	ioctl(m, TIOCSWINSZ, &ws);
	read(sync[0], &c, 1);
	drain("intr echo", m);
	close(m);
	close(s);
	int st3;
	waitpid(leader, &st3, 0);
	printf("leader exited %d\n", WIFEXITED(st3));
	return 0;
}
