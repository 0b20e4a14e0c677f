/* A function fmi does not support links, and fails loudly when called. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
  MPI_Comm inter;
  MPI_Init(&argc, &argv);
  MPI_Intercomm_create(MPI_COMM_WORLD, 0, MPI_COMM_WORLD, 0, 1, &inter);
  printf("FAIL unsupported: went on\n");
  MPI_Finalize();
  return 0;
}
