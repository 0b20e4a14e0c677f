/* 2-D Jacobi on an N x N grid, decomposed over a 2-D Cartesian grid of
 * ranks (MPI_Dims_create, MPI_Cart_create, MPI_Cart_shift): halo exchange
 * with MPI_Sendrecv (rows contiguous, columns as an MPI_Type_vector), the
 * residual with MPI_Allreduce. Rank 0 checks the result against the same
 * iteration done serially. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 48
#define ITERS 60

static double boundary(int i, int j) { return (i == 0) ? 1.0 : (j == N - 1) ? 0.5 * i / N : 0.0; }

/* The serial reference: the whole (N+2)^2 grid with fixed boundary. */
static double serial(double *sum_out) {
  static double a[N + 2][N + 2], b[N + 2][N + 2];
  for (int i = 0; i < N + 2; i++)
    for (int j = 0; j < N + 2; j++) a[i][j] = b[i][j] = (i == 0 || j == 0 || i == N + 1 || j == N + 1) ? boundary(i, j) : 0.0;
  double res = 0;
  for (int it = 0; it < ITERS; it++) {
    res = 0;
    for (int i = 1; i <= N; i++)
      for (int j = 1; j <= N; j++) {
        b[i][j] = 0.25 * (a[i - 1][j] + a[i + 1][j] + a[i][j - 1] + a[i][j + 1]);
        res += (b[i][j] - a[i][j]) * (b[i][j] - a[i][j]);
      }
    memcpy(a, b, sizeof a);
  }
  double s = 0;
  for (int i = 1; i <= N; i++)
    for (int j = 1; j <= N; j++) s += a[i][j];
  *sum_out = s;
  return sqrt(res);
}

int main(int argc, char **argv) {
  int rank, size, dims[2] = {0, 0}, periods[2] = {0, 0}, coords[2];
  MPI_Comm grid;
  MPI_Init(&argc, &argv);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Dims_create(size, 2, dims);
  MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 1, &grid);
  MPI_Comm_rank(grid, &rank);
  MPI_Cart_coords(grid, rank, 2, coords);
  int up, down, left, right;
  MPI_Cart_shift(grid, 0, 1, &up, &down);
  MPI_Cart_shift(grid, 1, 1, &left, &right);

  /* This rank's block of rows [r0, r0+nr) and columns [c0, c0+nc), 1-based. */
  int nr = N / dims[0] + (coords[0] < N % dims[0]), nc = N / dims[1] + (coords[1] < N % dims[1]);
  int r0 = 1 + coords[0] * (N / dims[0]) + (coords[0] < N % dims[0] ? coords[0] : N % dims[0]);
  int c0 = 1 + coords[1] * (N / dims[1]) + (coords[1] < N % dims[1] ? coords[1] : N % dims[1]);
  int w = nc + 2;
  double *a = calloc((size_t)(nr + 2) * w, sizeof(double)), *b = calloc((size_t)(nr + 2) * w, sizeof(double));
#define A(p, i, j) p[(i) * w + (j)]
  for (int i = 0; i < nr + 2; i++)
    for (int j = 0; j < nc + 2; j++) {
      int gi = r0 - 1 + i, gj = c0 - 1 + j;
      double v = (gi == 0 || gj == 0 || gi == N + 1 || gj == N + 1) ? boundary(gi, gj) : 0.0;
      A(a, i, j) = A(b, i, j) = v;
    }
  MPI_Datatype column;
  MPI_Type_vector(nr, 1, w, MPI_DOUBLE, &column);
  MPI_Type_commit(&column);

  double res = 0;
  for (int it = 0; it < ITERS; it++) {
    MPI_Sendrecv(&A(a, 1, 1), nc, MPI_DOUBLE, up, 0, &A(a, nr + 1, 1), nc, MPI_DOUBLE, down, 0, grid, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&A(a, nr, 1), nc, MPI_DOUBLE, down, 1, &A(a, 0, 1), nc, MPI_DOUBLE, up, 1, grid, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&A(a, 1, 1), 1, column, left, 2, &A(a, 1, nc + 1), 1, column, right, 2, grid, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&A(a, 1, nc), 1, column, right, 3, &A(a, 1, 0), 1, column, left, 3, grid, MPI_STATUS_IGNORE);
    double local = 0;
    for (int i = 1; i <= nr; i++)
      for (int j = 1; j <= nc; j++) {
        A(b, i, j) = 0.25 * (A(a, i - 1, j) + A(a, i + 1, j) + A(a, i, j - 1) + A(a, i, j + 1));
        local += (A(b, i, j) - A(a, i, j)) * (A(b, i, j) - A(a, i, j));
      }
    for (int i = 1; i <= nr; i++)
      for (int j = 1; j <= nc; j++) A(a, i, j) = A(b, i, j);
    MPI_Allreduce(&local, &res, 1, MPI_DOUBLE, MPI_SUM, grid);
    res = sqrt(res);
  }
  double local_sum = 0, sum = 0;
  for (int i = 1; i <= nr; i++)
    for (int j = 1; j <= nc; j++) local_sum += A(a, i, j);
  MPI_Reduce(&local_sum, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, grid);
  if (rank == 0) {
    double ref_sum, ref_res = serial(&ref_sum);
    int ok = fabs(sum - ref_sum) < 1e-9 * fabs(ref_sum) && fabs(res - ref_res) < 1e-9 * ref_res;
    printf("jacobi %dx%d on a %dx%d grid of ranks: residual %.6e (serial %.6e), sum %.9f (serial %.9f)\n", N, N, dims[0], dims[1], res, ref_res, sum, ref_sum);
    printf(ok ? "PASS jacobi on %d ranks\n" : "FAIL jacobi on %d ranks\n", size);
  }
  MPI_Type_free(&column);
  MPI_Comm_free(&grid);
  free(a);
  free(b);
  MPI_Finalize();
  return 0;
}
