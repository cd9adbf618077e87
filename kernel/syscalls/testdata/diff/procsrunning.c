/* /proc/stat's procs_running is the number of runnable threads (proc(5): "Number of
 * processes in runnable state"; Linux counts each thread, nr_running): with three
 * threads spinning and this one reading, it is at least 4. Natively the whole host's
 * threads count too, so the check is a lower bound. */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>

static atomic_int started, stop;

static void *spin(void *arg) {
	atomic_fetch_add(&started, 1);
	while (!atomic_load(&stop)) ;
	return NULL;
}

static long field(const char *name) {
	FILE *f = fopen("/proc/stat", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(name);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, name, n) == 0 && line[n] == ' ') v = atol(line + n + 1);
	if (f) fclose(f);
	return v;
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("procs_running >= 1 alone: %d\n", field("procs_running") >= 1);
	pthread_t th[3];
	for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, spin, NULL);
	while (atomic_load(&started) < 3) ;
	long r = field("procs_running");
	printf("procs_running >= 4 with three spinning threads: %d\n", r >= 4);
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
	return 0;
}
