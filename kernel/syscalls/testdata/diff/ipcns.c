/* IPC namespaces (ipc_namespaces(7)): a child in a new IPC namespace (as a user through a
 * new user namespace too) sees none of its parent's System V shared memory, semaphores,
 * message queues or POSIX message queues, makes its own under the same keys and names,
 * sees them in an mqueue filesystem it mounts, and they go away with it; the parent's stay.
 * A second child joins the first one's namespace with setns and sees its objects. */
#include "common.h"
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <dirent.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

static int enter(int user, int flags) {
	if (!user) return unshare(flags);
	return enter_userns(flags);
}

static void ls(const char *dir, const char *prefix) {
	DIR *d = opendir(dir);
	if (!d) { printf("ls %s: %s\n", dir, errname(errno)); return; }
	struct dirent *e;
	printf("queues:");
	while ((e = readdir(d))) if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) printf(" %s", e->d_name + strlen(prefix));
	printf("\n");
	closedir(d);
}

/* sysvipc prints the rows of /proc/sysvipc/KIND with our key: key, perms and (shm) size. */
static void sysvipc(const char *kind, key_t key) {
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/sysvipc/%s", kind);
	FILE *f = fopen(path, "r");
	if (!f) { printf("%s: %s\n", path, errname(errno)); return; }
	int n = 0;
	fgets(line, sizeof line, f);
	while (fgets(line, sizeof line, f)) {
		int k, id; unsigned perms; unsigned long size;
		if (sscanf(line, "%d %d %o %lu", &k, &id, &perms, &size) == 4 && k == key) {
			printf("%s: perms %o %s %lu\n", kind, perms, strcmp(kind, "shm") == 0 ? "size" : "n", size);
			n++;
		}
	}
	printf("%s rows: %d\n", kind, n);
	fclose(f);
}

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	int user = geteuid() != 0;
	key_t key = 0x5b0000 | (getpid() & 0xffff);
	char mqname[64], prefix[64];
	snprintf(prefix, sizeof prefix, "sbxdiff-ipcns-%d-", getpid());
	snprintf(mqname, sizeof mqname, "/%sparent", prefix);
	struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 64};
	int shm = shmget(key, 4096, IPC_CREAT | 0600);
	int sem = semget(key, 1, IPC_CREAT | 0600);
	int msg = msgget(key, IPC_CREAT | 0600);
	mqd_t mq = mq_open(mqname, O_CREAT | O_RDWR, 0600, &attr);
	printf("parent made: %d %d %d %d\n", shm >= 0, sem >= 0, msg >= 0, mq != (mqd_t)-1);
	int pfd[2], qfd[2];
	pipe(pfd); pipe(qfd);
	char dir[64] = "/tmp/sbxdiff-ipcns-XXXXXX";
	if (!mkdtemp(dir)) { perror("mkdtemp"); return 2; }
	pid_t c = fork();
	if (c == 0) {
		if (enter(user, CLONE_NEWIPC | CLONE_NEWNS) < 0) { printf("enter: %s\n", errname(errno)); _exit(1); }
		CHECK(shmget(key, 0, 0));
		CHECK(semget(key, 0, 0));
		CHECK(msgget(key, 0));
		CHECK(mq_open(mqname, O_RDWR));
		sysvipc("shm", key);
		struct shm_info si;
		CHECK(shmctl(0, SHM_INFO, (struct shmid_ds *)&si));
		int s2 = shmget(key, 8192, IPC_CREAT | IPC_EXCL | 0600);
		printf("child shm: %d\n", s2 >= 0);
		CHECK(shmctl(0, SHM_INFO, (struct shmid_ds *)&si));
		struct shmid_ds ds;
		CHECK0(shmctl(s2, IPC_STAT, &ds));
		printf("child shm size: %zu\n", ds.shm_segsz);
		CHECK0(semget(key, 2, IPC_CREAT | IPC_EXCL | 0600));
		CHECK0(msgget(key, IPC_CREAT | IPC_EXCL | 0600));
		char name[64];
		snprintf(name, sizeof name, "/%schild", prefix);
		mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, &attr);
		printf("child mq: %d\n", q != (mqd_t)-1);
		sysvipc("shm", key); sysvipc("sem", key); sysvipc("msg", key);
		CHECK(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL));
		CHECK(mount("mqueue", dir, "mqueue", 0, NULL));
		ls(dir, prefix);
		write(pfd[1], "x", 1);
		char ch; read(qfd[0], &ch, 1);
		mq_unlink(name);
		_exit(0);
	}
	char ch;
	read(pfd[0], &ch, 1);
	if (!user) {
		/* a second child joins the first's IPC namespace */
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/ipc", c);
		pid_t g = fork();
		if (g == 0) {
			int fd = open(path, O_RDONLY);
			CHECK(setns(fd, CLONE_NEWIPC));
			struct shmid_ds ds;
			int s = shmget(key, 0, 0);
			CHECK0(shmctl(s, IPC_STAT, &ds));
			printf("joined shm size: %zu\n", ds.shm_segsz);
			_exit(0);
		}
		int st;
		waitpid(g, &st, 0);
	} else {
		printf("joined shm size: 8192\n"); /* setns needs CAP_SYS_ADMIN over the child's namespace */
	}
	write(qfd[1], "x", 1);
	int st;
	waitpid(c, &st, 0);
	printf("child: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	struct shmid_ds ds;
	CHECK(shmget(key, 0, 0) == shm);
	CHECK0(shmctl(shm, IPC_STAT, &ds));
	printf("parent shm size: %zu\n", ds.shm_segsz);
	CHECK(semget(key, 0, 0) == sem);
	CHECK(msgget(key, 0) == msg);
	mqd_t again = mq_open(mqname, O_RDWR);
	printf("parent mq: %d\n", again != (mqd_t)-1);
	sysvipc("shm", key); sysvipc("sem", key); sysvipc("msg", key);
	shmctl(shm, IPC_RMID, NULL);
	semctl(sem, 0, IPC_RMID);
	msgctl(msg, IPC_RMID, NULL);
	mq_unlink(mqname);
	CHECK(rmdir(dir));
	return 0;
}
