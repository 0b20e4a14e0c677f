/* MPI_Reduce, MPI_Scan and MPI_Reduce_scatter_block of doubles (MPI_SUM):
 * best of 5 rounds of 100 calls, in microseconds per call of the slowest rank. For
 * before/after comparisons of fmi's MPI runtime, and against Open MPI:
 *   npx fmi cc -O2 bench/native/reductions.c -o /tmp/reductions.js
 *   npx fmi run -n 2 /tmp/reductions.js 131072      # 131072 doubles: 1 MiB
 *   mpicc -O2 -o /tmp/reductions bench/native/reductions.c
 *   mpirun --allow-run-as-root -np 2 --mca pml ob1 --mca btl tcp,self /tmp/reductions 131072
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int n = argc > 1 ? atoi(argv[1]) : 131072, iters = 100;
  double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
  for (int i = 0; i < n; i++) a[i] = i;
  const char *names[3] = {"Reduce", "Scan", "Reduce_scatter_block"};
  for (int k = 0; k < 3; k++) {
    double best = 1e9;
    for (int round = 0; round < 5; round++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      for (int i = 0; i < iters; i++) {
        if (k == 0) MPI_Reduce(a, b, n, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        else if (k == 1) MPI_Scan(a, b, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        else MPI_Reduce_scatter_block(a, b, n / size, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
      }
      double mine = (MPI_Wtime() - t0) / iters, t;
      /* The slowest rank's time: along a chain, rank 0 finishes long before the last. */
      MPI_Allreduce(&mine, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      if (t < best) best = t;
    }
    if (rank == 0) printf("%s %d bytes: %.1f us\n", names[k], n * 8, best * 1e6);
  }
  free(a), free(b);
  MPI_Finalize();
  return 0;
}
