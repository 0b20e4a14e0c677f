/* One rank fails on its own while the others wait for it: rank 2 (the last
 * rank on fewer ranks) calls MPI_Abort ("abort"), exit(3) ("exit"), returns
 * 3 from main without MPI_Finalize ("return") or cannot open its input file
 * ("file": returns 3 after saying so). The job must report that rank, with
 * its code, not a rank that failed after it because its peer was gone. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

int main(int argc, char **argv) {
  int rank, size, v = 1, sum = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const char *how = argc > 1 ? argv[1] : "abort";
  int failing = size > 2 ? 2 : size - 1;
  /* The same collective once first: the ranks have met before one fails (a
   * peer that never connected to it would wait for it, not lose it). */
  MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == failing) {
    if (strcmp(how, "abort") == 0) MPI_Abort(MPI_COMM_WORLD, 3);
    if (strcmp(how, "exit") == 0) exit(3);
    if (strcmp(how, "return") == 0) return 3;
    if (strcmp(how, "file") == 0) {
      FILE *f = fopen(argc > 2 ? argv[2] : "missing-input.dat", "r");
      if (!f) {
        fprintf(stderr, "rank %d: cannot open input: %s\n", rank, strerror(errno));
        return 3;
      }
      if (fscanf(f, "%d", &v) != 1) v = -1;
      fclose(f);
      printf("rank %d read %d\n", rank, v);
    }
  }
  /* Everyone else waits for the failing rank. */
  MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) printf("PASS failfirst on %d ranks (sum %d)\n", size, sum);
  MPI_Finalize();
  return 0;
}
