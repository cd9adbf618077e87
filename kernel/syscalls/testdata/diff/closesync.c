/* close(2) releases the file before it returns: the peer of a closed AF_UNIX stream or
 * seqpacket socket sees the hang-up (POLLHUP, end of file) at once, even while another
 * process is being started (here: a child forked just before, whose start-up in sbx forks
 * a host process from the kernel, which for a moment holds copies of the kernel's host
 * FDs). */
#include "common.h"
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

int main(void) {
	int types[] = {SOCK_STREAM, SOCK_SEQPACKET};
	const char *names[] = {"stream", "seqpacket"};
	for (int t = 0; t < 2; t++) {
		int nohup = 0, noeof = 0;
		for (int i = 0; i < 50; i++) {
			pid_t c = fork();
			if (c == 0) _exit(0);
			for (int j = 0; j < 30; j++) {
				int sv[2];
				if (socketpair(AF_UNIX, types[t], 0, sv) < 0) { perror("socketpair"); return 1; }
				close(sv[0]);
				struct pollfd p = {sv[1], POLLIN | POLLRDHUP, 0};
				poll(&p, 1, 0);
				if (!(p.revents & POLLHUP)) nohup++;
				char b;
				if (recv(sv[1], &b, 1, MSG_DONTWAIT) != 0) noeof++;
				close(sv[1]);
			}
			waitpid(c, NULL, 0);
		}
		printf("%s: peer closed without a hang-up %d times, without end of file %d times\n", names[t], nohup, noeof);
	}
	return 0;
}
