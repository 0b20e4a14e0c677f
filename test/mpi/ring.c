/* Ring: a token goes around the ring three times; each rank adds its rank. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
  int rank, size, token = 0, laps = 3;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  for (int lap = 0; lap < laps; lap++) {
    if (rank == 0) {
      token += 0;
      MPI_Send(&token, 1, MPI_INT, next, lap, MPI_COMM_WORLD);
      MPI_Recv(&token, 1, MPI_INT, prev, lap, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(&token, 1, MPI_INT, prev, lap, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      token += rank;
      MPI_Send(&token, 1, MPI_INT, next, lap, MPI_COMM_WORLD);
    }
  }
  if (rank == 0) {
    int expect = laps * size * (size - 1) / 2;
    if (token == expect) printf("PASS ring on %d ranks: token %d\n", size, token);
    else printf("FAIL ring: token %d, expected %d\n", token, expect);
  }
  MPI_Finalize();
  return 0;
}
