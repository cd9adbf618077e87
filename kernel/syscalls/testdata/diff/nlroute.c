/* rtnetlink (rtnetlink(7), netlink(7)) as far as the loopback goes, which natively and in
 * the sandbox is the same: RTM_GETLINK and RTM_GETADDR dumps (multipart, NLMSG_DONE, lo's
 * index, type, flags, name, MTU, addresses), a single RTM_GETLINK by index and by a missing
 * index (ENODEV), an unknown message type (NLMSG_ERROR), an acknowledgement (NLM_F_ACK),
 * MSG_PEEK|MSG_TRUNC to size a message, socket()/bind()/getsockname() on AF_NETLINK. */
#include "common.h"
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

static char buf[1 << 16];

static int request(int fd, int type, int flags, int seq, void *body, int blen) {
	struct {
		struct nlmsghdr h;
		char b[64];
	} req;
	memset(&req, 0, sizeof req);
	req.h.nlmsg_len = NLMSG_LENGTH(blen);
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | flags;
	req.h.nlmsg_seq = seq;
	memcpy(req.b, body, blen);
	return send(fd, &req, req.h.nlmsg_len, 0);
}

static void link_info(struct nlmsghdr *h) {
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	if (ifi->ifi_index != 1) return; /* only lo is the same in and out of the sandbox */
	printf("  link index %d type %d up %d loopback %d", ifi->ifi_index, ifi->ifi_type, !!(ifi->ifi_flags & IFF_UP),
	       !!(ifi->ifi_flags & IFF_LOOPBACK));
	int len = IFLA_PAYLOAD(h);
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME) printf(" name %s", (char *)RTA_DATA(a));
		if (a->rta_type == IFLA_MTU) printf(" mtu %u", *(unsigned *)RTA_DATA(a));
		if (a->rta_type == IFLA_ADDRESS) printf(" address %d bytes", (int)RTA_PAYLOAD(a));
	}
	printf("\n");
}

static void addr_info(struct nlmsghdr *h) {
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	if (ifa->ifa_index != 1 || ifa->ifa_family != AF_INET) return; /* a host may lack ::1 */
	char s[64] = "?";
	int len = IFA_PAYLOAD(h);
	for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFA_ADDRESS) inet_ntop(ifa->ifa_family, RTA_DATA(a), s, sizeof s);
	printf("  addr family %d %s/%d scope %d\n", ifa->ifa_family, s, ifa->ifa_prefixlen, ifa->ifa_scope);
}

/* replies reads the replies to seq until NLMSG_DONE, an error or a lone reply, printing
 * what every run shares. */
static void replies(int fd, int seq) {
	for (;;) {
		int n = recv(fd, buf, sizeof buf, 0);
		if (n < 0) { printf("  recv: %s\n", errname(errno)); return; }
		int multi = 0;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != (unsigned)seq) printf("  wrong seq %u\n", h->nlmsg_seq);
			multi = h->nlmsg_flags & NLM_F_MULTI;
			switch (h->nlmsg_type) {
			case NLMSG_DONE:
				printf("  done (multi %d)\n", !!multi);
				return;
			case NLMSG_ERROR: {
				struct nlmsgerr *e = NLMSG_DATA(h);
				printf("  error %s, echoing type %d\n", errname(-e->error), e->msg.nlmsg_type);
				return;
			}
			case RTM_NEWLINK: link_info(h); break;
			case RTM_NEWADDR: addr_info(h); break;
			default: printf("  type %d\n", h->nlmsg_type);
			}
		}
		if (!multi) return;
	}
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	CHECK(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE));
	CHECK(socket(AF_NETLINK, SOCK_RAW, 99));
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	CHECK(fd >= 0);
	struct sockaddr_nl sa;
	socklen_t sl = sizeof sa;
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &sl));
	printf("before bind: family %d pid %u len %d\n", sa.nl_family, sa.nl_pid, (int)sl);
	memset(&sa, 0, sizeof sa);
	sa.nl_family = AF_NETLINK;
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa - 1));
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa));
	sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	printf("after bind: family %d pid set %d len %d\n", sa.nl_family, sa.nl_pid != 0, (int)sl);

	struct ifinfomsg ifi = {0};
	printf("RTM_GETLINK dump\n");
	CHECK(request(fd, RTM_GETLINK, NLM_F_DUMP, 1, &ifi, sizeof ifi));
	replies(fd, 1);
	printf("RTM_GETLINK of index 1\n");
	ifi.ifi_index = 1;
	CHECK(request(fd, RTM_GETLINK, 0, 2, &ifi, sizeof ifi));
	replies(fd, 2);
	printf("RTM_GETLINK of a missing index\n");
	ifi.ifi_index = 9999;
	CHECK(request(fd, RTM_GETLINK, 0, 3, &ifi, sizeof ifi));
	replies(fd, 3);
	struct ifaddrmsg ifa = {0};
	printf("RTM_GETADDR dump\n");
	CHECK(request(fd, RTM_GETADDR, NLM_F_DUMP, 4, &ifa, sizeof ifa));
	replies(fd, 4);
	printf("RTM_GETADDR dump, IPv4 only\n");
	ifa.ifa_family = AF_INET;
	CHECK(request(fd, RTM_GETADDR, NLM_F_DUMP, 5, &ifa, sizeof ifa));
	replies(fd, 5);
	printf("an unknown type\n");
	CHECK(request(fd, 0x7f, 0, 6, &ifi, sizeof ifi));
	replies(fd, 6);
	printf("RTM_GETLINK of index 1 with NLM_F_ACK\n");
	ifi.ifi_index = 1;
	CHECK(request(fd, RTM_GETLINK, NLM_F_ACK, 7, &ifi, sizeof ifi));
	replies(fd, 7);
	replies(fd, 7);
	printf("sizing with MSG_PEEK|MSG_TRUNC\n");
	CHECK(request(fd, RTM_GETLINK, 0, 8, &ifi, sizeof ifi));
	int peek = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	int got = recv(fd, buf, sizeof buf, 0);
	printf("  peeked %d, read %d, same %d\n", peek > 0, got > 0, peek == got);
	CHECK(recv(fd, buf, sizeof buf, MSG_DONTWAIT));
	close(fd);
	return 0;
}
