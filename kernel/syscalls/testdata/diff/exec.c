#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>

static void writefile(const char *name, const char *content, int mode) {
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, mode);
	write(fd, content, strlen(content));
	close(fd);
}

int main(int argc, char **argv) {
	workdir("exec");
	char *args[] = {"prog", "arg1", NULL};
	char *env[] = {"A=1", NULL};
	CHECK(execve("missing", args, env));
	writefile("noexec", "#!/bin/sh\necho no\n", 0644);
	CHECK(execve("noexec", args, env));
	writefile("garbage", "\x01\x02\x03 not a program", 0755);
	CHECK(execve("garbage", args, env));
	CHECK(execve(".", args, env));
	CHECK(execve("", args, env));
	writefile("badinterp", "#!/nonexistent/interp\n", 0755);
	CHECK(execve("badinterp", args, env));
	/* #! chains nest up to 4 interpreters (BINPRM_MAX_RECURSION); a fifth is ELOOP. */
	writefile("s1", "#!/bin/sh\necho \"script says: $0 $@\"\n", 0755);
	char prev[300];
	snprintf(prev, sizeof prev, "./s1");
	for (int i = 2; i <= 6; i++) {
		char name[16], content[400];
		snprintf(name, sizeof name, "s%d", i);
		snprintf(content, sizeof content, "#!%s\n", prev);
		writefile(name, content, 0755);
		snprintf(prev, sizeof prev, "./%s", name);
	}
	CHECK(execve("s6", args, env));
	fflush(stdout);
	CHECK(execve("s4", args, env));
	return 1;
}
