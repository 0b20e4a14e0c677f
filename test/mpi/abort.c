/* MPI_Abort on one rank stops the whole job while the others wait. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
  int rank, v;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 1 || (rank == 0 && argc > 1)) {
    printf("rank %d aborting\n", rank);
    fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, 7);
    printf("FAIL abort: MPI_Abort returned\n");
  } else {
    MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    printf("FAIL abort: rank %d received\n", rank);
  }
  MPI_Finalize();
  return 0;
}
