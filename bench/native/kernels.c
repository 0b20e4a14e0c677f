/*
 * Native reference for bench/kernels.mjs: the same in-place reductions
 * (dst[i] = dst[i] op src[i]) that the Wasm kernels do, compiled with
 * gcc -O3 -march=native. Prints one JSON line per (op, type, size):
 *   {"bench":"kernel","op":"SUM","type":"f64","bytes":4096,"impl":"c","gb_s":...}
 * gb_s counts one operand's bytes per second (memory traffic is 3x that).
 *
 * usage: kernels [min_ms] [batch_ms] [bytes...]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The impl name in the output: bench/kernels.mjs builds this file twice. */
#ifndef IMPL
#define IMPL "c"
#endif

#define KERNEL(name, T, expr)                                                  \
  __attribute__((noinline)) static void name(T *restrict d,                    \
                                             const T *restrict s, size_t n) { \
    for (size_t i = 0; i < n; i++) {                                           \
      T a = d[i], b = s[i];                                                    \
      d[i] = (expr);                                                           \
    }                                                                          \
  }

KERNEL(sum_f64, double, a + b)
KERNEL(sum_f32, float, a + b)
KERNEL(sum_i32, int32_t, (int32_t)((uint32_t)a + (uint32_t)b))
KERNEL(max_f64, double, a > b ? a : b)
KERNEL(max_f32, float, a > b ? a : b)
KERNEL(max_i32, int32_t, a > b ? a : b)

typedef void (*kernel_fn)(void *restrict, const void *restrict, size_t);

struct bench {
  const char *op, *type;
  size_t elem;
  kernel_fn fn;
};

static const struct bench BENCHES[] = {
    {"SUM", "f64", 8, (kernel_fn)sum_f64}, {"SUM", "f32", 4, (kernel_fn)sum_f32},
    {"SUM", "i32", 4, (kernel_fn)sum_i32}, {"MAX", "f64", 8, (kernel_fn)max_f64},
    {"MAX", "f32", 4, (kernel_fn)max_f32}, {"MAX", "i32", 4, (kernel_fn)max_i32},
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds for `batch` calls. The barrier keeps the compiler from merging calls. */
static double run_batch(const struct bench *b, void *d, void *s, size_t n, size_t batch) {
  double t0 = now_s();
  for (size_t i = 0; i < batch; i++) {
    b->fn(d, s, n);
    __asm__ volatile("" ::: "memory");
  }
  return now_s() - t0;
}

static void fill(const struct bench *b, void *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    unsigned v = (unsigned)(i * 2654435761u + seed) % 1000u;
    if (b->type[0] == 'f' && b->elem == 8) ((double *)p)[i] = 0.5 + v * 1e-3;
    else if (b->type[0] == 'f') ((float *)p)[i] = 0.5f + (float)v * 1e-3f;
    else ((int32_t *)p)[i] = (int32_t)v - 500;
  }
}

int main(int argc, char **argv) {
  double min_s = (argc > 1 ? atof(argv[1]) : 200.0) / 1000.0;
  double batch_s = (argc > 2 ? atof(argv[2]) : 0.25) / 1000.0;
  size_t default_sizes[] = {4096, 65536, 1 << 20, 16 << 20};
  size_t nsizes = argc > 3 ? (size_t)(argc - 3) : 4;
  for (size_t k = 0; k < sizeof BENCHES / sizeof BENCHES[0]; k++) {
    const struct bench *b = &BENCHES[k];
    for (size_t z = 0; z < nsizes; z++) {
      size_t bytes = argc > 3 ? strtoull(argv[z + 3], NULL, 10) : default_sizes[z];
      size_t n = bytes / b->elem;
      void *d = aligned_alloc(64, bytes), *s = aligned_alloc(64, bytes);
      if (!d || !s) return 1;
      fill(b, d, n, 1);
      fill(b, s, n, 7);
      for (int w = 0; w < 5; w++) b->fn(d, s, n);
      // Timed like bench/kernels.mjs: the best of many short batches (each
      // at least batch_s) over min_s, so both sides see load the same way.
      size_t batch = 1;
      double t;
      while ((t = run_batch(b, d, s, n, batch)) < batch_s) batch *= t < batch_s / 10 ? 10 : 2;
      double best = t / (double)batch;
      for (double end = now_s() + min_s; now_s() < end;) {
        double x = run_batch(b, d, s, n, batch) / (double)batch;
        if (x < best) best = x;
      }
      printf("{\"bench\":\"kernel\",\"op\":\"%s\",\"type\":\"%s\",\"bytes\":%zu,"
             "\"impl\":\"%s\",\"gb_s\":%.2f}\n",
             b->op, b->type, bytes, IMPL, (double)bytes / best / 1e9);
      free(d);
      free(s);
    }
  }
  return 0;
}
