/* Self-checking test programs: CHECK records a failure (and says where);
 * finish() adds up every rank's failures and rank 0 prints the verdict:
 * "PASS <name> on <size> ranks" or "FAIL <name>: <n> errors". */
#ifndef FMI_TEST_CHECK_H
#define FMI_TEST_CHECK_H
#include <mpi.h>
#include <stdio.h>

static int check_errors = 0;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      int r_;                                                                  \
      MPI_Comm_rank(MPI_COMM_WORLD, &r_);                                      \
      check_errors++;                                                          \
      printf("FAIL rank %d %s:%d: ", r_, __FILE__, __LINE__);                  \
      printf(__VA_ARGS__);                                                     \
      printf("\n");                                                            \
    }                                                                          \
  } while (0)

static int finish(const char *name) {
  int total = 0, rank, size;
  MPI_Allreduce(&check_errors, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) {
    if (total == 0) printf("PASS %s on %d ranks\n", name, size);
    else printf("FAIL %s: %d errors\n", name, total);
  }
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}

#endif
