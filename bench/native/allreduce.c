/* Open MPI allreduce (MPI_SUM over doubles): the native reference for
 * bench/allreduce.mjs (same sizes, plan, timing and output). A sample is the
 * slowest rank's time for one call (MPI_Reduce MAX over per-rank samples).
 *   mpicc -O2 -o allreduce allreduce.c -lm
 *   mpirun --allow-run-as-root --oversubscribe -np 4 --mca pml ob1 --mca btl tcp,self \
 *     ./allreduce 1000 100 100 200000 4000 1024 1048576
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
  long maxlen = plan_max_size(&p) / 8;
  if (maxlen < 1) maxlen = 1;
  double *in = malloc(sizeof(double) * (size_t)maxlen), *out = malloc(sizeof(double) * (size_t)maxlen);
  for (long i = 0; i < maxlen; i++) in[i] = rank + 1;
  const double expected = size * (size + 1) / 2.0;

  for (int s = 0; s < p.nsizes; s++) {
    int len = (int)(p.sizes[s] / 8);
    if (len < 1) len = 1;
    double *samples = NULL, *slowest = NULL;
    long cmd[2] = {1, 0};
    long n = 1;
    double spent = 0;
    long iters = 0;
    for (;;) {
      if (rank == 0) { cmd[0] = n; cmd[1] = samples != NULL; }
      MPI_Bcast(cmd, 2, MPI_LONG, 0, MPI_COMM_WORLD);
      long count = cmd[0];
      int measured = cmd[1] == 1;
      if (measured && samples == NULL) samples = malloc(sizeof(double) * (size_t)count);
      double t0 = MPI_Wtime();
      for (long i = 0; i < count; i++) {
        double a = MPI_Wtime();
        MPI_Allreduce(in, out, len, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (measured) samples[i] = MPI_Wtime() - a;
      }
      double dt = (MPI_Wtime() - t0) * 1e3;
      if (measured) { iters = count; break; }
      if (rank == 0) {
        spent += dt;
        if (spent >= (s == 0 ? 5 : 1) * p.warmup_ms && n >= 4) {
          n = iters_for(&p, dt / (double)n);
          samples = malloc(sizeof(double) * (size_t)n);
        } else n *= 2;
      }
    }
    if (out[0] != expected || out[len - 1] != expected) {
      fprintf(stderr, "allreduce: rank %d got %g..%g, expected %g\n", rank, out[0], out[len - 1], expected);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (rank == 0) slowest = malloc(sizeof(double) * (size_t)iters);
    MPI_Reduce(samples, slowest, (int)iters, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) emit("allreduce", size, (long)len * 8, iters, slowest, 1.0, "f64,sum");
    free(samples);
    free(slowest);
  }
  free(in);
  free(out);
  MPI_Finalize();
  return 0;
}
