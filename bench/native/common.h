/* Shared by the Open MPI baselines: the same iteration plan, percentiles and
 * JSON lines as bench/lib/common.mjs, so the rows compare one to one.
 *
 * Command line (set by bench/run.mjs):
 *   prog TARGET_MS WARMUP_MS MIN_ITERS MAX_ITERS CAP_MS SIZE...
 */
#ifndef FMI_BENCH_COMMON_H
#define FMI_BENCH_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  double target_ms, warmup_ms, cap_ms;
  long min_iters, max_iters;
  int nsizes;
  long *sizes;
} plan_t;

static int plan_parse(plan_t *p, int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s TARGET_MS WARMUP_MS MIN_ITERS MAX_ITERS CAP_MS SIZE...\n", argv[0]);
    return -1;
  }
  p->target_ms = atof(argv[1]);
  p->warmup_ms = atof(argv[2]);
  p->min_iters = atol(argv[3]);
  p->max_iters = atol(argv[4]);
  p->cap_ms = atof(argv[5]);
  p->nsizes = argc - 6;
  p->sizes = malloc(sizeof(long) * (size_t)p->nsizes);
  for (int i = 0; i < p->nsizes; i++) p->sizes[i] = atol(argv[6 + i]);
  return 0;
}

static long plan_max_size(const plan_t *p) {
  long m = 1;
  for (int i = 0; i < p->nsizes; i++) if (p->sizes[i] > m) m = p->sizes[i];
  return m;
}

/* Same rule as itersFor() in bench/lib/common.mjs (the first size warms up 5x longer, as there). */
static long iters_for(const plan_t *p, double per_ms) {
  if (per_ms < 1e-6) per_ms = 1e-6;
  long want = (long)ceil(p->target_ms / per_ms);
  long capped = (long)floor(p->cap_ms / per_ms);
  long n = want > p->min_iters ? want : p->min_iters;
  if (n > p->max_iters) n = p->max_iters;
  if (capped < 3) capped = 3;
  if (n > capped) n = capped;
  return n < 3 ? 3 : n;
}

/* The warm-up rule of warmUpPlan() in bench/lib/common.mjs: never before
 * `warmups` warm-up periods; with FMI_BENCH_WARMUP=fixed right then; by
 * default (steady) not before FMI_BENCH_WARMUP_CALLS (4000) calls of the
 * first size (warmups > 1), then once two batches of at least 20 ms in a
 * row ran no 10 % faster per call than the best before them, or at 20
 * times the minimum. */
typedef struct {
  double spent_ms, best;
  long calls;
  int flat;
} warm_t;

static double last_warmup_ms = -1; /* the last finished warm-up, for emit() */

static int warm_over(const plan_t *p, warm_t *w, double warmups, double dt, long n) {
  if (w->best == 0) w->best = INFINITY;
  w->spent_ms += dt;
  w->calls += n;
  if (dt >= 20) {
    w->flat = dt / (double)n < w->best * 0.9 ? 0 : w->flat + 1;
    if (dt / (double)n < w->best) w->best = dt / (double)n;
  }
  double min = warmups * p->warmup_ms;
  if (w->spent_ms < min || n < 4) return 0;
  const char *mode = getenv("FMI_BENCH_WARMUP");
  int fixed = mode != NULL && strcmp(mode, "fixed") == 0;
  const char *c = getenv("FMI_BENCH_WARMUP_CALLS");
  const char *q = getenv("FMI_BENCH_QUICK"); /* as QUICK in common.mjs: no least count */
  int quick = q != NULL && *q && strcmp(q, "0") != 0 && strcmp(q, "false") != 0;
  long min_calls = c != NULL && *c ? atol(c) : quick ? 0 : 4000;
  int over = fixed || ((warmups <= 1 || w->calls >= min_calls) && (w->flat >= 2 || w->spent_ms >= 20 * min));
  if (over) last_warmup_ms = w->spent_ms;
  return over;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted[0..n). */
static double percentile(const double *sorted, long n, double pct) {
  long i = (long)ceil(pct / 100.0 * (double)n) - 1;
  if (i < 0) i = 0;
  if (i > n - 1) i = n - 1;
  return sorted[i];
}

/* The row's names: Open MPI's programs keep these; tcp-pingpong.c sets its own. */
static const char *bench_impl = "openmpi-tcp";
static const char *bench_channel = "tcp";

static double round3(double x) { return round(x * 1000.0) / 1000.0; }

/* Sorts samples (seconds) in place and prints one result line; scale 0.5 for round trip / 2. */
static void emit(const char *bench, int ranks, long bytes, long iters, double *samples, double scale, const char *variant) {
  qsort(samples, (size_t)iters, sizeof(double), cmp_double);
  double p50 = round3(percentile(samples, iters, 50) * 1e6 * scale);
  double p99 = round3(percentile(samples, iters, 99) * 1e6 * scale);
  printf("{\"bench\":\"%s\",\"impl\":\"%s\",\"channel\":\"%s\",\"ranks\":%d,\"bytes\":%ld,\"iters\":%ld,"
         "\"p50_us\":%.3f,\"p99_us\":%.3f,\"mb_s\":%.3f,\"variant\":\"%s\",\"warmup_ms\":%.0f}\n",
         bench, bench_impl, bench_channel, ranks, bytes, iters, p50, p99, round3((double)bytes / p50), variant, last_warmup_ms);
  fflush(stdout);
}

#endif
