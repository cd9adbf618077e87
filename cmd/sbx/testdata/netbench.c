/* Network benchmarks for BenchmarkNet: TCP throughput with 1 MiB writes to a sink, connect +
 * close latency, and HTTP/1.1 keep-alive requests per second. Prints "name value" lines.
 * Usage: netbench SINKPORT HTTPPORT MIB CONNECTS REQUESTS */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(int port) {
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("connect");
		exit(1);
	}
	return s;
}

int main(int argc, char **argv) {
	if (argc != 6)
		return 2;
	int sink = atoi(argv[1]), web = atoi(argv[2]), mib = atoi(argv[3]), conns = atoi(argv[4]), reqs = atoi(argv[5]);
	static char buf[1 << 20];
	memset(buf, 'x', sizeof buf);
	int s = dial(sink);
	double t = now();
	for (int i = 0; i < mib; i++) {
		size_t off = 0;
		while (off < sizeof buf) {
			ssize_t n = write(s, buf + off, sizeof buf - off);
			if (n <= 0) {
				perror("write");
				return 1;
			}
			off += n;
		}
	}
	shutdown(s, SHUT_WR);
	char c;
	read(s, &c, 1); /* the sink closes once it has read everything */
	close(s);
	printf("tcp-MiB/s %.1f\n", mib / (now() - t));
	t = now();
	for (int i = 0; i < conns; i++)
		close(dial(sink));
	printf("connect-close-ns %.0f\n", (now() - t) * 1e9 / conns);
	s = dial(web);
	const char req[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
	t = now();
	for (int i = 0; i < reqs; i++) {
		if (write(s, req, sizeof req - 1) != sizeof req - 1)
			return 1;
		/* The response ends with the 2-byte body "ok". */
		size_t got = 0;
		for (;;) {
			ssize_t n = read(s, buf + got, sizeof buf - got);
			if (n <= 0) {
				perror("read");
				return 1;
			}
			got += n;
			if (got >= 6 && memcmp(buf + got - 6, "\r\n\r\nok", 6) == 0)
				break;
		}
	}
	printf("http-req/s %.0f\n", reqs / (now() - t));
	close(s);
	return 0;
}
