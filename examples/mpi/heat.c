/* Heat diffusion on an N x N plate (top edge held at 1, the other edges at
 * 0) by Jacobi iteration, on a 2-D Cartesian grid of ranks. Each step swaps
 * halos with the four neighbors in one MPI_Neighbor_alltoallw (rows are
 * contiguous, columns a vector datatype) and agrees on convergence with
 * MPI_Allreduce. The result does not depend on the number of ranks.
 *   npx fmi cc -O2 examples/mpi/heat.c -o heat.js
 *   npx fmi run -n 4 heat.js [N] [tolerance] [max iterations]
 */
#include <mpi.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* First index and count of part `i` of `n` items split into `parts`. */
static void split(int n, int parts, int i, int *first, int *count) {
  *first = (int)((long)n * i / parts);
  *count = (int)((long)n * (i + 1) / parts) - *first;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int n = argc > 1 ? atoi(argv[1]) : 96;
  double tol = argc > 2 ? atof(argv[2]) : 1e-4;
  int max_iter = argc > 3 ? atoi(argv[3]) : 20000;
  int size, rank, dims[2] = {0, 0}, periods[2] = {0, 0}, coords[2];
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Dims_create(size, 2, dims);
  MPI_Comm grid;
  MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &grid);
  MPI_Comm_rank(grid, &rank);
  MPI_Cart_coords(grid, rank, 2, coords);

  /* This rank's block of the n x n interior, with a halo of one cell. */
  int r0, rows, c0, cols;
  split(n, dims[0], coords[0], &r0, &rows);
  split(n, dims[1], coords[1], &c0, &cols);
  int w = cols + 2;
  double *u = calloc((size_t)(rows + 2) * w, sizeof(double)), *v = calloc((size_t)(rows + 2) * w, sizeof(double));
#define AT(a, i, j) (a)[(size_t)(i) * w + (j)]
  /* The plate's top edge is the halo row above global row 0. */
  if (r0 == 0)
    for (int j = 0; j < w; j++) AT(u, 0, j) = AT(v, 0, j) = 1.0;

  /* Neighbors in MPI's order: up, down (dimension 0), left, right (dimension 1). */
  MPI_Datatype row, col;
  MPI_Type_contiguous(cols, MPI_DOUBLE, &row);
  MPI_Type_vector(rows, 1, w, MPI_DOUBLE, &col);
  MPI_Type_commit(&row);
  MPI_Type_commit(&col);
  int counts[4] = {1, 1, 1, 1};
  MPI_Datatype types[4] = {row, row, col, col};
  const MPI_Aint D = sizeof(double);
  MPI_Aint sdispls[4] = {(1 * w + 1) * D, ((MPI_Aint)rows * w + 1) * D, (1 * w + 1) * D, (1 * w + cols) * D};
  MPI_Aint rdispls[4] = {(0 * w + 1) * D, ((MPI_Aint)(rows + 1) * w + 1) * D, (1 * w + 0) * D, (1 * w + cols + 1) * D};

  int iter = 0;
  double diff = INFINITY;
  double t0 = MPI_Wtime();
  while (iter < max_iter && diff > tol) {
    MPI_Neighbor_alltoallw(u, counts, sdispls, types, u, counts, rdispls, types, grid);
    double local = 0;
    for (int i = 1; i <= rows; i++)
      for (int j = 1; j <= cols; j++) {
        double x = 0.25 * (AT(u, i - 1, j) + AT(u, i + 1, j) + AT(u, i, j - 1) + AT(u, i, j + 1));
        local = fmax(local, fabs(x - AT(u, i, j)));
        AT(v, i, j) = x;
      }
    double *t = u;
    u = v;
    v = t;
    MPI_Allreduce(&local, &diff, 1, MPI_DOUBLE, MPI_MAX, grid);
    iter++;
  }
  /* The temperature at the plate's centre and the mean over the plate. */
  double sum = 0, centre = 0;
  for (int i = 1; i <= rows; i++)
    for (int j = 1; j <= cols; j++) {
      sum += AT(u, i, j);
      if (r0 + i - 1 == n / 2 && c0 + j - 1 == n / 2) centre = AT(u, i, j);
    }
  double total, mid;
  MPI_Reduce(&sum, &total, 1, MPI_DOUBLE, MPI_SUM, 0, grid);
  MPI_Reduce(&centre, &mid, 1, MPI_DOUBLE, MPI_SUM, 0, grid);
  if (rank == 0) {
    printf("heat: %d x %d plate on a %d x %d grid of ranks\n", n, n, dims[0], dims[1]);
    printf("heat: %d iterations, last change %.3e, centre %.6f, mean %.6f (%.2f s)\n", iter, diff, mid, total / ((double)n * n), MPI_Wtime() - t0);
  }
  MPI_Type_free(&row);
  MPI_Type_free(&col);
  MPI_Comm_free(&grid);
  free(u);
  free(v);
  MPI_Finalize();
  return 0;
}
