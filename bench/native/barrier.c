/* Open MPI barrier: the native reference for bench/barrier.mjs (same plan,
 * timing and output). Barriers run back to back (osu_barrier); a sample is
 * the slowest rank's time for one call (MPI_Reduce MAX over per-rank samples).
 * The SIZE arguments are ignored (one line, bytes 0).
 *   mpicc -O2 -o barrier barrier.c -lm
 *   mpirun --allow-run-as-root --oversubscribe -np 4 --mca pml ob1 --mca btl tcp,self \
 *     ./barrier 1000 100 100 200000 4000 0
 */
#include <mpi.h>
#include "common.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  plan_t p = {0};
  if (plan_parse(&p, argc, argv) != 0) MPI_Abort(MPI_COMM_WORLD, 2);
  double *samples = NULL, *slowest = NULL;
  long cmd[2] = {1, 0};
  long n = 1, iters = 0;
  double spent = 0;
  for (;;) {
    if (rank == 0) { cmd[0] = n; cmd[1] = samples != NULL; }
    MPI_Bcast(cmd, 2, MPI_LONG, 0, MPI_COMM_WORLD);
    long count = cmd[0];
    int measured = cmd[1] == 1;
    if (measured && samples == NULL) samples = malloc(sizeof(double) * (size_t)count);
    double t0 = MPI_Wtime();
    for (long i = 0; i < count; i++) {
      double a = MPI_Wtime();
      MPI_Barrier(MPI_COMM_WORLD);
      if (measured) samples[i] = MPI_Wtime() - a;
    }
    double dt = (MPI_Wtime() - t0) * 1e3;
    if (measured) { iters = count; break; }
    if (rank == 0) {
      spent += dt;
      if (spent >= 5 * p.warmup_ms && n >= 4) {
        n = iters_for(&p, dt / (double)n);
        samples = malloc(sizeof(double) * (size_t)n);
      } else n *= 2;
    }
  }
  if (rank == 0) slowest = malloc(sizeof(double) * (size_t)iters);
  MPI_Reduce(samples, slowest, (int)iters, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank == 0) emit("barrier", size, 0, iters, slowest, 1.0, "");
  free(samples);
  free(slowest);
  MPI_Finalize();
  return 0;
}
