/* 2000 one-byte reads through a pipe in one thread, then 1000 in each of 4 threads: glibc's
 * read in its single-threaded and its cancellable form. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *reads(void *arg) {
	long n = (long)arg, bad = 0;
	int p[2];
	if (pipe(p) != 0) return (void *)1;
	for (long i = 0; i < n; i++) {
		char c = (char)i, d = 0;
		if (write(p[1], &c, 1) != 1 || read(p[0], &d, 1) != 1 || d != c) bad++;
	}
	close(p[0]);
	close(p[1]);
	return (void *)bad;
}

int main(void) {
	long bad = (long)reads((void *)2000L);
	pthread_t t[4];
	for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, reads, (void *)1000L);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	printf("%ld bad\n", bad);
	return 0;
}
