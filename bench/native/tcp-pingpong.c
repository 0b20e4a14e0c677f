/* Ping-pong over one loopback TCP connection in C, blocking read and write,
 * no polling: the floor of a ping-pong that sleeps in the kernel while it
 * waits, which is what fmi and Node's sockets do and Open MPI's blocking
 * calls do not (they spin, see bench/pingpong-cpu.mjs). The same plan,
 * warm-up, timing and output as pingpong.c; rows `c-socket` in bench/run.mjs.
 *   cc -O2 -o tcp-pingpong tcp-pingpong.c -lm
 *   ./tcp-pingpong 1000 100 100 200000 4000 8 1024
 * Two processes (fork): rank 0 sends and reads the echo, rank 1 echoes.
 * TCP_NODELAY on both ends, as fmi's direct channel sets it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void put(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k <= 0) die("tcp-pingpong: write");
    p += k;
    n -= (size_t)k;
  }
}

static void get(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t k = read(fd, p, n);
    if (k <= 0) die("tcp-pingpong: read");
    p += k;
    n -= (size_t)k;
  }
}

static void no_delay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("tcp-pingpong: TCP_NODELAY");
}

/* Rank 1: echoes each size's rounds as rank 0 announces them (count, then bytes; count 0 ends). */
static void echo(int fd, unsigned char *buf) {
  for (;;) {
    long cmd[2];
    get(fd, cmd, sizeof cmd);
    if (cmd[0] == 0) return;
    for (long i = 0; i < cmd[0]; i++) {
      get(fd, buf, (size_t)cmd[1]);
      put(fd, buf, (size_t)cmd[1]);
    }
  }
}

int main(int argc, char **argv) {
  plan_t p = {0};
  if (plan_parse(&p, argc, argv) != 0) return 2;
  bench_impl = "c-socket";
  bench_channel = "tcp";
  long max = plan_max_size(&p);
  unsigned char *sbuf = malloc((size_t)max), *rbuf = malloc((size_t)max);
  for (long i = 0; i < max; i++) sbuf[i] = (unsigned char)(i * 31 + 7);
  memset(rbuf, 0, (size_t)max);

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
  socklen_t alen = sizeof a;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1) != 0 ||
      getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
    die("tcp-pingpong: listen");
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) die("tcp-pingpong: fork");
  if (child == 0) {
    close(lfd);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("tcp-pingpong: connect");
    no_delay(fd);
    echo(fd, rbuf);
    _exit(0);
  }
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0) die("tcp-pingpong: accept");
  close(lfd);
  no_delay(fd);

  for (int s = 0; s < p.nsizes; s++) {
    long bytes = p.sizes[s];
    double *samples = NULL;
    long n = 1;
    warm_t warm = {0};
    for (;;) {
      long count = n, cmd[2] = {count, bytes};
      put(fd, cmd, sizeof cmd);
      double t0 = now_s();
      for (long i = 0; i < count; i++) {
        double t = now_s();
        put(fd, sbuf, (size_t)bytes);
        get(fd, rbuf, (size_t)bytes);
        if (samples != NULL) samples[i] = now_s() - t;
      }
      double dt = (now_s() - t0) * 1e3;
      if (samples != NULL) {
        if (memcmp(sbuf, rbuf, (size_t)bytes) != 0) {
          fprintf(stderr, "tcp-pingpong: bad echo at %ld bytes\n", bytes);
          kill(child, SIGTERM);
          return 1;
        }
        emit("pingpong", 2, bytes, count, samples, 0.5, "u8");
        break;
      }
      if (warm_over(&p, &warm, s == 0 ? 5 : 1, dt, n)) {
        n = iters_for(&p, dt / (double)n);
        samples = malloc(sizeof(double) * (size_t)n);
      } else n *= 2;
    }
    free(samples);
  }
  long done[2] = {0, 0};
  put(fd, done, sizeof done);
  int status = 0;
  waitpid(child, &status, 0);
  free(sbuf);
  free(rbuf);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
