/* MPI 3.1 chapter 5, collectives, what coll.c, userop.c and intercoll.c
 * leave out, from the text:
 * - §5.5, §5.6, §5.8: the v-forms with zero counts at some ranks (nothing
 *   moves there, their buffer is untouched), types that differ between
 *   sender and receiver with the same type signature (§5.1: only the
 *   signatures must match);
 * - §5.10: Reduce_scatter with zero counts at some ranks;
 * - §5.9.5: Reduce_local computes inoutbuf = inbuf op inoutbuf, in that
 *   order for a non-commutative op (user ops on MPI_2INT);
 * - §5.11: Scan and Exscan with MPI_IN_PLACE (Exscan's result at rank 0 is
 *   left undefined, so only ranks above 0 are checked);
 * - §5.12: several non-blocking collectives outstanding on one
 *   communicator, completed in the reverse order of starting. */
#include "check.h"
#include <stdlib.h>
#include <string.h>

static int rank, size;

/* Digit strings as (value, 10^length) pairs: (a, p) . (b, q) = (a q + b, p q)
 * appends b's digits to a's: associative, not commutative. */
static void concat(void *in, void *inout, int *len, MPI_Datatype *t) {
  (void)t;
  int *a = in, *b = inout;
  for (int i = 0; i < *len; i++) b[2 * i] = a[2 * i] * b[2 * i + 1] + b[2 * i], b[2 * i + 1] *= a[2 * i + 1];
}

static void vforms(void) {
  /* Gatherv at every root: odd ranks send nothing. */
  int *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int)), total = 0;
  for (int k = 0; k < size; k++) counts[k] = k % 2 ? 0 : k + 1, displs[k] = total, total += counts[k];
  int mine[16], *all = malloc((total + 1) * sizeof(int));
  for (int i = 0; i < 16; i++) mine[i] = rank * 100 + i;
  for (int root = 0; root < size; root++) {
    for (int i = 0; i <= total; i++) all[i] = -1;
    MPI_Gatherv(mine, counts[rank], MPI_INT, all, counts, displs, MPI_INT, root, MPI_COMM_WORLD);
    if (rank == root) {
      int bad = -1;
      for (int k = 0; k < size; k++)
        for (int i = 0; i < counts[k]; i++) if (all[displs[k] + i] != k * 100 + i) bad = displs[k] + i;
      CHECK(bad < 0 && all[total] == -1, "Gatherv with zero counts, root %d: slot %d", root, bad);
    }
    /* Scatterv back; a rank with count 0 keeps its buffer. */
    int got[16];
    for (int i = 0; i < 16; i++) got[i] = -7;
    if (rank == root) for (int i = 0; i < total; i++) all[i] = root * 1000 + i;
    MPI_Scatterv(all, counts, displs, MPI_INT, got, counts[rank], MPI_INT, root, MPI_COMM_WORLD);
    int bad = -1;
    for (int i = 0; i < counts[rank]; i++) if (got[i] != root * 1000 + displs[rank] + i) bad = i;
    CHECK(bad < 0 && got[counts[rank]] == -7, "Scatterv with zero counts, root %d: item %d", root, bad);
  }
  /* Allgatherv: send 2 ints as MPI_INT, receive them as a contiguous pair type (same signature). */
  MPI_Datatype pair;
  MPI_Type_contiguous(2, MPI_INT, &pair);
  MPI_Type_commit(&pair);
  int *rc = malloc(size * sizeof(int)), *rd = malloc(size * sizeof(int));
  for (int k = 0; k < size; k++) rc[k] = 1, rd[k] = size - 1 - k; /* reversed placement */
  int two[2] = {rank, -rank}, *back = malloc(2 * size * sizeof(int));
  MPI_Allgatherv(two, 2, MPI_INT, back, rc, rd, pair, MPI_COMM_WORLD);
  int bad = -1;
  for (int k = 0; k < size; k++) if (back[2 * (size - 1 - k)] != k || back[2 * (size - 1 - k) + 1] != -k) bad = k;
  CHECK(bad < 0, "Allgatherv into pairs at reversed displacements: rank %d", bad);
  /* Alltoallv with zero counts to odd ranks, in pairs on the receive side. */
  int *sc = malloc(size * sizeof(int)), *sd = malloc(size * sizeof(int)), *out = malloc(2 * size * sizeof(int)), *in = malloc(2 * size * sizeof(int));
  for (int k = 0; k < size; k++) {
    sc[k] = k % 2 ? 0 : 2, sd[k] = 2 * k, out[2 * k] = rank * 10 + k, out[2 * k + 1] = -(rank * 10 + k);
    rc[k] = rank % 2 ? 0 : 1, rd[k] = k, in[2 * k] = in[2 * k + 1] = -5;
  }
  MPI_Alltoallv(out, sc, sd, MPI_INT, in, rc, rd, pair, MPI_COMM_WORLD);
  bad = -1;
  for (int k = 0; k < size; k++) {
    int want0 = rank % 2 ? -5 : k * 10 + rank, want1 = rank % 2 ? -5 : -(k * 10 + rank);
    if (in[2 * k] != want0 || in[2 * k + 1] != want1) bad = k;
  }
  CHECK(bad < 0, "Alltoallv with zero counts: from %d", bad);
  MPI_Type_free(&pair);
  free(counts), free(displs), free(all), free(rc), free(rd), free(back), free(sc), free(sd), free(out), free(in);
}

static void reductions(void) {
  /* Reduce_scatter: rank k gets k % 3 ints (some get none). */
  int *counts = malloc(size * sizeof(int)), total = 0;
  for (int k = 0; k < size; k++) counts[k] = k % 3, total += counts[k];
  int *v = malloc((total + 1) * sizeof(int)), got[3] = {-1, -1, -1};
  for (int i = 0; i < total; i++) v[i] = rank + i;
  MPI_Reduce_scatter(v, got, counts, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int start = 0;
  for (int k = 0; k < rank; k++) start += counts[k];
  for (int i = 0; i < counts[rank]; i++) CHECK(got[i] == size * (start + i) + size * (size - 1) / 2, "Reduce_scatter item %d", i);
  CHECK(got[counts[rank]] == -1, "Reduce_scatter wrote past its count");
  free(counts), free(v);

  /* Reduce_local order: inout = in op inout */
  MPI_Op op;
  MPI_Op_create(concat, 0, &op);
  int a[4] = {1, 10, 2, 10}, b[4] = {3, 10, 4, 10};
  MPI_Reduce_local(a, b, 2, MPI_2INT, op);
  CHECK(b[0] == 13 && b[2] == 24 && b[1] == 100, "Reduce_local(in, inout): %d %d", b[0], b[2]);
  /* Scan with it, in place: the digits of the ranks so far (rank r adds digit r; 8 digits fit an int). */
  int s[2] = {rank, 10};
  MPI_Scan(MPI_IN_PLACE, s, 1, MPI_2INT, op, MPI_COMM_WORLD);
  int want = 0;
  for (int k = 0; k <= rank; k++) want = want * 10 + k;
  CHECK(s[0] == want, "Scan in place, non-commutative: %d, want %d", s[0], want);
  int e = rank + 1;
  MPI_Exscan(MPI_IN_PLACE, &e, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank > 0) CHECK(e == rank * (rank + 1) / 2, "Exscan in place: %d", e);
  MPI_Op_free(&op);
  CHECK(op == MPI_OP_NULL, "Op_free sets MPI_OP_NULL");
}

static void outstanding(void) {
  enum { K = 6 };
  MPI_Request rq[K];
  int bsum[K], bval[K], all[K][8];
  for (int k = 0; k < K; k++) {
    bval[k] = rank == k % size ? 100 + k : -1;
    if (k % 3 == 0) MPI_Iallreduce(&rank, &bsum[k], 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq[k]);
    else if (k % 3 == 1) MPI_Ibcast(&bval[k], 1, MPI_INT, k % size, MPI_COMM_WORLD, &rq[k]);
    else MPI_Iallgather(&rank, 1, MPI_INT, all[k], 1, MPI_INT, MPI_COMM_WORLD, &rq[k]);
  }
  for (int k = K - 1; k >= 0; k--) MPI_Wait(&rq[k], MPI_STATUS_IGNORE);
  for (int k = 0; k < K; k++) {
    if (k % 3 == 0) CHECK(bsum[k] == size * (size - 1) / 2, "Iallreduce #%d", k);
    else if (k % 3 == 1) CHECK(bval[k] == 100 + k, "Ibcast #%d: %d", k, bval[k]);
    else if (size <= 8) for (int r = 0; r < size; r++) CHECK(all[k][r] == r, "Iallgather #%d slot %d", k, r);
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 8) return finish("ch5-coll"); /* fixed-size buffers below */
  vforms();
  reductions();
  outstanding();
  return finish("ch5-coll");
}
