#include "common.h"
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>

/* keyutils.h's permission bits (linux/keyctl.h lacks them). */
#define KEY_POS_VIEW 0x01000000
#define KEY_POS_READ 0x02000000
#define KEY_POS_SETATTR 0x20000000
#define KEY_POS_SEARCH 0x08000000
#define KEY_POS_ALL 0x3f000000
#define KEY_USR_VIEW 0x00010000

/* The kernel's key management (keyrings(7), keyctl(2), add_key(2), request_key(2)): the
 * thread, process and session keyrings and their inheritance across fork and execve, the
 * user and user-session keyrings, "user", "logon" and "keyring" keys, updates, links and
 * cycles, searches, permissions, revocation, invalidation, timeouts, quotas, and every
 * documented errno. The program first joins a fresh anonymous session keyring so that it
 * never depends on (or changes) the keys of the session it was started in. Serial numbers
 * differ between runs: only their relations are printed. */

static long kc(int op, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
	return syscall(SYS_keyctl, op, a2, a3, a4, a5);
}

static long addkey(const char *type, const char *desc, const void *p, size_t n, long ring) {
	return syscall(SYS_add_key, type, desc, p, n, ring);
}

static long reqkey(const char *type, const char *desc, const char *info, long ring) {
	return syscall(SYS_request_key, type, desc, info, ring);
}

/* describe prints a key's description with the keyring name's varying part cut. */
static void describe(const char *what, long id) {
	char buf[512];
	errno = 0;
	long n = kc(KEYCTL_DESCRIBE, id, (unsigned long)buf, sizeof buf, 0);
	if (n < 0) { printf("describe %s: %s\n", what, errname(errno)); return; }
	char *u = strstr(buf, "_uid");
	if (u != NULL) {
		char *dot = strchr(u, '.');
		if (dot != NULL) dot[1] = 0;
	}
	char *x = strstr(buf, "sbxkeys-");
	if (x != NULL) {
		x[7] = 0;
		n = 0; /* the name's length varies with the PID */
	}
	printf("describe %s: %ld %s\n", what, n, buf);
}

/* contents prints how many keys a keyring holds and which of the named ones. */
static void contents(const char *what, long ring, long a, long b) {
	int ids[64];
	errno = 0;
	long n = kc(KEYCTL_READ, ring, (unsigned long)ids, sizeof ids, 0);
	if (n < 0) { printf("read %s: %s\n", what, errname(errno)); return; }
	int ha = 0, hb = 0;
	for (long i = 0; i < n / 4 && i < 64; i++) {
		ha |= ids[i] == a;
		hb |= ids[i] == b;
	}
	printf("read %s: %ld bytes, a %d b %d\n", what, n, ha, hb);
}

static void payload(const char *what, long id) {
	char buf[64] = {0};
	errno = 0;
	long n = kc(KEYCTL_READ, id, (unsigned long)buf, sizeof buf - 1, 0);
	if (n < 0) { printf("read %s: %s\n", what, errname(errno)); return; }
	printf("read %s: %ld \"%s\"\n", what, n, buf);
}

static long thread_ses, thread_proc, thread_own;

/* inthread looks at the keyrings from a second thread: the process and session keyrings
 * are shared, the thread keyring is the thread's own. */
static void *inthread(void *arg) {
	(void)arg;
	thread_ses = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0);
	thread_proc = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0, 0);
	errno = 0;
	long t = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0, 0, 0);
	printf("thread: own thread keyring before create %s\n", t < 0 ? errname(errno) : "OK");
	thread_own = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 1, 0, 0);
	return NULL;
}

/* others covers the remaining operations: moves, restrictions, capabilities, the
 * request-key default, instantiation without authority, and the session handed to a
 * parent. */
static void others(long ses, long pk, long tk) {
	pthread_t th;
	pthread_create(&th, NULL, inthread, NULL);
	pthread_join(th, NULL);
	CHECK(thread_ses == ses);
	CHECK(thread_proc == pk);
	CHECK(thread_own > 0 && thread_own != tk);

	long a = addkey("keyring", "mova", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	long b = addkey("keyring", "movb", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	long m = addkey("user", "moved", "m", 1, a);
	long m2 = addkey("user", "moved", "n", 1, b);
	CHECK(kc(KEYCTL_MOVE, m, a, b, 2));
	CHECK(kc(KEYCTL_MOVE, m, a, b, KEYCTL_MOVE_EXCL));
	CHECK(kc(KEYCTL_MOVE, m, b, a, 0));
	CHECK(kc(KEYCTL_MOVE, m, a, a, 0));
	CHECK(kc(KEYCTL_MOVE, m, a, m2, 0));
	CHECK(kc(KEYCTL_MOVE, m, a, b, 0));
	contents("mova after move", a, m, m2);
	contents("movb after move", b, m, m2);
	CHECK(kc(KEYCTL_MOVE, 0x7ffffff0, a, b, 0));

	CHECK(kc(KEYCTL_RESTRICT_KEYRING, a, 0, (unsigned long)"x", 0));
	CHECK(kc(KEYCTL_RESTRICT_KEYRING, m, 0, 0, 0));
	CHECK(kc(KEYCTL_RESTRICT_KEYRING, a, (unsigned long)"user", (unsigned long)"x", 0));
	CHECK(kc(KEYCTL_RESTRICT_KEYRING, a, 0, 0, 0));
	CHECK(kc(KEYCTL_RESTRICT_KEYRING, a, 0, 0, 0));
	CHECK(addkey("user", "r", "r", 1, a));
	CHECK(kc(KEYCTL_LINK, m, a, 0, 0));
	CHECK(kc(KEYCTL_MOVE, m, b, a, 0));
	CHECK(kc(KEYCTL_UNLINK, a, KEY_SPEC_SESSION_KEYRING, 0, 0));

	unsigned char caps[4] = {0};
	CHECK(kc(KEYCTL_CAPABILITIES, (unsigned long)caps, sizeof caps, 0, 0));
	printf("caps: invalidate %d move %d\n", !!(caps[0] & KEYCTL_CAPS0_INVALIDATE), !!(caps[0] & KEYCTL_CAPS0_MOVE));
	CHECK(kc(KEYCTL_CAPABILITIES, 0, 0, 0, 0));

	CHECK(kc(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_NO_CHANGE, 0, 0, 0));
	CHECK(kc(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_SESSION_KEYRING, 0, 0, 0));
	CHECK(kc(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_NO_CHANGE, 0, 0, 0));
	CHECK(kc(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_GROUP_KEYRING, 0, 0, 0));
	CHECK(kc(KEYCTL_SET_REQKEY_KEYRING, 9, 0, 0, 0));
	CHECK(kc(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_DEFAULT, 0, 0, 0));

	CHECK(kc(KEYCTL_INSTANTIATE, m, (unsigned long)"x", 1, 0));
	CHECK(kc(KEYCTL_NEGATE, m, 10, 0, 0));
	CHECK(kc(KEYCTL_REJECT, m, 10, EKEYREJECTED, 0));
	CHECK(kc(KEYCTL_ASSUME_AUTHORITY, 0, 0, 0, 0));
	CHECK(kc(KEYCTL_ASSUME_AUTHORITY, -5, 0, 0, 0));
	CHECK(kc(KEYCTL_ASSUME_AUTHORITY, m, 0, 0, 0));

	/* A child hands its new session keyring to this process. */
	int p[2];
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		long mine = kc(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0);
		write(p[1], &mine, sizeof mine);
		CHECK(kc(KEYCTL_SESSION_TO_PARENT, 0, 0, 0, 0));
		_exit(0);
	}
	long mine = 0;
	read(p[0], &mine, sizeof mine);
	waitpid(pid, NULL, 0);
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0) == mine);
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0) != ses);
}

/* afterexec checks what the session, process and thread keyrings are after execve. */
static int afterexec(long session) {
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0) == session);
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0, 0));
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0, 0, 0));
	long k = kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"k1", 0);
	printf("after exec: k1 found %d\n", k > 0);
	return 0;
}

int main(int argc, char **argv) {
	if (argc == 3 && strcmp(argv[1], "exec") == 0)
		return afterexec(atol(argv[2]));
	setvbuf(stdout, NULL, _IONBF, 0);
	uid_t uid = getuid();

	/* A fresh session keyring. */
	long ses = kc(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0);
	CHECK(ses > 0);
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0) == ses);
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1, 0, 0) == ses);
	CHECK(kc(KEYCTL_GET_KEYRING_ID, ses, 0, 0, 0) == ses);
	describe("@s", KEY_SPEC_SESSION_KEYRING);
	contents("@s", KEY_SPEC_SESSION_KEYRING, 0, 0);

	/* Thread and process keyrings exist only once asked for with create. */
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0, 0, 0));
	CHECK(kc(KEYCTL_DESCRIBE, KEY_SPEC_THREAD_KEYRING, 0, 0, 0));
	long tk = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 1, 0, 0);
	CHECK(tk > 0);
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0, 0, 0) == tk);
	describe("@t", KEY_SPEC_THREAD_KEYRING);
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0, 0));
	long pk = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1, 0, 0);
	CHECK(pk > 0 && pk != tk);
	describe("@p", KEY_SPEC_PROCESS_KEYRING);
	CHECK(addkey("user", "inp", "p", 1, KEY_SPEC_PROCESS_KEYRING) > 0);

	/* The user and user-session keyrings; the second links the first. */
	long uk = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1, 0, 0);
	long usk = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_SESSION_KEYRING, 1, 0, 0);
	CHECK(uk > 0 && usk > 0 && uk != usk);
	describe("@u", KEY_SPEC_USER_KEYRING);
	describe("@us", KEY_SPEC_USER_SESSION_KEYRING);
	{
		int ids[256];
		long n = kc(KEYCTL_READ, usk, (unsigned long)ids, sizeof ids, 0);
		int has = 0;
		for (long i = 0; i < n / 4 && i < 256; i++) has |= ids[i] == uk;
		printf("@us links @u: %d\n", has);
	}

	/* Special and invalid IDs. */
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_GROUP_KEYRING, 0, 0, 0));
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_REQKEY_AUTH_KEY, 0, 0, 0));
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_REQUESTOR_KEYRING, 0, 0, 0));
	CHECK(kc(KEYCTL_GET_KEYRING_ID, -9, 0, 0, 0));
	CHECK(kc(KEYCTL_GET_KEYRING_ID, 0, 0, 0, 0));
	CHECK(kc(KEYCTL_GET_KEYRING_ID, 0x7ffffff0, 0, 0, 0));
	CHECK(kc(999, 0, 0, 0, 0));

	/* add_key: "user" keys, updated in place. */
	long k1 = addkey("user", "k1", "hello", 5, KEY_SPEC_SESSION_KEYRING);
	CHECK(k1 > 0);
	describe("k1", k1);
	payload("k1", k1);
	char small[3] = {0};
	CHECK(kc(KEYCTL_READ, k1, (unsigned long)small, 2, 0));
	printf("small read: %.2s\n", small);
	CHECK(kc(KEYCTL_READ, k1, 0, 0, 0));
	CHECK(kc(KEYCTL_DESCRIBE, k1, (unsigned long)small, 2, 0));
	CHECK(addkey("user", "k1", "world!", 6, KEY_SPEC_SESSION_KEYRING) == k1);
	payload("k1 updated", k1);
	CHECK(kc(KEYCTL_UPDATE, k1, (unsigned long)"again", 5, 0));
	payload("k1 again", k1);
	CHECK(kc(KEYCTL_UPDATE, k1, 0, 0, 0));
	CHECK(kc(KEYCTL_UPDATE, k1, (unsigned long)-4096L, 4, 0));
	long k2 = addkey("user", "k2", "two", 3, KEY_SPEC_SESSION_KEYRING);
	CHECK(k2 > 0 && k2 != k1);
	contents("@s", KEY_SPEC_SESSION_KEYRING, k1, k2);
	CHECK(kc(KEYCTL_READ, KEY_SPEC_SESSION_KEYRING, 0, 0, 0));

	/* add_key's errors. */
	char longtype[40], longdesc[4200];
	memset(longtype, 't', sizeof longtype - 1); longtype[sizeof longtype - 1] = 0;
	memset(longdesc, 'd', sizeof longdesc - 1); longdesc[sizeof longdesc - 1] = 0;
	CHECK(addkey("", "x", "p", 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey(longtype, "x", "p", 1, KEY_SPEC_SESSION_KEYRING));
	longtype[31] = 0;
	CHECK(addkey(longtype, "x", "p", 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey(".user", "x", "p", 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("nosuchtype", "x", "p", 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("user", "", "p", 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("user", NULL, "p", 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("user", longdesc, "p", 1, KEY_SPEC_SESSION_KEYRING));
	longdesc[4095] = 0;
	CHECK0(addkey("user", longdesc, "p", 1, KEY_SPEC_SESSION_KEYRING));
	longdesc[4094] = 0;
	long kl = addkey("user", longdesc, "p", 1, KEY_SPEC_SESSION_KEYRING);
	CHECK(kl > 0);
	CHECK(kc(KEYCTL_UNLINK, kl, KEY_SPEC_SESSION_KEYRING, 0, 0));
	CHECK(addkey("user", "x", "", 0, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("user", "x", NULL, 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("user", "x", (void *)-4096L, 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey((char *)-4096L, "x", "p", 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("user", (char *)-4096L, "p", 1, KEY_SPEC_SESSION_KEYRING));
	static char big[40000];
	CHECK(addkey("user", "big", big, 32768, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("user", "big", big, 1 << 20, KEY_SPEC_SESSION_KEYRING));
	long bk = addkey("user", "big", big, 32767, KEY_SPEC_SESSION_KEYRING);
	printf("32767-byte key as %s: %s\n", uid == 0 ? "root" : "user", bk > 0 ? "OK" : errname(errno));
	if (bk > 0) kc(KEYCTL_UNLINK, bk, KEY_SPEC_SESSION_KEYRING, 0, 0);
	CHECK(addkey("user", "x", "p", 1, 0));
	CHECK(addkey("user", "x", "p", 1, k1));
	CHECK(addkey("user", "x", "p", 1, 0x7ffffff0));
	CHECK(addkey("user", "x", "p", 1, KEY_SPEC_GROUP_KEYRING));
	CHECK(addkey("keyring", "r", "p", 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("keyring", ".r", NULL, 0, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("keyring", "", NULL, 0, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("logon", "nocolon", "p", 1, KEY_SPEC_SESSION_KEYRING));
	CHECK(addkey("logon", ":svc", "p", 1, KEY_SPEC_SESSION_KEYRING));

	/* "logon" keys cannot be read. */
	long lk = addkey("logon", "svc:one", "secret", 6, KEY_SPEC_SESSION_KEYRING);
	CHECK(lk > 0);
	describe("logon", lk);
	payload("logon", lk);
	CHECK(kc(KEYCTL_UPDATE, lk, (unsigned long)"s2", 2, 0));

	/* Keyrings: a second add displaces the first, links, cycles, nesting. */
	long r1 = addkey("keyring", "ring", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	long r1b = addkey("keyring", "ring", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	CHECK(r1 > 0 && r1b > 0 && r1 != r1b);
	contents("@s after two rings", KEY_SPEC_SESSION_KEYRING, r1, r1b);
	CHECK(kc(KEYCTL_DESCRIBE, r1, 0, 0, 0));
	describe("ring", r1b);
	CHECK(kc(KEYCTL_LINK, k1, r1b, 0, 0));
	CHECK(kc(KEYCTL_LINK, k1, r1b, 0, 0));
	contents("ring", r1b, k1, k2);
	CHECK(kc(KEYCTL_LINK, k2, k1, 0, 0));
	CHECK(kc(KEYCTL_LINK, r1b, r1b, 0, 0));
	long r2 = addkey("keyring", "inner", NULL, 0, r1b);
	CHECK(r2 > 0);
	CHECK(kc(KEYCTL_LINK, r1b, r2, 0, 0));
	CHECK(kc(KEYCTL_LINK, KEY_SPEC_SESSION_KEYRING, r2, 0, 0));
	CHECK(kc(KEYCTL_LINK, k2, r2, 0, 0));
	CHECK(kc(KEYCTL_LINK, k2, 0x7ffffff0, 0, 0));
	CHECK(kc(KEYCTL_LINK, 0x7ffffff0, r2, 0, 0));
	{
		/* Searches and possession go at most six keyrings deep. */
		long chain[10];
		chain[0] = addkey("keyring", "nest", NULL, 0, KEY_SPEC_SESSION_KEYRING);
		int i;
		for (i = 1; i < 10; i++) {
			chain[i] = addkey("keyring", "deep", NULL, 0, chain[i - 1]);
			if (chain[i] < 0) break;
		}
		printf("nested keyrings made: %d (%s)\n", i, i < 10 ? errname(errno) : "OK");
		CHECK(kc(KEYCTL_UNLINK, chain[0], KEY_SPEC_SESSION_KEYRING, 0, 0));
		/* Linking a keyring whose own nesting is too deep: ELOOP. */
		long flat[10];
		for (i = 0; i < 10; i++) {
			char fname[16];
			snprintf(fname, sizeof fname, "flat%d", i);
			flat[i] = addkey("keyring", fname, NULL, 0, KEY_SPEC_PROCESS_KEYRING);
		}
		for (i = 8; i >= 0; i--) {
			errno = 0;
			long r = kc(KEYCTL_LINK, flat[i + 1], flat[i], 0, 0);
			printf("link flat %d into %d: %s\n", i + 1, i, r < 0 ? errname(errno) : "OK");
		}
	}
	CHECK(kc(KEYCTL_UNLINK, k2, r2, 0, 0));
	CHECK(kc(KEYCTL_UNLINK, k2, r2, 0, 0));
	CHECK(kc(KEYCTL_UNLINK, k2, k1, 0, 0));

	/* Searches: recursive, with a destination, and the misses. */
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"k1", 0) == k1);
	CHECK(kc(KEYCTL_SEARCH, r1b, (unsigned long)"user", (unsigned long)"k1", 0) == k1);
	long inner = addkey("user", "deepkey", "d", 1, r2);
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"deepkey", 0) == inner);
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"keyring", (unsigned long)"inner", 0) == r2);
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"nope", 0));
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"logon", (unsigned long)"k1", 0));
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"nosuch", (unsigned long)"k1", 0));
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"", (unsigned long)"k1", 0));
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"", 0));
	CHECK(kc(KEYCTL_SEARCH, k1, (unsigned long)"user", (unsigned long)"k1", 0));
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"deepkey", r1b) == inner);
	contents("ring after search", r1b, inner, r2);
	CHECK(reqkey("user", "k1", NULL, 0) == k1);
	CHECK(reqkey("user", "deepkey", NULL, KEY_SPEC_THREAD_KEYRING) == inner);
	contents("@t after request_key", KEY_SPEC_THREAD_KEYRING, inner, 0);
	CHECK(reqkey("user", "absent", NULL, 0));
	CHECK(reqkey("keyring", "ring", NULL, 0) == r1b);
	CHECK(reqkey("", "k1", NULL, 0));
	CHECK(reqkey(".x", "k1", NULL, 0));
	CHECK(reqkey("user", "", NULL, 0));
	CHECK(reqkey("nosuchtype", "k1", NULL, 0));
	CHECK(reqkey("user", "k1", NULL, 0x7ffffff0));

	/* Permissions. */
	CHECK(kc(KEYCTL_SETPERM, k2, 0x40, 0, 0));
	CHECK(kc(KEYCTL_SETPERM, k2, 0x3f3f3f3f, 0, 0));
	describe("k2 all", k2);
	CHECK(kc(KEYCTL_SETPERM, k2, KEY_POS_VIEW | KEY_POS_SETATTR, 0, 0));
	describe("k2 view only", k2);
	payload("k2 view only", k2);
	CHECK(kc(KEYCTL_UPDATE, k2, (unsigned long)"x", 1, 0));
	CHECK(kc(KEYCTL_LINK, k2, r1b, 0, 0));
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"k2", 0));
	CHECK(kc(KEYCTL_SETPERM, k2, 0, 0, 0));
	describe("k2 none", k2);
	long k3 = addkey("user", "k3", "three", 5, KEY_SPEC_SESSION_KEYRING);
	CHECK(kc(KEYCTL_CHOWN, k3, -1, -1, 0));
	CHECK(kc(KEYCTL_CHOWN, 0x7ffffff0, -1, -1, 0));
	CHECK(kc(KEYCTL_CHOWN, k3, uid, -1, 0));
	CHECK(kc(KEYCTL_CHOWN, k3, -1, getgid(), 0));
	describe("k3 chowned", k3);
	CHECK(kc(KEYCTL_CHOWN, k3, 12345, -1, 0));
	CHECK(kc(KEYCTL_CHOWN, k3, -1, 12345, 0));
	describe("k3 chowned again", k3);
	long k4 = addkey("user", "k4", "four", 4, KEY_SPEC_SESSION_KEYRING);
	CHECK(kc(KEYCTL_SETPERM, k4, KEY_POS_VIEW | KEY_POS_SEARCH | KEY_POS_SETATTR, 0, 0));
	describe("k4 pos view", k4);
	payload("k4 pos view", k4);
	CHECK(kc(KEYCTL_UPDATE, k4, (unsigned long)"x", 1, 0));
	CHECK(kc(KEYCTL_REVOKE, k4, 0, 0, 0) == 0);
	long r3 = addkey("keyring", "locked", NULL, 0, KEY_SPEC_SESSION_KEYRING);
	long k5 = addkey("user", "k5", "five", 4, r3);
	CHECK(kc(KEYCTL_SETPERM, r3, KEY_POS_VIEW | KEY_POS_READ | KEY_POS_SEARCH | KEY_POS_SETATTR, 0, 0));
	contents("locked", r3, k5, 0);
	CHECK(kc(KEYCTL_LINK, k1, r3, 0, 0));
	CHECK(addkey("user", "w", "w", 1, r3));
	CHECK(kc(KEYCTL_CLEAR, r3, 0, 0, 0));
	CHECK(kc(KEYCTL_UNLINK, k5, r3, 0, 0));
	CHECK(kc(KEYCTL_SEARCH, r3, (unsigned long)"user", (unsigned long)"k5", 0) == k5);
	CHECK(kc(KEYCTL_SETPERM, r3, KEY_POS_VIEW | KEY_POS_READ | KEY_POS_SETATTR, 0, 0));
	CHECK(kc(KEYCTL_SEARCH, r3, (unsigned long)"user", (unsigned long)"k5", 0));
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"k5", 0));
	CHECK(kc(KEYCTL_SETPERM, r3, KEY_POS_ALL | KEY_USR_VIEW, 0, 0));
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"k5", 0) == k5);
	CHECK(kc(KEYCTL_SETPERM, k5, KEY_POS_ALL, 0, 0));
	CHECK(kc(KEYCTL_LINK, k5, KEY_SPEC_SESSION_KEYRING, 0, 0));
	CHECK(kc(KEYCTL_UNLINK, r3, KEY_SPEC_SESSION_KEYRING, 0, 0));
	describe("k5 still linked", k5);

	/* Timeouts, revocation, invalidation, clear. */
	long tmo = addkey("user", "tmo", "t", 1, KEY_SPEC_SESSION_KEYRING);
	CHECK(kc(KEYCTL_SET_TIMEOUT, tmo, 1, 0, 0));
	payload("tmo before", tmo);
	usleep(1300000);
	payload("tmo expired", tmo);
	describe("tmo expired", tmo);
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"tmo", 0));
	CHECK(kc(KEYCTL_SET_TIMEOUT, tmo, 0, 0, 0));
	long rv = addkey("user", "rv", "r", 1, KEY_SPEC_SESSION_KEYRING);
	CHECK(kc(KEYCTL_REVOKE, rv, 0, 0, 0));
	payload("revoked", rv);
	describe("revoked", rv);
	CHECK(kc(KEYCTL_UPDATE, rv, (unsigned long)"x", 1, 0));
	CHECK(kc(KEYCTL_REVOKE, rv, 0, 0, 0));
	CHECK(kc(KEYCTL_SET_TIMEOUT, rv, 5, 0, 0));
	CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"rv", 0));
	long rv2 = addkey("user", "rv", "fresh", 5, KEY_SPEC_SESSION_KEYRING);
	CHECK(rv2 > 0 && rv2 != rv);
	long iv = addkey("user", "iv", "i", 1, KEY_SPEC_SESSION_KEYRING);
	CHECK(kc(KEYCTL_INVALIDATE, iv, 0, 0, 0));
	describe("invalidated", iv);
	CHECK(kc(KEYCTL_CLEAR, k1, 0, 0, 0));
	CHECK(kc(KEYCTL_CLEAR, r1b, 0, 0, 0));
	contents("ring cleared", r1b, inner, r2);
	CHECK(kc(KEYCTL_CLEAR, KEY_SPEC_THREAD_KEYRING, 0, 0, 0));
	contents("@t cleared", KEY_SPEC_THREAD_KEYRING, inner, 0);

	others(ses, pk, tk);
	kc(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0);
	ses = kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0);
	k1 = addkey("user", "k1", "again", 5, KEY_SPEC_SESSION_KEYRING);

	/* fork: the child shares the session keyring, has no process or thread keyring. */
	pid_t pid = fork();
	if (pid == 0) {
		printf("child: session same %d\n", kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0) == ses);
		CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0, 0, 0));
		CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0, 0, 0));
		CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"k1", 0) == k1);
		CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"inp", 0));
		long mine = kc(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0);
		CHECK(mine > 0 && mine != ses);
		describe("child's new session", mine);
		CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"k1", 0));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	CHECK(kc(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0) == ses);

	/* Named session keyrings are shared by name. */
	char name[64];
	snprintf(name, sizeof name, "sbxkeys-%d", (int)getpid());
	pid = fork();
	if (pid == 0) {
		long a = kc(KEYCTL_JOIN_SESSION_KEYRING, (unsigned long)name, 0, 0, 0);
		long b = kc(KEYCTL_JOIN_SESSION_KEYRING, (unsigned long)name, 0, 0, 0);
		CHECK(a > 0 && a == b);
		describe("named", a);
		CHECK(addkey("user", "shared", "s", 1, KEY_SPEC_SESSION_KEYRING) > 0);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	pid = fork();
	if (pid == 0) {
		long a = kc(KEYCTL_JOIN_SESSION_KEYRING, (unsigned long)name, 0, 0, 0);
		CHECK(a > 0);
		CHECK(kc(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, (unsigned long)"user", (unsigned long)"shared", 0) > 0);
		CHECK(kc(KEYCTL_JOIN_SESSION_KEYRING, (unsigned long)longdesc, 0, 0, 0) > 0);
		CHECK(kc(KEYCTL_JOIN_SESSION_KEYRING, (unsigned long)-4096L, 0, 0, 0));
		_exit(0);
	}
	waitpid(pid, NULL, 0);

	/* execve keeps the session keyring and drops the others. */
	pid = fork();
	if (pid == 0) {
		char arg[32];
		snprintf(arg, sizeof arg, "%ld", ses);
		execl("/proc/self/exe", argv[0], "exec", arg, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("exec child exit %d\n", WEXITSTATUS(st));
	return 0;
}
