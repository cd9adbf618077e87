#include "common.h"
#include <mqueue.h>
#include <fcntl.h>
#include <sys/resource.h>

/* RLIMIT_MSGQUEUE (mq_overview(7), getrlimit(2)): creating a queue charges its creator
 * maxmsg * (sizeof(struct msg_msg) + sizeof(struct posix_msg_tree_node)) + maxmsg *
 * msgsize bytes, refused with EMFILE beyond the limit; the charge comes back when the
 * queue is unlinked and its last descriptor closed. Opening an existing queue costs
 * nothing. */

int main(void) {
	char a[64], b[64], c[64];
	snprintf(a, sizeof a, "/sbxdiff-mqlim-%d-a", (int)getpid());
	snprintf(b, sizeof b, "/sbxdiff-mqlim-%d-b", (int)getpid());
	snprintf(c, sizeof c, "/sbxdiff-mqlim-%d-c", (int)getpid());
	struct rlimit rl = {100000, 100000};
	CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl));
	struct mq_attr big = {.mq_maxmsg = 10, .mq_msgsize = 8192};   /* 82880 bytes */
	struct mq_attr small = {.mq_maxmsg = 2, .mq_msgsize = 6000};  /* 12192 bytes */
	mqd_t qa = mq_open(a, O_RDWR | O_CREAT, 0600, &big);
	CHECK(qa >= 0);
	CHECK(mq_open(b, O_RDWR | O_CREAT, 0600, &big));
	mqd_t qb = mq_open(b, O_RDWR | O_CREAT, 0600, &small);
	CHECK(qb >= 0);
	CHECK(mq_open(c, O_RDWR | O_CREAT, 0600, &small));
	mqd_t qa2 = mq_open(a, O_RDWR);
	CHECK(qa2 >= 0);
	/* Unlinked but open: still charged. */
	CHECK(mq_unlink(a));
	CHECK(mq_open(c, O_RDWR | O_CREAT, 0600, &small));
	CHECK(mq_close(qa));
	CHECK(mq_open(c, O_RDWR | O_CREAT, 0600, &small));
	CHECK(mq_close(qa2));
	mqd_t qc = mq_open(c, O_RDWR | O_CREAT, 0600, &big);
	CHECK(qc >= 0);
	/* Closed but linked: still charged. */
	CHECK(mq_close(qc));
	CHECK(mq_open(a, O_RDWR | O_CREAT, 0600, &small));
	CHECK(mq_unlink(c));
	mqd_t qa3 = mq_open(a, O_RDWR | O_CREAT, 0600, &small);
	CHECK(qa3 >= 0);
	rl.rlim_cur = rl.rlim_max = 0;
	CHECK(setrlimit(RLIMIT_MSGQUEUE, &rl));
	CHECK(mq_open(c, O_RDWR | O_CREAT, 0600, &small));
	CHECK(mq_open(b, O_RDWR) >= 0);
	mq_unlink(a);
	mq_unlink(b);
	return 0;
}
