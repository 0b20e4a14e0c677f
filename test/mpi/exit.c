/* argv, stdout/stderr and the exit status reach the caller: the exit code
 * is argv[1]; "exit" as argv[2] ends through exit() with unflushed output. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  int rank, initialized, finalized;
  MPI_Initialized(&initialized);
  if (initialized) printf("FAIL exit: initialized before MPI_Init\n");
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  printf("rank %d argc %d:", rank, argc);
  for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
  printf("\n");
  fprintf(stderr, "rank %d to stderr\n", rank);
  int code = argc > 1 ? atoi(argv[1]) : 0;
  MPI_Finalize();
  MPI_Finalized(&finalized);
  if (!finalized) printf("FAIL exit: not finalized\n");
  if (argc > 2 && strcmp(argv[2], "exit") == 0) {
    printf("partial line from %d", rank);
    exit(code);
  }
  return code;
}
