#include "common.h"
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>

/* Synchronisation between processes through shared memory: process-shared mutexes and
 * condition variables, unnamed and named POSIX semaphores (all futexes on shared pages). */

struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready, counter;
	sem_t sem;
};

int main(void) {
	struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&s->mu, &ma);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_cond_init(&s->cv, &ca);
	CHECK(sem_init(&s->sem, 1, 0));
	pid_t kids[3];
	for (int k = 0; k < 3; k++) {
		if ((kids[k] = fork()) == 0) {
			pthread_mutex_lock(&s->mu);
			while (!s->ready)
				pthread_cond_wait(&s->cv, &s->mu);
			pthread_mutex_unlock(&s->mu);
			for (int i = 0; i < 1000; i++) {
				pthread_mutex_lock(&s->mu);
				s->counter++;
				pthread_mutex_unlock(&s->mu);
			}
			sem_post(&s->sem);
			_exit(0);
		}
	}
	usleep(50000);
	pthread_mutex_lock(&s->mu);
	s->ready = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int k = 0; k < 3; k++)
		CHECK(sem_wait(&s->sem));
	for (int k = 0; k < 3; k++)
		waitpid(kids[k], NULL, 0);
	printf("counter %d\n", s->counter);
	/* A named semaphore (a file in /dev/shm, mapped shared). */
	char name[64];
	snprintf(name, sizeof name, "/sbx-psync-%d", (int)getpid());
	sem_t *ns = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
	CHECK(ns != SEM_FAILED);
	pid_t c = fork();
	if (c == 0) {
		sem_t *cs = sem_open(name, 0);
		usleep(30000);
		sem_post(cs);
		_exit(0);
	}
	CHECK(sem_wait(ns));
	waitpid(c, NULL, 0);
	CHECK(sem_unlink(name));
	printf("named semaphore crossed processes\n");
	return 0;
}
