/* A rank that crashes (abort(), or a trap with "trap" as argv[1]) ends with
 * status 134 and a report, and the job stops. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  int rank, v;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    if (argc > 1 && strcmp(argv[1], "trap") == 0) __builtin_trap();
    abort();
  }
  MPI_Recv(&v, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Finalize();
  return 0;
}
