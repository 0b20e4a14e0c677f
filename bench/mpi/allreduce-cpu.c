/* The CPU time of N MPI_Allreduce calls (MPI_SUM over doubles), taken inside
 * each rank around the loop, so start-up and shutdown stay out: the C side
 * of bench/mpi/cpu.mjs (the TS side is bench/mpi/allreduce-n.mjs, the same
 * loop). 7 warm-up calls and a barrier, then N calls; rank 0 prints
 * {"cpu_us": CPU of the loop summed over ranks, "wall_us": the slowest
 * rank's loop}. Arguments: N BYTES. */
#include <emscripten.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

/* The process's CPU time (user + system), us: the rank is a Node process. */
EM_JS(double, cpu_us, (void), {
  const u = process.cpuUsage();
  return u.user + u.system;
});

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  long n = argc > 1 ? atol(argv[1]) : 1000;
  long len = argc > 2 ? atol(argv[2]) / 8 : 1;
  if (len < 1) len = 1;
  double *in = malloc(sizeof(double) * (size_t)len), *out = malloc(sizeof(double) * (size_t)len);
  for (long i = 0; i < len; i++) in[i] = rank + 1;
  for (int i = 0; i < 7; i++) MPI_Allreduce(in, out, (int)len, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  double c0 = cpu_us(), w0 = MPI_Wtime();
  for (long i = 0; i < n; i++) MPI_Allreduce(in, out, (int)len, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double mine[2] = {cpu_us() - c0, (MPI_Wtime() - w0) * 1e6}, cpu = 0, wall = 0;
  const double expected = size * (size + 1) / 2.0;
  if (out[0] != expected || out[len - 1] != expected) {
    fprintf(stderr, "allreduce: rank %d got %g..%g, expected %g\n", rank, out[0], out[len - 1], expected);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Reduce(&mine[0], &cpu, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  MPI_Reduce(&mine[1], &wall, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank == 0) printf("{\"cpu_us\":%.0f,\"wall_us\":%.0f}\n", cpu, wall);
  free(in);
  free(out);
  MPI_Finalize();
  return 0;
}
