/* Open MPI broadcast from rank 0: the native reference for bench/bcast.mjs
 * (same sizes, plan, timing and output). Every rank times its MPI_Bcast, an
 * untimed MPI_Barrier separates the calls (osu_bcast); a sample is the
 * slowest rank's time for one call (MPI_Reduce MAX over per-rank samples).
 *   mpicc -O2 -o bcast bcast.c -lm
 *   mpirun --allow-run-as-root --oversubscribe -np 4 --mca pml ob1 --mca btl tcp,self \
 *     ./bcast 1000 100 100 200000 4000 1024 1048576
 */
#include <mpi.h>
#include <string.h>
#include "common.h"

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  plan_t p = {0};
  if (plan_parse(&p, argc, argv) != 0) MPI_Abort(MPI_COMM_WORLD, 2);
  long max = plan_max_size(&p);
  unsigned char *buf = malloc((size_t)max);

  for (int s = 0; s < p.nsizes; s++) {
    long bytes = p.sizes[s];
    for (long i = 0; i < bytes; i++) buf[i] = rank == 0 ? (unsigned char)((i * 31 + bytes) & 0xff) : 0;
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
        MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (measured) samples[i] = MPI_Wtime() - a;
        MPI_Barrier(MPI_COMM_WORLD);
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
    for (long i = 0; i < bytes; i++) {
      if (buf[i] != (unsigned char)((i * 31 + bytes) & 0xff)) {
        fprintf(stderr, "bcast: rank %d got a wrong byte at %ld\n", rank, i);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
    }
    if (rank == 0) slowest = malloc(sizeof(double) * (size_t)iters);
    MPI_Reduce(samples, slowest, (int)iters, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) emit("bcast", size, bytes, iters, slowest, 1.0, "u8");
    free(samples);
    free(slowest);
  }
  free(buf);
  MPI_Finalize();
  return 0;
}
