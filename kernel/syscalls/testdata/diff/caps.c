#include "common.h"
#include <linux/capability.h>
#include <sys/syscall.h>

/* capget and capset: reading the sets, dropping effective and permitted capabilities,
 * refusals to gain one (EPERM), another thread's sets (EPERM), bad versions (EINVAL with the
 * preferred version written back), and a child inheriting the dropped sets. */

static int capget_(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d) {
	return syscall(SYS_capget, h, d);
}
static int capset_(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d) {
	return syscall(SYS_capset, h, d);
}

static void show(const char *what) {
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	CHECK(capget_(&h, d));
	printf("%s: eff %08x%08x prm %08x%08x inh %08x%08x\n", what, d[1].effective, d[0].effective, d[1].permitted,
	       d[0].permitted, d[1].inheritable, d[0].inheritable);
}

int main(void) {
	show("start");
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	capget_(&h, d);
	/* Setting the same sets succeeds. */
	CHECK(capset_(&h, d));
	/* Effective beyond permitted. */
	struct __user_cap_data_struct e[2] = {d[0], d[1]};
	e[0].effective |= 1u << CAP_NET_RAW;
	e[0].permitted &= ~(1u << CAP_NET_RAW);
	CHECK(capset_(&h, e));
	/* Another thread's sets. */
	h.pid = getpid() + 1000;
	CHECK(capset_(&h, d));
	h.pid = 0;
	/* A bad version. */
	h.version = 0x1234;
	CHECK(capset_(&h, d));
	printf("version written back %x\n", h.version);
	h.version = _LINUX_CAPABILITY_VERSION_3;
	/* Drop CAP_NET_RAW from effective, then from permitted; regaining it fails. */
	d[0].effective &= ~(1u << CAP_NET_RAW);
	CHECK(capset_(&h, d));
	show("no effective NET_RAW");
	d[0].permitted &= ~(1u << CAP_NET_RAW);
	CHECK(capset_(&h, d));
	show("no permitted NET_RAW");
	d[0].permitted |= 1u << CAP_NET_RAW;
	CHECK(capset_(&h, d));
	d[0].permitted &= ~(1u << CAP_NET_RAW);
	/* Drop everything. */
	memset(d, 0, sizeof d);
	CHECK(capset_(&h, d));
	show("none");
	d[0].permitted = 1u << CAP_CHOWN;
	CHECK(capset_(&h, d));
	return 0;
}
