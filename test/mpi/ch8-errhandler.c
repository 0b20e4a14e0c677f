/* MPI 3.1 §8.3.4: MPI_Errhandler_free "marks the error handler for
 * deallocation": a handler freed while communicators use it keeps working
 * for them, and MPI_Comm_get_errhandler returns a new reference the caller
 * frees, which leaves the communicator's handler alone. */
#include "check.h"

static int handled = 0;

static void count_errors(MPI_Comm *c, int *code, ...) {
  (void)c, (void)code;
  handled++;
}

int main(int argc, char **argv) {
  int rank, size, v = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Errhandler mine, got;
  MPI_Comm dup;
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  MPI_Comm_create_errhandler(count_errors, &mine);
  MPI_Comm_set_errhandler(dup, mine);
  MPI_Errhandler_free(&mine);
  CHECK(mine == MPI_ERRHANDLER_NULL, "Errhandler_free sets MPI_ERRHANDLER_NULL");
  int rc = MPI_Send(&v, 1, MPI_INT, size + 5, 0, dup);
  CHECK(handled == 1 && rc != MPI_SUCCESS, "a freed handler still attached was called %d times", handled);
  /* get_errhandler: a reference of our own, freed; dup's handler stays */
  MPI_Comm_get_errhandler(dup, &got);
  MPI_Errhandler_free(&got);
  rc = MPI_Send(&v, 1, MPI_INT, size + 5, 0, dup);
  CHECK(handled == 2 && rc != MPI_SUCCESS, "after freeing what Comm_get_errhandler gave: %d calls", handled);
  MPI_Comm_free(&dup);
  return finish("ch8-errhandler");
}
