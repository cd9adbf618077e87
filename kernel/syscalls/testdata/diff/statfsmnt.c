/* sbx-diff: host-rw-dir
 * statfs(2)/fstatfs(2): f_flags are the flags of the mount the file is on, as
 * /proc/self/mountinfo lists them (found by statx's mount ID), plus ST_VALID; f_fsid is
 * set; f_type of tmpfs, procfs and pipes; the errno paths; fstatfs of O_PATH descriptors. */
#include "common.h"
#include <sys/statfs.h>
#include <sys/statvfs.h>

#ifndef ST_VALID
#define ST_VALID 0x20 /* Linux's, which glibc does not name */
#endif

/* mountFlags returns the ST_* flags the mountinfo line of mount id names. */
static long mountFlags(int id) {
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	long fl = -1;
	while (f && fgets(line, sizeof line, f)) {
		int mid;
		char opts[1024];
		if (sscanf(line, "%d %*d %*s %*s %*s %1023s", &mid, opts) != 2 || mid != id)
			continue;
		fl = ST_VALID;
		for (char *o = strtok(opts, ","); o; o = strtok(NULL, ",")) {
			if (!strcmp(o, "ro")) fl |= ST_RDONLY;
			if (!strcmp(o, "nosuid")) fl |= ST_NOSUID;
			if (!strcmp(o, "nodev")) fl |= ST_NODEV;
			if (!strcmp(o, "noexec")) fl |= ST_NOEXEC;
			if (!strcmp(o, "noatime")) fl |= ST_NOATIME;
			if (!strcmp(o, "nodiratime")) fl |= ST_NODIRATIME;
			if (!strcmp(o, "relatime")) fl |= ST_RELATIME;
		}
	}
	if (f) fclose(f);
	return fl;
}

static void check(const char *what, const char *path) {
	struct statx sx;
	struct statfs s;
	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &sx) != 0 || statfs(path, &s) != 0) {
		printf("%s: %s\n", what, errname(errno));
		return;
	}
	long want = mountFlags(sx.stx_mnt_id);
	long got = s.f_flags & ~(ST_SYNCHRONOUS | ST_MANDLOCK);
	printf("%s: flags agree with mountinfo %d, fsid set %d, namelen %ld, frsize=bsize %d\n", what, got == want,
	       s.f_fsid.__val[0] != 0 || s.f_fsid.__val[1] != 0, (long)s.f_namelen, s.f_frsize == s.f_bsize);
	if (got != want)
		printf("  statfs %lx mountinfo %lx\n", got, want);
	struct statvfs v;
	statvfs(path, &v);
	printf("  statvfs agrees %d\n", (long)v.f_flag == (got & ~ST_VALID));
}

int main(int argc, char **argv) {
	check("host directory", argv[1]);
	check("/dev/shm", "/dev/shm");
	check("/proc", "/proc");
	check("/proc/self/status", "/proc/self/status");
	check("/dev/null", "/dev/null");
	check("/", "/");
	struct statfs s;
	statfs("/dev/shm", &s);
	printf("/dev/shm type %lx\n", (long)s.f_type);
	statfs("/proc", &s);
	printf("/proc type %lx\n", (long)s.f_type);
	CHECK(statfs("/nonexistent", &s));
	CHECK(statfs("", &s));
	CHECK(statfs("/dev/null/x", &s));
	CHECK(statfs("/dev/shm", NULL));
	CHECK(fstatfs(-1, &s));
	CHECK(fstatfs(0, NULL));
	int p[2];
	pipe(p);
	CHECK(fstatfs(p[0], &s));
	printf("pipe type %lx\n", (long)s.f_type);
	int o = open("/dev/shm", O_PATH);
	CHECK(fstatfs(o, &s));
	printf("O_PATH type %lx\n", (long)s.f_type);
	return 0;
}
