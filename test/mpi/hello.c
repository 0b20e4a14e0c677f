/* Hello world: every rank reports in; rank 0 checks that all did. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  int rank, size, len, version, subversion;
  char name[MPI_MAX_PROCESSOR_NAME];
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Get_processor_name(name, &len);
  MPI_Get_version(&version, &subversion);
  printf("hello from rank %d of %d (MPI %d.%d, argc %d)\n", rank, size, version, subversion, argc);
  int one = 1, total = 0;
  MPI_Reduce(&one, &total, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    if (total == size && version == 3 && subversion == 1 && len == (int)strlen(name)) printf("PASS hello %d\n", size);
    else printf("FAIL hello: total %d of %d\n", total, size);
  }
  MPI_Finalize();
  return 0;
}
