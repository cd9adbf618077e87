#include "common.h"
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* NETLINK_SOCK_DIAG (sock_diag(7)): SOCK_DIAG_BY_FAMILY dumps and single-socket requests of
 * TCP, UDP and AF_UNIX sockets this program made, found in the reply by inode number (the
 * system has others), with the fields that are the same on every run: states, addresses,
 * ports as they relate to getsockname, queues, owner, names and peers; and the errors of
 * malformed requests. */

static char buf[1 << 16];
static unsigned seq = 1;

static long ino(int fd) {
	struct stat st;
	fstat(fd, &st);
	return st.st_ino;
}

static int port(int fd) {
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &l);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port); /* sin6_port is at the same offset */
}

/* request sends one message of type typ with body and returns the length of the reply
 * read into buf (the first datagram; dumps are read until NLMSG_DONE by dump()). */
static int request(int nl, int typ, int flags, const void *body, int len) {
	struct {
		struct nlmsghdr h;
		char body[256];
	} req;
	memset(&req, 0, sizeof req);
	req.h.nlmsg_len = NLMSG_LENGTH(len);
	req.h.nlmsg_type = typ;
	req.h.nlmsg_flags = NLM_F_REQUEST | flags;
	req.h.nlmsg_seq = ++seq;
	memcpy(req.body, body, len);
	if (send(nl, &req, req.h.nlmsg_len, 0) < 0)
		return -errno;
	return recv(nl, buf, sizeof buf, 0);
}

/* replyErr names the error of an NLMSG_ERROR reply (OK: an ACK) or of the NLMSG_DONE that
 * ends a dump at once. */
static const char *replyErr(int n) {
	static char s[64];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	if (n < (int)sizeof *h)
		return "no reply";
	if (h->nlmsg_type == NLMSG_ERROR)
		return errname(-((struct nlmsgerr *)NLMSG_DATA(h))->error);
	if (h->nlmsg_type == NLMSG_DONE) {
		snprintf(s, sizeof s, "DONE %s", errname(-*(int *)NLMSG_DATA(h)));
		return s;
	}
	snprintf(s, sizeof s, "message type %d", h->nlmsg_type);
	return s;
}

static const char *statename(int s) {
	switch (s) {
	case 1: return "ESTABLISHED";
	case 2: return "SYN_SENT";
	case 7: return "CLOSE";
	case 10: return "LISTEN";
	}
	return "?";
}

struct want {
	const char *what;
	int fd;
	int seen;
};

/* inetShow prints one inet_diag_msg of a socket of ours. */
static void inetShow(struct inet_diag_msg *m, int len, struct want *w, int lport) {
	char src[64], dst[64];
	inet_ntop(m->idiag_family, m->id.idiag_src, src, sizeof src);
	inet_ntop(m->idiag_family, m->id.idiag_dst, dst, sizeof dst);
	int sport = ntohs(m->id.idiag_sport), dport = ntohs(m->id.idiag_dport);
	printf("%s: family %d %s src %s sport=own %d sport=listener %d dst %s dport %s rq %u wq %u uid=own %d\n", w->what,
	       m->idiag_family, statename(m->idiag_state), src, sport == port(w->fd), sport == lport, dst,
	       dport == 0 ? "0" : dport == lport ? "listener" : "other", m->idiag_rqueue, m->idiag_wqueue, m->idiag_uid == getuid());
	for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == INET_DIAG_SHUTDOWN)
			printf("%s: shutdown %d\n", w->what, *(unsigned char *)RTA_DATA(a));
		if (a->rta_type == INET_DIAG_SKV6ONLY)
			printf("%s: v6only %d\n", w->what, *(unsigned char *)RTA_DATA(a));
		if (a->rta_type == INET_DIAG_INFO)
			printf("%s: tcp_info state %s\n", w->what, statename(((struct tcp_info *)RTA_DATA(a))->tcpi_state));
		if (a->rta_type == INET_DIAG_MEMINFO)
			printf("%s: meminfo\n", w->what);
	}
}

/* dump sends a dump request and shows the messages about the sockets in ws, in the order
 * of ws; it returns the number of datagrams of the reply. */
static void dump(int nl, const void *req, int len, struct want *ws, int n, int lport, int unixDiag) {
	char *saved[16] = {0};
	int savedLen[16] = {0};
	for (int i = 0; i < n; i++)
		ws[i].seen = 0;
	struct {
		struct nlmsghdr h;
		char body[256];
	} r;
	memset(&r, 0, sizeof r);
	r.h.nlmsg_len = NLMSG_LENGTH(len);
	r.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	r.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.h.nlmsg_seq = ++seq;
	memcpy(r.body, req, len);
	if (send(nl, &r, r.h.nlmsg_len, 0) < 0) {
		printf("dump: send %s\n", errname(errno));
		return;
	}
	int done = 0, multi = 1, seqok = 1;
	while (!done) {
		int got = recv(nl, buf, sizeof buf, 0);
		if (got <= 0) {
			printf("dump: recv %s\n", errname(errno));
			return;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, got); h = NLMSG_NEXT(h, got)) {
			seqok &= h->nlmsg_seq == seq;
			multi &= (h->nlmsg_flags & NLM_F_MULTI) != 0;
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				printf("dump: error %s\n", errname(-((struct nlmsgerr *)NLMSG_DATA(h))->error));
				return;
			}
			unsigned inode = unixDiag ? ((struct unix_diag_msg *)NLMSG_DATA(h))->udiag_ino
			                          : ((struct inet_diag_msg *)NLMSG_DATA(h))->idiag_inode;
			for (int i = 0; i < n; i++) {
				if (ino(ws[i].fd) == inode) {
					ws[i].seen++;
					saved[i] = malloc(h->nlmsg_len);
					memcpy(saved[i], h, h->nlmsg_len);
					savedLen[i] = h->nlmsg_len;
				}
			}
		}
	}
	printf("dump: done, every message multi %d, seq %d\n", multi, seqok);
	for (int i = 0; i < n; i++) {
		printf("%s: seen %d\n", ws[i].what, ws[i].seen);
		if (!saved[i])
			continue;
		struct nlmsghdr *h = (struct nlmsghdr *)saved[i];
		if (!unixDiag) {
			inetShow(NLMSG_DATA(h), savedLen[i] - NLMSG_LENGTH(sizeof(struct inet_diag_msg)), &ws[i], lport);
		} else {
			struct unix_diag_msg *m = NLMSG_DATA(h);
			int alen = savedLen[i] - NLMSG_LENGTH(sizeof *m);
			printf("%s: type %d %s\n", ws[i].what, m->udiag_type, statename(m->udiag_state));
			unsigned long long cookie = 0;
			socklen_t cl = sizeof cookie;
			getsockopt(ws[i].fd, SOL_SOCKET, SO_COOKIE, &cookie, &cl);
			printf("%s: cookie=SO_COOKIE %d\n", ws[i].what, ((unsigned long long)m->udiag_cookie[1] << 32 | m->udiag_cookie[0]) == cookie);
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				switch (a->rta_type) {
				case UNIX_DIAG_NAME: {
					char name[128] = {0};
					int l = RTA_PAYLOAD(a);
					memcpy(name, RTA_DATA(a), l < 127 ? l : 127);
					char want[64];
					snprintf(want, sizeof want, "sockdiag-%d", getpid());
					if (name[0] == 0)
						printf("%s: abstract name, length right %d, is ours %d\n", ws[i].what,
						       l == 1 + (int)strlen(want), strcmp(name + 1, want) == 0);
					else
						printf("%s: name len %d %s\n", ws[i].what, l, name);
					break;
				}
				case UNIX_DIAG_PEER: {
					unsigned p = *(unsigned *)RTA_DATA(a);
					const char *who = "other";
					for (int k = 0; k < n; k++)
						if (ino(ws[k].fd) == p)
							who = ws[k].what;
					printf("%s: peer %s\n", ws[i].what, who);
					break;
				}
				case UNIX_DIAG_RQLEN: {
					struct unix_diag_rqlen *q = RTA_DATA(a);
					printf("%s: rqlen %u %u\n", ws[i].what, q->udiag_rqueue, q->udiag_wqueue);
					break;
				}
				case UNIX_DIAG_UID:
					printf("%s: uid=own %d\n", ws[i].what, *(unsigned *)RTA_DATA(a) == getuid());
					break;
				case UNIX_DIAG_SHUTDOWN:
					printf("%s: shutdown %d\n", ws[i].what, *(unsigned char *)RTA_DATA(a));
					break;
				}
			}
		}
		free(saved[i]);
	}
}

static void inet(int nl) {
	printf("--- inet\n");
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a));
	CHECK(listen(l, 5));
	socklen_t al = sizeof a;
	getsockname(l, (struct sockaddr *)&a, &al);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a));
	int s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &ua.sin_addr);
	CHECK(bind(u, (struct sockaddr *)&ua, sizeof ua));
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int l6 = socket(AF_INET6, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	CHECK(bind(l6, (struct sockaddr *)&a6, sizeof a6));
	CHECK(listen(l6, 3));
	int lport = ntohs(a.sin_port);

	struct want tcp[] = {{"listener", l}, {"client", c}, {"server", s}};
	struct inet_diag_req_v2 r = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0U};
	printf("all TCP states\n");
	dump(nl, &r, sizeof r, tcp, 3, lport, 0);
	printf("listening only, with tcp_info and meminfo\n");
	r.idiag_states = 1 << 10;
	r.idiag_ext = 1 << (INET_DIAG_INFO - 1) | 1 << (INET_DIAG_MEMINFO - 1);
	dump(nl, &r, sizeof r, tcp, 3, lport, 0);
	printf("established, source port = the listener's\n");
	r.idiag_states = 1 << 1;
	r.idiag_ext = 0;
	r.id.idiag_sport = htons(lport);
	dump(nl, &r, sizeof r, tcp, 3, lport, 0);
	r.id.idiag_sport = 0;

	struct want v6[] = {{"listener6", l6}, {"listener", l}};
	struct inet_diag_req_v2 r6 = {.sdiag_family = AF_INET6, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0U};
	printf("IPv6 TCP\n");
	dump(nl, &r6, sizeof r6, v6, 2, lport, 0);

	struct want udp[] = {{"udp", u}, {"listener", l}};
	struct inet_diag_req_v2 ru = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_UDP, .idiag_states = ~0U};
	printf("UDP\n");
	dump(nl, &ru, sizeof ru, udp, 2, lport, 0);

	/* A filter: source port >= the listener's and <= it (ss "sport = :PORT"). */
	struct {
		struct inet_diag_req_v2 r;
		struct rtattr a;
		struct inet_diag_bc_op ops[4];
	} f;
	memset(&f, 0, sizeof f);
	f.r = (struct inet_diag_req_v2){.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0U};
	f.a.rta_type = INET_DIAG_REQ_BYTECODE;
	f.a.rta_len = RTA_LENGTH(sizeof f.ops);
	f.ops[0] = (struct inet_diag_bc_op){INET_DIAG_BC_S_GE, 8, 20};
	f.ops[1] = (struct inet_diag_bc_op){0, 0, lport};
	f.ops[2] = (struct inet_diag_bc_op){INET_DIAG_BC_S_LE, 8, 12};
	f.ops[3] = (struct inet_diag_bc_op){0, 0, lport};
	printf("bytecode: sport = listener\n");
	dump(nl, &f, sizeof f, tcp, 3, lport, 0);
	printf("bytecode: a jump past the end\n");
	f.ops[0].no = 24;
	dump(nl, &f, sizeof f, tcp, 3, lport, 0);
	f.ops[0].no = 20;
	f.ops[0].code = 99;
	printf("bytecode: an unknown operation\n");
	dump(nl, &f, sizeof f, tcp, 3, lport, 0);

	/* One socket by its addresses. */
	struct inet_diag_req_v2 one_ = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP};
	one_.id.idiag_sport = htons(port(c));
	one_.id.idiag_dport = htons(lport);
	inet_pton(AF_INET, "127.0.0.1", one_.id.idiag_src);
	inet_pton(AF_INET, "127.0.0.1", one_.id.idiag_dst);
	one_.id.idiag_cookie[0] = one_.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	int n = request(nl, SOCK_DIAG_BY_FAMILY, 0, &one_, sizeof one_);
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	printf("exact client: type %d multi %d inode=client %d\n", h->nlmsg_type, (h->nlmsg_flags & NLM_F_MULTI) != 0,
	       n > 0 && h->nlmsg_type == SOCK_DIAG_BY_FAMILY && ((struct inet_diag_msg *)NLMSG_DATA(h))->idiag_inode == ino(c));
	one_.id.idiag_sport = htons(1);
	one_.id.idiag_dport = htons(1);
	printf("exact, nothing there: %s\n", (replyErr(request(nl, SOCK_DIAG_BY_FAMILY, 0, &one_, sizeof one_))));
	close(u);
	close(l6);
	close(s);
	close(c);
	close(l);
}

static void unixsocks(int nl) {
	printf("--- unix\n");
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int nlen = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "sockdiag-%d", getpid());
	socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + nlen;
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(l, (struct sockaddr *)&a, al));
	CHECK(listen(l, 4));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, al));
	int s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	CHECK(write(c, "hello", 5));
	workdir("sockdiag");
	struct sockaddr_un p = {.sun_family = AF_UNIX, .sun_path = "dgram"};
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(d, (struct sockaddr *)&p, sizeof p));
	int pair[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
	struct want ws[] = {{"listener", l}, {"client", c}, {"server", s}, {"dgram", d}, {"pair0", pair[0]}, {"pair1", pair[1]}};
	struct unix_diag_req r = {.sdiag_family = AF_UNIX, .udiag_states = ~0U,
	                          .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID};
	printf("all unix\n");
	dump(nl, &r, sizeof r, ws, 6, 0, 1);
	printf("listening only, no attributes asked\n");
	r.udiag_states = 1 << 10;
	r.udiag_show = 0;
	dump(nl, &r, sizeof r, ws, 6, 0, 1);

	struct unix_diag_req e = {.sdiag_family = AF_UNIX, .udiag_ino = ino(s), .udiag_show = UDIAG_SHOW_PEER,
	                          .udiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE}};
	int n = request(nl, SOCK_DIAG_BY_FAMILY, 0, &e, sizeof e);
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	printf("exact server: type %d multi %d inode=server %d\n", h->nlmsg_type, (h->nlmsg_flags & NLM_F_MULTI) != 0,
	       n > 0 && h->nlmsg_type == SOCK_DIAG_BY_FAMILY && ((struct unix_diag_msg *)NLMSG_DATA(h))->udiag_ino == ino(s));
	unsigned long long cookie = 0;
	socklen_t cl = sizeof cookie;
	getsockopt(s, SOL_SOCKET, SO_COOKIE, &cookie, &cl);
	e.udiag_cookie[0] = (unsigned)cookie + 1;
	e.udiag_cookie[1] = cookie >> 32;
	printf("exact, wrong cookie: %s\n", (replyErr(request(nl, SOCK_DIAG_BY_FAMILY, 0, &e, sizeof e))));
	e.udiag_ino = 0;
	printf("exact, inode 0: %s\n", (replyErr(request(nl, SOCK_DIAG_BY_FAMILY, 0, &e, sizeof e))));
	unlink("dgram");
}

static void errors(int nl) {
	printf("--- errors\n");
	struct inet_diag_req_v2 r = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0U};
	printf("short inet request: %s\n", (replyErr(request(nl, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &r, 8))));
	printf("short sock_diag_req: %s\n", (replyErr(request(nl, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &r, 1))));
	struct inet_diag_req_v2 big = r;
	big.sdiag_family = 200;
	printf("family 200: %s\n", (replyErr(request(nl, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &big, sizeof big))));
	struct inet_diag_req_v2 bad = r;
	bad.sdiag_protocol = 99;
	printf("protocol 99: %s\n", (replyErr(request(nl, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &bad, sizeof bad))));
	printf("message type 99: %s\n", (replyErr(request(nl, 99, NLM_F_DUMP, &r, sizeof r))));
	struct unix_diag_req u = {.sdiag_family = AF_UNIX, .udiag_states = ~0U};
	printf("short unix request: %s\n", (replyErr(request(nl, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &u, 8))));
	/* A message longer than the send buffer (212992 bytes by default) is EMSGSIZE. */
	static char huge[300000];
	struct nlmsghdr *bh = (struct nlmsghdr *)huge;
	bh->nlmsg_len = sizeof huge;
	bh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	bh->nlmsg_flags = NLM_F_REQUEST;
	CHECK(send(nl, huge, sizeof huge, 0));
	int v = -1;
	socklen_t vl = sizeof v;
	getsockopt(nl, SOL_SOCKET, SO_PROTOCOL, &v, &vl);
	printf("SO_PROTOCOL %d\n", v);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	CHECK(nl >= 0);
	inet(nl);
	unixsocks(nl);
	errors(nl);
	return 0;
}
