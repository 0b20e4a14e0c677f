/* The measurement loop of the collective baselines (allreduce.c, bcast.c,
 * barrier.c): the plan of bench/lib/common.mjs, run by every rank together.
 * Rank 0 doubles the batch until the warm-up is over (warm_over), then sizes one
 * measured batch (it tells the others with a small MPI_Bcast); every rank
 * times each call of that batch. A sample is the slowest rank's time for one
 * call (MPI_Reduce MAX over the per-rank samples).
 */
#ifndef FMI_BENCH_COLL_PLAN_H
#define FMI_BENCH_COLL_PLAN_H

#include <mpi.h>
#include "common.h"

typedef void (*coll_call)(void *ctx);

/* Times `call` under the plan; `between` (or NULL) runs untimed after each
 * call. `warmups`: how many warm-up periods (5 for a job's first size, as in
 * common.mjs). Returns the measured batch's length; *samples (seconds per
 * call, this rank) is malloc'd. */
static long coll_time(const plan_t *p, double warmups, coll_call call, coll_call between, void *ctx, double **samples) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  double *s = NULL;
  long cmd[2] = {1, 0};
  long n = 1;
  warm_t warm = {0};
  for (;;) {
    if (rank == 0) { cmd[0] = n; cmd[1] = s != NULL; }
    MPI_Bcast(cmd, 2, MPI_LONG, 0, MPI_COMM_WORLD);
    long count = cmd[0];
    int measured = cmd[1] == 1;
    if (measured && s == NULL) s = malloc(sizeof(double) * (size_t)count);
    double t0 = MPI_Wtime();
    for (long i = 0; i < count; i++) {
      double a = MPI_Wtime();
      call(ctx);
      if (measured) s[i] = MPI_Wtime() - a;
      if (between) between(ctx);
    }
    double dt = (MPI_Wtime() - t0) * 1e3;
    if (measured) {
      *samples = s;
      return count;
    }
    if (rank == 0) {
      if (warm_over(p, &warm, warmups, dt, n)) {
        n = iters_for(p, dt / (double)n);
        s = malloc(sizeof(double) * (size_t)n);
      } else n *= 2;
    }
  }
}

/* Prints, at rank 0, the line of the slowest rank's time per call; frees `samples`. */
static void coll_emit(const char *bench, long bytes, long iters, double *samples, const char *variant) {
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  double *slowest = rank == 0 ? malloc(sizeof(double) * (size_t)iters) : NULL;
  MPI_Reduce(samples, slowest, (int)iters, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank == 0) emit(bench, size, bytes, iters, slowest, 1.0, variant);
  free(samples);
  free(slowest);
}

#endif
