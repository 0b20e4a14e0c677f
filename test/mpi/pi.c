/* Pi by integrating 4/(1+x^2) over [0,1]: rank 0 broadcasts the number of
 * intervals, each rank sums its share, MPI_Reduce adds them up. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int rank, size, n = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) n = argc > 1 ? atoi(argv[1]) : 1000000;
  double t0 = MPI_Wtime();
  MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
  double h = 1.0 / n, sum = 0.0;
  for (int i = rank + 1; i <= n; i += size) {
    double x = h * (i - 0.5);
    sum += 4.0 / (1.0 + x * x);
  }
  double mine = h * sum, pi = 0.0;
  MPI_Reduce(&mine, &pi, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    double err = fabs(pi - 3.141592653589793238462643);
    printf("pi is approximately %.16f, error %.3e (%d intervals, %.3f s)\n", pi, err, n, MPI_Wtime() - t0);
    if (err < 1e-9) printf("PASS pi on %d ranks\n", size);
    else printf("FAIL pi: error %.3e\n", err);
  }
  MPI_Finalize();
  return 0;
}
