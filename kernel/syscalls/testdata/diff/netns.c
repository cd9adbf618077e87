/* A new network namespace (network_namespaces(7)): nothing but a loopback, no route out
 * (ENETUNREACH), and its own abstract AF_UNIX names (one bound in the old namespace is not
 * found). Its loopback is not probed: Linux brings it up DOWN, sbx's is up. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
static const char *try(const char *ip) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	int r = connect(s, (void *)&a, sizeof a);
	close(s);
	return r < 0 ? strerror(errno) : "connected";
}
int main(void) {
	setvbuf(stdout, 0, _IONBF, 0);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, "\0sbxnetnstest", 13);
	bind(l, (void *)&a, 2 + 13);
	listen(l, 1);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) { printf("unshare: %s\n", strerror(errno)); return 0; }
	printf("remote: %s\n", try("192.0.2.1"));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	printf("abstract socket of the old namespace: %s\n", connect(c, (void *)&a, 2 + 13) < 0 ? strerror(errno) : "connected");
	struct if_nameindex *ifs = if_nameindex(), *i;
	for (i = ifs; i && i->if_index; i++) printf("interface %s\n", i->if_name);
	return 0;
}
