/* Open MPI broadcast from rank 0: the native reference for bench/bcast.mjs
 * (same sizes, plan, timing and output). Every rank times its MPI_Bcast, an
 * untimed MPI_Barrier separates the calls (osu_bcast); a sample is the
 * slowest rank's time for one call (MPI_Reduce MAX over per-rank samples).
 *   mpicc -O2 -o bcast bcast.c -lm
 *   mpirun --allow-run-as-root --oversubscribe -np 4 --mca pml ob1 --mca btl tcp,self \
 *     ./bcast 1000 100 100 200000 4000 1024 1048576
 */
#include <mpi.h>
#include <string.h>
#include "coll-plan.h"

struct bcast_args {
  unsigned char *buf;
  int bytes;
};

static void bcast(void *ctx) {
  struct bcast_args *a = ctx;
  MPI_Bcast(a->buf, a->bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
}

/* Untimed, between calls: one call's tail does not run into the next (osu_bcast). */
static void barrier(void *ctx) {
  (void)ctx;
  MPI_Barrier(MPI_COMM_WORLD);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  plan_t p = {0};
  if (plan_parse(&p, argc, argv) != 0) MPI_Abort(MPI_COMM_WORLD, 2);
  long max = plan_max_size(&p);
  unsigned char *buf = malloc((size_t)max);

  for (int s = 0; s < p.nsizes; s++) {
    long bytes = p.sizes[s];
    for (long i = 0; i < bytes; i++) buf[i] = rank == 0 ? (unsigned char)((i * 31 + bytes) & 0xff) : 0;
    struct bcast_args a = {buf, (int)bytes};
    double *samples;
    long iters = coll_time(&p, s == 0 ? 5 : 1, bcast, barrier, &a, &samples);
    for (long i = 0; i < bytes; i++) {
      if (buf[i] != (unsigned char)((i * 31 + bytes) & 0xff)) {
        fprintf(stderr, "bcast: rank %d got a wrong byte at %ld\n", rank, i);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
    }
    coll_emit("bcast", bytes, iters, samples, "u8");
  }
  free(buf);
  MPI_Finalize();
  return 0;
}
