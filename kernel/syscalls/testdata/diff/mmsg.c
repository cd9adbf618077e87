#include "common.h"
#include <sys/socket.h>

/* sendmmsg and recvmmsg on a seqpacket socketpair (message boundaries kept). */

int main(void) {
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	char *words[3] = {"one", "three", "seventeen"};
	struct iovec iov[3];
	struct mmsghdr mm[3] = {0};
	for (int i = 0; i < 3; i++) {
		iov[i].iov_base = words[i];
		iov[i].iov_len = strlen(words[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK(sendmmsg(sv[0], mm, 3, 0));
	printf("lens %u %u %u\n", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
	char bufs[4][32];
	struct iovec riov[4];
	struct mmsghdr rm[4] = {0};
	for (int i = 0; i < 4; i++) {
		riov[i].iov_base = bufs[i];
		riov[i].iov_len = sizeof bufs[i];
		rm[i].msg_hdr.msg_iov = &riov[i];
		rm[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK(recvmmsg(sv[1], rm, 4, MSG_WAITFORONE, NULL));
	for (int i = 0; i < 3; i++)
		printf("%u: %.*s\n", rm[i].msg_len, (int)rm[i].msg_len, bufs[i]);
	CHECK(recvmmsg(sv[1], rm, 4, MSG_DONTWAIT, NULL));
	CHECK(sendmmsg(999, mm, 3, 0));
	return 0;
}
