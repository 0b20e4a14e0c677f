/* The C path's own cost per MPI call, without the network: one rank, each
 * call timed in a batch of N (best of ROUNDS batches, ns per call):
 *   rank      MPI_Comm_rank: an immediate call (JS and back, no suspension)
 *   barrier   MPI_Barrier(MPI_COMM_SELF): a blocking call whose promise
 *             settles at once: one Asyncify unwind and rewind, the dispatch
 *   allreduce MPI_Allreduce(MPI_COMM_SELF) of one double, MPI_SUM: the above
 *             plus the reduction glue (views, plan, result written in place)
 *   sendrecv  MPI_Sendrecv of one double to and from oneself on MPI_COMM_SELF:
 *             the point-to-point glue (the receive written into the program)
 * bench/mpi/glue.mjs builds it with fmi cc and runs it next to the same
 * calls through the TS API. Arguments: N ROUNDS. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static double best(int what, long n, int rounds) {
  double in = 1, out = 0, b = 1e30;
  int r;
  for (int k = 0; k < rounds; k++) {
    double t0 = MPI_Wtime();
    for (long i = 0; i < n; i++) {
      if (what == 0) MPI_Comm_rank(MPI_COMM_WORLD, &r);
      else if (what == 1) MPI_Barrier(MPI_COMM_SELF);
      else if (what == 2) MPI_Allreduce(&in, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_SELF);
      else MPI_Sendrecv(&in, 1, MPI_DOUBLE, 0, 0, &out, 1, MPI_DOUBLE, 0, 0, MPI_COMM_SELF, MPI_STATUS_IGNORE);
    }
    double dt = (MPI_Wtime() - t0) / (double)n;
    if (dt < b) b = dt;
  }
  return b * 1e9;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  long n = argc > 1 ? atol(argv[1]) : 20000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  const char *names[] = {"rank", "barrier", "allreduce", "sendrecv"};
  for (int w = 0; w < 4; w++) printf("{\"call\":\"%s\",\"impl\":\"fmi-cc\",\"ns\":%.0f}\n", names[w], best(w, n, rounds));
  MPI_Finalize();
  return 0;
}
