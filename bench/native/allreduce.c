/* Open MPI allreduce (MPI_SUM over doubles): the native reference for
 * bench/allreduce.mjs (same sizes, plan, timing and output). A sample is the
 * slowest rank's time for one call (MPI_Reduce MAX over per-rank samples).
 *   mpicc -O2 -o allreduce allreduce.c -lm
 *   mpirun --allow-run-as-root --oversubscribe -np 4 --mca pml ob1 --mca btl tcp,self \
 *     ./allreduce 1000 100 100 200000 4000 1024 1048576
 */
#include <mpi.h>
#include "coll-plan.h"

struct allreduce_args {
  double *in, *out;
  int len;
};

static void allreduce(void *ctx) {
  struct allreduce_args *a = ctx;
  MPI_Allreduce(a->in, a->out, a->len, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  plan_t p = {0};
  if (plan_parse(&p, argc, argv) != 0) MPI_Abort(MPI_COMM_WORLD, 2);
  long maxlen = plan_max_size(&p) / 8;
  if (maxlen < 1) maxlen = 1;
  double *in = malloc(sizeof(double) * (size_t)maxlen), *out = malloc(sizeof(double) * (size_t)maxlen);
  for (long i = 0; i < maxlen; i++) in[i] = rank + 1;
  const double expected = size * (size + 1) / 2.0;

  for (int s = 0; s < p.nsizes; s++) {
    int len = (int)(p.sizes[s] / 8);
    if (len < 1) len = 1;
    struct allreduce_args a = {in, out, len};
    double *samples;
    long iters = coll_time(&p, s == 0 ? 5 : 1, allreduce, NULL, &a, &samples);
    if (out[0] != expected || out[len - 1] != expected) {
      fprintf(stderr, "allreduce: rank %d got %g..%g, expected %g\n", rank, out[0], out[len - 1], expected);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    coll_emit("allreduce", (long)len * 8, iters, samples, "f64,sum");
  }
  free(in);
  free(out);
  MPI_Finalize();
  return 0;
}
