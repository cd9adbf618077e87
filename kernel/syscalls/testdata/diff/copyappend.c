/* sbx-diff: host-rw-dir
 * Copying calls into files: sendfile, copy_file_range and splice (from a pipe, and from a
 * file through a pipe) into a file opened with and without O_APPEND, at its start, in its
 * middle and at its end, with and without an explicit offset, in a host directory (gofer
 * files on donated FDs) and in the sandbox's own /tmp. Each case prints what the call
 * returned, the offsets it left and the destination's content: nothing may be lost. */
#include "common.h"
#include <fcntl.h>
#include <sys/sendfile.h>

static void put(const char *name, const char *s) {
	int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write(fd, s, strlen(s));
	close(fd);
}

static void content(const char *name) {
	char buf[128] = {0};
	int fd = open(name, O_RDONLY);
	int n = read(fd, buf, sizeof buf - 1);
	close(fd);
	printf("  -> %.*s\n", n > 0 ? n : 0, buf);
}

enum { SENDFILE, COPY_IN, COPY_OUT, COPY_BOTH, SPLICE_PIPE, SPLICE_FILE, WRITE, NCALLS };
static const char *callname[] = {"sendfile", "copy_file_range(off_in)", "copy_file_range(off_out)",
	"copy_file_range(both)", "splice(pipe->file)", "splice(file->pipe->file)", "write"};

static void one(int call, int append, int pos, int explicit) {
	put("a", "abcdef");
	put("b", "0123456789");
	int in = open("a", O_RDONLY);
	int out = open("b", O_WRONLY | (append ? O_APPEND : 0));
	lseek(in, 1, SEEK_SET);
	off_t where = pos == 0 ? 0 : pos == 1 ? 3 : 10;
	lseek(out, where, SEEK_SET);
	loff_t off = 2, off2 = 4;
	int p[2];
	pipe(p);
	long r = -1;
	errno = 0;
	switch (call) {
	case SENDFILE:
		r = sendfile(out, in, explicit ? &off : NULL, 4);
		break;
	case COPY_IN:
		r = copy_file_range(in, explicit ? &off : NULL, out, NULL, 4, 0);
		break;
	case COPY_OUT:
		r = copy_file_range(in, NULL, out, explicit ? &off2 : NULL, 4, 0);
		break;
	case COPY_BOTH:
		r = copy_file_range(in, explicit ? &off : NULL, out, explicit ? &off2 : NULL, 4, 0);
		break;
	case SPLICE_PIPE:
		write(p[1], "WXYZ", 4);
		r = splice(p[0], NULL, out, explicit ? &off2 : NULL, 4, 0);
		break;
	case SPLICE_FILE:
		r = splice(in, explicit ? &off : NULL, p[1], NULL, 4, 0);
		if (r > 0)
			r = splice(p[0], NULL, out, NULL, r, 0);
		break;
	case WRITE:
		r = write(out, "wxyz", 4);
		break;
	}
	int e = errno;
	printf("%s append %d pos %ld explicit %d: %ld %s off %ld off2 %ld in at %ld out at %ld\n", callname[call], append,
		(long)where, explicit, r, r < 0 ? errname(e) : "OK", (long)off, (long)off2, (long)lseek(in, 0, SEEK_CUR),
		(long)lseek(out, 0, SEEK_CUR));
	close(in);
	close(out);
	close(p[0]);
	close(p[1]);
	content("b");
}

static void all(void) {
	for (int call = 0; call < NCALLS; call++)
		for (int append = 0; append < 2; append++)
			for (int pos = 0; pos < 3; pos++)
				for (int explicit = 0; explicit < 2; explicit++)
					one(call, append, pos, explicit);
	/* A copy that appends a whole file, as `cat a >> b` does with GNU cat. */
	put("a", "appended\n");
	put("b", "kept\n");
	int in = open("a", O_RDONLY), out = open("b", O_WRONLY | O_APPEND);
	char buf[64];
	long r;
	errno = 0;
	r = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);
	printf("cat-like copy_file_range: %ld %s\n", r, r < 0 ? errname(errno) : "OK");
	if (r < 0)
		while ((r = read(in, buf, sizeof buf)) > 0)
			write(out, buf, r);
	close(in);
	close(out);
	content("b");
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: copyappend DIR\n");
		return 2;
	}
	char dir[] = "copyappend-XXXXXX";
	if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
		perror("workdir");
		return 2;
	}
	printf("host directory\n");
	all();
	workdir("copyappend");
	printf("/tmp\n");
	all();
	return 0;
}
