/* User-defined ops (MPI_Op_create): a non-commutative one (2x2 matrix
 * product mod P, evaluated strictly in rank order), a commutative one, and
 * one over a struct datatype with holes, through every reduction. */
#include "check.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define P 1000003LL

typedef struct { long long a, b, c, d; } mat;
static MPI_Datatype mat_type;
static int calls = 0, bad_type = 0;

static mat mul(mat x, mat y) {
  mat r = {(x.a * y.a + x.b * y.c) % P, (x.a * y.b + x.b * y.d) % P, (x.c * y.a + x.d * y.c) % P, (x.c * y.b + x.d * y.d) % P};
  return r;
}

/* inout[i] = in[i] * inout[i]: `in` holds the lower ranks' product. */
static void matmul(void *in, void *inout, int *len, MPI_Datatype *dt) {
  mat *x = in, *y = inout;
  calls++;
  if (*dt != mat_type) bad_type++;
  for (int i = 0; i < *len; i++) y[i] = mul(x[i], y[i]);
}

static mat of(int r, int k) {
  mat m = {r + 1 + k, 1, 1 + k, 0};
  return m;
}

static mat product(int from, int to, int k) { /* of(from) * ... * of(to-1) */
  mat m = {1, 0, 0, 1};
  for (int r = from; r < to; r++) m = mul(m, of(r, k));
  return m;
}

static int same(mat x, mat y) { return x.a == y.a && x.b == y.b && x.c == y.c && x.d == y.d; }

/* Allocates (growing the memory) while the program waits in another call. */
static int grown = 0;
static void growsum(void *in, void *inout, int *len, MPI_Datatype *dt) {
  int *x = in, *y = inout;
  (void)dt;
  char *p = malloc(48 << 20);
  if (p) {
    memset(p, 1, 48 << 20);
    grown++;
    free(p);
  }
  for (int i = 0; i < *len; i++) y[i] += x[i];
}

static void absmax(void *in, void *inout, int *len, MPI_Datatype *dt) {
  int *x = in, *y = inout;
  (void)dt;
  for (int i = 0; i < *len; i++) {
    int ax = x[i] < 0 ? -x[i] : x[i], ay = y[i] < 0 ? -y[i] : y[i];
    if (ax > ay) y[i] = x[i];
  }
}

typedef struct { double x; char tag; int n; } item; /* bytes 9..11 are padding */
static void itemop(void *in, void *inout, int *len, MPI_Datatype *dt) {
  item *a = in, *b = inout;
  (void)dt;
  for (int i = 0; i < *len; i++) {
    b[i].x += a[i].x;
    b[i].n = a[i].n > b[i].n ? a[i].n : b[i].n;
    b[i].tag = a[i].tag < b[i].tag ? a[i].tag : b[i].tag;
  }
}

int main(int argc, char **argv) {
  int rank, size, commute;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Type_contiguous(4, MPI_LONG_LONG, &mat_type);
  MPI_Type_commit(&mat_type);
  MPI_Op matop, maxop, itop;
  MPI_Op_create(matmul, 0, &matop);
  MPI_Op_create(absmax, 1, &maxop);
  MPI_Op_create(itemop, 1, &itop);
  MPI_Op_commutative(matop, &commute);
  CHECK(commute == 0, "Op_commutative of a non-commutative op");
  MPI_Op_commutative(MPI_SUM, &commute);
  CHECK(commute == 1, "Op_commutative of MPI_SUM");

  mat mine[2] = {of(rank, 0), of(rank, 1)}, out[2];
  for (int root = 0; root < size; root++) {
    MPI_Reduce(mine, out, 2, mat_type, matop, root, MPI_COMM_WORLD);
    if (rank == root) CHECK(same(out[0], product(0, size, 0)) && same(out[1], product(0, size, 1)), "non-commutative Reduce at root %d", root);
  }
  MPI_Allreduce(mine, out, 2, mat_type, matop, MPI_COMM_WORLD);
  CHECK(same(out[0], product(0, size, 0)) && same(out[1], product(0, size, 1)), "non-commutative Allreduce");
  MPI_Scan(mine, out, 2, mat_type, matop, MPI_COMM_WORLD);
  CHECK(same(out[0], product(0, rank + 1, 0)) && same(out[1], product(0, rank + 1, 1)), "non-commutative Scan");
  out[0] = of(-5, 0);
  MPI_Exscan(mine, out, 1, mat_type, matop, MPI_COMM_WORLD);
  if (rank > 0) CHECK(same(out[0], product(0, rank, 0)), "non-commutative Exscan");
  mat blocks[64], mineblk;
  for (int k = 0; k < size; k++) blocks[k] = of(rank, k);
  MPI_Reduce_scatter_block(blocks, &mineblk, 1, mat_type, matop, MPI_COMM_WORLD);
  CHECK(same(mineblk, product(0, size, rank)), "non-commutative Reduce_scatter_block");
  mat inplace[2] = {of(rank, 0), of(rank, 1)};
  MPI_Allreduce(MPI_IN_PLACE, inplace, 2, mat_type, matop, MPI_COMM_WORLD);
  CHECK(same(inplace[1], product(0, size, 1)), "non-commutative Allreduce in place");
  mat l = of(3, 0), r = of(4, 0);
  MPI_Reduce_local(&l, &r, 1, mat_type, matop);
  CHECK(same(r, mul(of(3, 0), of(4, 0))), "Reduce_local with a user op: inout = in op inout");
  CHECK(bad_type == 0, "the op got its datatype handle");
  if (size > 1) CHECK(calls > 0, "the user function ran (%d calls)", calls);

  int v[3] = {rank % 2 ? -rank : rank, 1, -1}, m[3];
  MPI_Allreduce(v, m, 3, MPI_INT, maxop, MPI_COMM_WORLD);
  int big = size - 1;
  CHECK((m[0] == big || m[0] == -big) && m[1] == 1 && m[2] == -1, "commutative user op: %d", m[0]);

  MPI_Datatype item_type;
  int bl[3] = {1, 1, 1};
  MPI_Aint disp[3] = {offsetof(item, x), offsetof(item, tag), offsetof(item, n)};
  MPI_Datatype types[3] = {MPI_DOUBLE, MPI_CHAR, MPI_INT};
  MPI_Type_create_struct(3, bl, disp, types, &item_type);
  MPI_Type_commit(&item_type);
  item it[2] = {{rank * 0.5, (char)('a' + rank), rank}, {1.0, 'z', -rank}}, ir[2];
  MPI_Allreduce(it, ir, 2, item_type, itop, MPI_COMM_WORLD);
  CHECK(ir[0].x == 0.25 * size * (size - 1) && ir[0].tag == 'a' && ir[0].n == size - 1, "struct user op [0]");
  CHECK(ir[1].x == size && ir[1].tag == 'z' && ir[1].n == 0, "struct user op [1]");

  /* a user op that grows memory runs while a blocking Sendrecv waits */
  {
    MPI_Op gop;
    MPI_Op_create(growsum, 1, &gop);
    int one[4] = {1, 2, 3, 4}, sum[4] = {0};
    MPI_Request rq;
    MPI_Iallreduce(one, sum, 4, MPI_INT, gop, MPI_COMM_WORLD, &rq);
    int n = 1 << 18, next = (rank + 1) % size, prev = (rank + size - 1) % size;
    int *out = malloc(n * sizeof(int)), *in = malloc(n * sizeof(int));
    for (int i = 0; i < n; i++) out[i] = i + rank;
    for (int k = 0; k < 3; k++) MPI_Sendrecv(out, n, MPI_INT, next, k, in, n, MPI_INT, prev, k, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
    int bad = 0;
    for (int i = 0; i < n; i++) bad += in[i] != i + prev;
    CHECK(bad == 0 && sum[0] == size && sum[3] == 4 * size, "Sendrecv while a growing user op runs: %d bad", bad);
    free(out), free(in);
    MPI_Op_free(&gop);
  }

  MPI_Op_free(&matop);
  CHECK(matop == MPI_OP_NULL, "Op_free sets MPI_OP_NULL");
  MPI_Op_free(&maxop);
  MPI_Op_free(&itop);
  MPI_Type_free(&item_type);
  MPI_Type_free(&mat_type);
  return finish("userop");
}
