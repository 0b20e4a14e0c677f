/* Open MPI barrier: the native reference for bench/barrier.mjs (same plan,
 * timing and output). Barriers run back to back (osu_barrier); a sample is
 * the slowest rank's time for one call (MPI_Reduce MAX over per-rank samples).
 * The SIZE arguments are ignored (one line, bytes 0).
 *   mpicc -O2 -o barrier barrier.c -lm
 *   mpirun --allow-run-as-root --oversubscribe -np 4 --mca pml ob1 --mca btl tcp,self \
 *     ./barrier 1000 100 100 200000 4000 0
 */
#include <mpi.h>
#include "coll-plan.h"

static void barrier(void *ctx) {
  (void)ctx;
  MPI_Barrier(MPI_COMM_WORLD);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  plan_t p = {0};
  if (plan_parse(&p, argc, argv) != 0) MPI_Abort(MPI_COMM_WORLD, 2);
  double *samples;
  long iters = coll_time(&p, 5, barrier, NULL, NULL, &samples);
  coll_emit("barrier", 0, iters, samples, "");
  MPI_Finalize();
  return 0;
}
