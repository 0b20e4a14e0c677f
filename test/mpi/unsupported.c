/* A function fmi does not support links, and fails loudly when called. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv) {
  MPI_Comm graph;
  int index[1] = {0}, edges[1] = {0};
  MPI_Init(&argc, &argv);
  MPI_Graph_create(MPI_COMM_WORLD, 1, index, edges, 0, &graph);
  printf("FAIL unsupported: went on\n");
  MPI_Finalize();
  return 0;
}
