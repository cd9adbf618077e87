#include "common.h"
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

/* sendfile and copy_file_range between files and into pipes, with and without offsets. */

int main(void) {
	workdir("copy");
	int src = open("src", O_RDWR | O_CREAT, 0644);
	char data[10000];
	for (int i = 0; i < (int)sizeof data; i++)
		data[i] = 'a' + i % 26;
	CHECK(write(src, data, sizeof data));
	int dst = open("dst", O_RDWR | O_CREAT, 0644);
	off_t off = 100;
	CHECK(sendfile(dst, src, &off, 5000));
	printf("offset now %ld\n", (long)off);
	CHECK(lseek(src, 0, SEEK_CUR));
	CHECK(lseek(src, 9000, SEEK_SET));
	CHECK(sendfile(dst, src, NULL, 5000));
	CHECK(lseek(src, 0, SEEK_CUR));
	CHECK(sendfile(dst, src, NULL, 5000));
	char back[6000];
	CHECK(pread(dst, back, sizeof back, 0));
	printf("dst ok: %d %d\n", memcmp(back, data + 100, 5000) == 0, memcmp(back + 5000, data + 9000, 1000) == 0);
	int p[2];
	pipe(p);
	off = 0;
	CHECK(sendfile(p[1], src, &off, 26));
	char pb[32] = {0};
	CHECK(read(p[0], pb, 26));
	printf("pipe got %s\n", pb);
	CHECK(sendfile(dst, p[0], NULL, 10));
	CHECK(sendfile(999, src, NULL, 10));
	off = -1;
	CHECK(sendfile(dst, src, &off, 10));
	int ro = open("src", O_RDONLY);
	CHECK(sendfile(ro, src, NULL, 10));
	int cp = open("cp", O_RDWR | O_CREAT, 0644);
	loff_t in = 26, out = 0;
	CHECK(copy_file_range(src, &in, cp, &out, 52, 0));
	printf("in %ld out %ld\n", (long)in, (long)out);
	CHECK(copy_file_range(src, NULL, cp, NULL, 100, 0));
	CHECK(lseek(cp, 0, SEEK_CUR));
	CHECK(copy_file_range(src, NULL, cp, NULL, 100, 1));
	CHECK(copy_file_range(p[0], NULL, cp, NULL, 100, 0));
	CHECK(copy_file_range(src, NULL, ro, NULL, 100, 0));
	struct stat st;
	fstat(cp, &st);
	printf("cp size %ld\n", (long)st.st_size);
	char cb[152];
	CHECK(pread(cp, cb, sizeof cb, 0));
	printf("cp ok: %d\n", memcmp(cb, data + 26, 52) == 0);
	in = 0; out = 10;
	CHECK(copy_file_range(src, &in, src, &out, 20, 0));
	CHECK(copy_file_range(src, &in, cp, &out, 0, 0));
	in = 20000;
	CHECK(copy_file_range(src, &in, cp, &out, 10, 0));
	return 0;
}
