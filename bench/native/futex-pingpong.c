/* The floor of a wake-up without polling: one word ping-ponged between two
 * C threads, each waiting in a raw futex (bench/shm-wake.mjs's `futex-c`
 * row, beside the JavaScript mechanisms). With `spin`, each polls the word
 * instead and nobody calls futex (the `spin-c` row: the floor of a spinning
 * ping-pong, a cache line each way). Prints one line:
 *   P50_US P99_US CPU_US_PER_RT NOTIFY_US
 * Usage: futex-pingpong ROUNDS [spin]
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ping's counter and pong's, a cache line apart, as in shm-wake.mjs. */
static _Atomic int words[32];
static long rounds, warm;
static int spin;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void wait_for(_Atomic int *w, int v) {
  int seen;
  if (spin) {
    while (atomic_load(w) != v);
    return;
  }
  while ((seen = atomic_load(w)) != v) syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

static double post(_Atomic int *w, int v) {
  atomic_store(w, v);
  if (spin) return 0;
  double t0 = now_us();
  syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  return now_us() - t0;
}

static void *pong(void *arg) {
  (void)arg;
  for (int i = 1; i <= rounds + warm; i++) {
    wait_for(&words[0], i);
    post(&words[16], i);
  }
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  rounds = argc > 1 ? atol(argv[1]) : 20000;
  spin = argc > 2 && strcmp(argv[2], "spin") == 0;
  warm = rounds < 2000 ? rounds : 2000;
  double *rt = malloc(sizeof(double) * rounds), *notify = malloc(sizeof(double) * rounds);
  struct rusage r0, r1;
  pthread_t t;
  getrusage(RUSAGE_SELF, &r0);
  pthread_create(&t, NULL, pong, NULL);
  for (int i = 1; i <= rounds + warm; i++) {
    double t0 = now_us(), n = post(&words[0], i);
    wait_for(&words[16], i);
    if (i > warm) {
      rt[i - warm - 1] = now_us() - t0;
      notify[i - warm - 1] = n;
    }
  }
  pthread_join(t, NULL);
  getrusage(RUSAGE_SELF, &r1);
  double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 +
               (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
  qsort(rt, rounds, sizeof(double), cmp);
  qsort(notify, rounds, sizeof(double), cmp);
  printf("%.2f %.2f %.2f %.2f\n", rt[rounds / 2] / 2, rt[rounds * 99 / 100] / 2, cpu / (rounds + warm), notify[rounds / 2]);
  return 0;
}
