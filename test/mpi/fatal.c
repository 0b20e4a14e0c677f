/* MPI_ERRORS_ARE_FATAL (the default): a send to a rank that does not exist
 * ends the program with a message naming the call and the rank. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
  int rank, size, v = 1;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  printf("rank %d before\n", rank);
  if (rank == size - 1) MPI_Send(&v, 1, MPI_INT, size + 10, 0, MPI_COMM_WORLD);
  else MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  printf("FAIL fatal: rank %d went on\n", rank);
  MPI_Finalize();
  return 0;
}
