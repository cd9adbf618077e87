#include "common.h"
#include <mqueue.h>
#include <fcntl.h>
#include <sys/resource.h>

/* RLIMIT_MSGQUEUE (mq_overview(7), getrlimit(2)): creating a queue charges its creator
 * maxmsg * (sizeof(struct msg_msg) + sizeof(struct posix_msg_tree_node)) + maxmsg *
 * msgsize bytes, refused with EMFILE beyond the limit; opening an existing queue costs
 * nothing. The limit is per user across the whole system, so natively other processes of
 * the same user share it: this program only asks what holds whatever they hold (a limit
 * of 0 refuses every creation, an unlimited one none). */

int main(void) {
	char a[64], b[64];
	snprintf(a, sizeof a, "/sbxdiff-mqlim-%d-a", (int)getpid());
	snprintf(b, sizeof b, "/sbxdiff-mqlim-%d-b", (int)getpid());
	struct mq_attr small = {.mq_maxmsg = 1, .mq_msgsize = 1};
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	getrlimit(RLIMIT_MSGQUEUE, &rl);
	mqd_t qa = mq_open(a, O_RDWR | O_CREAT, 0600, &small);
	CHECK(qa >= 0);
	struct rlimit zero = {0, rl.rlim_max};
	CHECK(setrlimit(RLIMIT_MSGQUEUE, &zero));
	CHECK(mq_open(b, O_RDWR | O_CREAT, 0600, &small));
	CHECK(mq_open(b, O_RDWR | O_CREAT | O_EXCL, 0600, NULL));
	mqd_t qa2 = mq_open(a, O_RDWR);
	CHECK(qa2 >= 0);
	CHECK(mq_open(a, O_RDWR | O_CREAT, 0600, &small) >= 0);
	CHECK(mq_unlink(a));
	CHECK(mq_close(qa));
	CHECK(mq_close(qa2));
	CHECK(mq_open(a, O_RDWR | O_CREAT, 0600, &small));
	CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl));
	mqd_t qb = mq_open(b, O_RDWR | O_CREAT, 0600, &small);
	CHECK(qb >= 0);
	mq_unlink(b);
	return 0;
}
