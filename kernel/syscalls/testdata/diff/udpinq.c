#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

/* FIONREAD/SIOCINQ on a UDP socket give the payload size of the next datagram (not the sum
 * of all queued), 0 when none waits; SIOCOUTQ gives the bytes not yet sent (udp(7)). */

static void inq(int fd, const char *when) {
	int n = -1, out = -1;
	int r1 = ioctl(fd, FIONREAD, &n), r2 = ioctl(fd, SIOCOUTQ, &out);
	printf("%s: FIONREAD %d (%d), SIOCOUTQ %d (%d)\n", when, n, r1, out, r2);
}

int main(void) {
	for (int fam = 0; fam < 2; fam++) {
		int fd = socket(fam ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_storage ss = {0};
		socklen_t len;
		if (fam) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			a->sin6_family = AF_INET6;
			a->sin6_addr = in6addr_loopback;
			len = sizeof *a;
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			a->sin_family = AF_INET;
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			len = sizeof *a;
		}
		CHECK(bind(fd, (struct sockaddr *)&ss, len));
		CHECK(getsockname(fd, (struct sockaddr *)&ss, &len));
		inq(fd, fam ? "v6 empty" : "v4 empty");
		CHECK(sendto(fd, "hello", 5, 0, (struct sockaddr *)&ss, len));
		CHECK(sendto(fd, "goodbye", 7, 0, (struct sockaddr *)&ss, len));
		CHECK(sendto(fd, "", 0, 0, (struct sockaddr *)&ss, len));
		usleep(50000);
		char buf[16];
		inq(fd, "two waiting");
		CHECK(recv(fd, buf, sizeof buf, 0));
		inq(fd, "one read");
		CHECK(recv(fd, buf, sizeof buf, 0));
		inq(fd, "empty datagram next");
		CHECK(recv(fd, buf, sizeof buf, 0));
		inq(fd, "all read");
		CHECK(ioctl(fd, SIOCATMARK, &(int){0}));
		close(fd);
	}
	return 0;
}
