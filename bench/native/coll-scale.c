/* Open MPI's side of bench/coll-scale.mjs: BLOCKS blocks of CALLS calls of
 * MPI_Allreduce (SUM, doubles) or MPI_Barrier back to back; per block the
 * CPU (user + system) and the voluntary and involuntary context switches of
 * every rank (getrusage, all threads), summed over the ranks per call, and
 * rank 0's wall time and own CPU per call. Same output as coll-scale.mjs.
 *   mpicc -O2 -o /tmp/coll-scale bench/native/coll-scale.c
 *   mpirun --allow-run-as-root --oversubscribe -np 16 --mca pml ob1 --mca btl tcp,self \
 *     /tmp/coll-scale allreduce 1024 200 20
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double cpu_us(const struct rusage *u) {
  return (double)(u->ru_utime.tv_sec + u->ru_stime.tv_sec) * 1e6 + (double)(u->ru_utime.tv_usec + u->ru_stime.tv_usec);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 5) {
    if (rank == 0) fprintf(stderr, "usage: coll-scale allreduce|barrier BYTES CALLS BLOCKS\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  int barrier = strcmp(argv[1], "barrier") == 0;
  long bytes = atol(argv[2]), calls = atol(argv[3]), blocks = atol(argv[4]);
  int n = (int)(bytes / 8 > 0 ? bytes / 8 : 1);
  double *in = malloc(sizeof(double) * (size_t)n), *out = malloc(sizeof(double) * (size_t)n);
  for (int i = 0; i < n; i++) in[i] = rank + 1;
  enum { W = 6 }; /* per block: cpu, voluntary, involuntary, then rank 0's wall, seconds since start, own cpu */
  double *per = calloc((size_t)(W * blocks), sizeof(double)), *sums = calloc((size_t)(W * blocks), sizeof(double));
  MPI_Barrier(MPI_COMM_WORLD);
  double start = MPI_Wtime();
  for (long b = 0; b < blocks; b++) {
    struct rusage u0, u1;
    getrusage(RUSAGE_SELF, &u0);
    double t0 = MPI_Wtime();
    for (long i = 0; i < calls; i++) {
      if (barrier) MPI_Barrier(MPI_COMM_WORLD);
      else MPI_Allreduce(in, out, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    }
    double t1 = MPI_Wtime();
    getrusage(RUSAGE_SELF, &u1);
    double *p = per + W * b;
    p[0] = cpu_us(&u1) - cpu_us(&u0);
    p[1] = (double)(u1.ru_nvcsw - u0.ru_nvcsw);
    p[2] = (double)(u1.ru_nivcsw - u0.ru_nivcsw);
    if (rank == 0) {
      p[3] = (t1 - t0) * 1e6;
      p[4] = t1 - start;
      p[5] = p[0];
    }
  }
  MPI_Reduce(per, sums, (int)(W * blocks), MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    if (barrier) printf("barrier on");
    else printf("allreduce %ld B on", bytes);
    printf(" %d ranks (Open MPI), blocks of %ld calls; per call: wall (rank 0), CPU and context switches summed over the ranks\n", size, calls);
    printf("block\tcalls\ts\twall_us\tcpu_us\tvol\tinvol\troot_cpu_us\n");
    for (long b = 0; b < blocks; b++) {
      double *s = sums + W * b, c = (double)calls;
      printf("%ld\t%ld\t%.2f\t%.0f\t%.0f\t%.1f\t%.1f\t%.0f\n", b + 1, (b + 1) * calls, s[4], s[3] / c, s[0] / c, s[1] / c, s[2] / c, s[5] / c);
    }
  }
  free(in);
  free(out);
  free(per);
  free(sums);
  MPI_Finalize();
  return 0;
}
