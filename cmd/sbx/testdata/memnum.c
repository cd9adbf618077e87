/* Prints the memory numbers a program reads: MemTotal, sysinfo's totalram, and VmRSS,
 * RssAnon and smaps_rollup's Rss before and after touching 64 MiB (all in kB). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

static long field(const char *file, const char *name) {
	FILE *f = fopen(file, "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ':')
			v = atol(line + strlen(name) + 1);
	if (f)
		fclose(f);
	return v;
}

int main(void) {
	struct sysinfo si;
	sysinfo(&si);
	printf("MemTotal %ld\nsysinfo %lu\n", field("/proc/meminfo", "MemTotal"), si.totalram * si.mem_unit / 1024);
	printf("before VmRSS %ld RssAnon %ld\n", field("/proc/self/status", "VmRSS"), field("/proc/self/status", "RssAnon"));
	size_t len = 64 << 20;
	volatile char *p = malloc(len);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	printf("after VmRSS %ld RssAnon %ld Rss %ld\n", field("/proc/self/status", "VmRSS"), field("/proc/self/status", "RssAnon"),
		field("/proc/self/smaps_rollup", "Rss"));
	return p[0] != 1;
}
