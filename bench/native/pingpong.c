/* Open MPI ping-pong between ranks 0 and 1: the native reference for
 * bench/pingpong.mjs (same sizes, plan, timing and output).
 *   mpicc -O2 -o pingpong pingpong.c -lm
 *   mpirun --allow-run-as-root --oversubscribe -np 2 --mca pml ob1 --mca btl tcp,self \
 *     ./pingpong 1000 100 100 200000 4000 8 64 1024
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
  if (plan_parse(&p, argc, argv) != 0 || size != 2) {
    if (rank == 0 && size != 2) fprintf(stderr, "pingpong: needs exactly 2 ranks, got %d\n", size);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  long max = plan_max_size(&p);
  unsigned char *sbuf = malloc((size_t)max), *rbuf = malloc((size_t)max);
  for (long i = 0; i < max; i++) sbuf[i] = (unsigned char)(i * 31 + 7);
  memset(rbuf, 0, (size_t)max);
  const int tag = 2;

  for (int s = 0; s < p.nsizes; s++) {
    int bytes = (int)p.sizes[s];
    double *samples = NULL;
    long cmd[2] = {1, 0}; /* iterations, measured? */
    long n = 1;
    warm_t warm = {0};
    for (;;) {
      if (rank == 0) { cmd[0] = n; cmd[1] = samples != NULL; }
      MPI_Bcast(cmd, 2, MPI_LONG, 0, MPI_COMM_WORLD);
      long count = cmd[0];
      int measured = cmd[1] == 1;
      if (measured && samples == NULL) samples = malloc(sizeof(double) * (size_t)count);
      double t0 = MPI_Wtime();
      for (long i = 0; i < count; i++) {
        double a = MPI_Wtime();
        if (rank == 0) {
          MPI_Send(sbuf, bytes, MPI_BYTE, 1, tag, MPI_COMM_WORLD);
          MPI_Recv(rbuf, bytes, MPI_BYTE, 1, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
          MPI_Recv(rbuf, bytes, MPI_BYTE, 0, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
          MPI_Send(rbuf, bytes, MPI_BYTE, 0, tag, MPI_COMM_WORLD);
        }
        if (measured) samples[i] = MPI_Wtime() - a;
      }
      double dt = (MPI_Wtime() - t0) * 1e3;
      if (measured) {
        if (rank == 0) {
          if (memcmp(sbuf, rbuf, (size_t)bytes) != 0) {
            fprintf(stderr, "pingpong: bad echo at %d bytes\n", bytes);
            MPI_Abort(MPI_COMM_WORLD, 1);
          }
          emit("pingpong", size, bytes, count, samples, 0.5, "u8");
        }
        break;
      }
      if (rank == 0) {
        if (warm_over(&p, &warm, s == 0 ? 5 : 1, dt, n)) {
          n = iters_for(&p, dt / (double)n);
          samples = malloc(sizeof(double) * (size_t)n);
        } else n *= 2;
      }
    }
    free(samples);
  }
  free(sbuf);
  free(rbuf);
  MPI_Finalize();
  return 0;
}
