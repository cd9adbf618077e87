#include "common.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

/* netdevice(7)'s interface ioctls on lo, which every network namespace has the same way
 * (index 1, the loopback flags, MTU 65536, 127.0.0.1/8), through sockets of several
 * families, and if_nametoindex/if_indextoname built on them; a name or index that names no
 * interface is ENODEV. */

static void ask(int s, const char *family) {
	printf("--- %s\n", family);
	struct ifreq r;
	memset(&r, 0, sizeof r);
	strcpy(r.ifr_name, "lo");
	CHECK(ioctl(s, SIOCGIFINDEX, &r));
	printf("index %d\n", r.ifr_ifindex);
	CHECK(ioctl(s, SIOCGIFFLAGS, &r));
	printf("flags up %d loopback %d running %d\n", !!(r.ifr_flags & IFF_UP), !!(r.ifr_flags & IFF_LOOPBACK),
	       !!(r.ifr_flags & IFF_RUNNING));
	CHECK(ioctl(s, SIOCGIFMTU, &r));
	printf("mtu %d\n", r.ifr_mtu);
	CHECK(ioctl(s, SIOCGIFHWADDR, &r));
	printf("hw family %d\n", r.ifr_hwaddr.sa_family);
	CHECK(ioctl(s, SIOCGIFADDR, &r));
	printf("addr %s\n", inet_ntoa(((struct sockaddr_in *)&r.ifr_addr)->sin_addr));
	CHECK(ioctl(s, SIOCGIFNETMASK, &r));
	printf("netmask %s\n", inet_ntoa(((struct sockaddr_in *)&r.ifr_addr)->sin_addr));
	memset(&r, 0, sizeof r);
	r.ifr_ifindex = 1;
	CHECK(ioctl(s, SIOCGIFNAME, &r));
	printf("name of 1 %s\n", r.ifr_name);
	r.ifr_ifindex = 0x7fffffff; /* (an index no host reaches: host interfaces come and go) */
	CHECK(ioctl(s, SIOCGIFNAME, &r));
	strcpy(r.ifr_name, "nosuch0");
	CHECK(ioctl(s, SIOCGIFINDEX, &r));
	CHECK(ioctl(s, SIOCGIFFLAGS, &r));
}

int main(void) {
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	ask(s, "unix");
	close(s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	ask(s, "inet");
	close(s);
	s = socket(AF_INET6, SOCK_DGRAM, 0);
	ask(s, "inet6 udp");
	close(s);
	CHECK(if_nametoindex("lo"));
	CHECK(if_nametoindex("nosuch0"));
	char b[IF_NAMESIZE];
	printf("if_indextoname(1) %s\n", if_indextoname(1, b) ? b : "NULL");
	return 0;
}
