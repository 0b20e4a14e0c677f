/* MPI 3.1 chapter 7, process topologies, what topo.c, comm.c and jacobi.c
 * leave out, from the text:
 * - §7.5.1: Cart_create on a grid smaller than the communicator gives the
 *   ranks past it MPI_COMM_NULL; §7.5.5: Cart_rank wraps coordinates of
 *   periodic dimensions; Cart_shift by more than one, and backwards, gives
 *   MPI_PROC_NULL past the ends of a non-periodic dimension;
 * - §7.5.3: Graph_create of a star and its neighbor lists;
 * - §7.5.4: Dist_graph_create where each rank gives some of the edges (its
 *   edges to the ring's next and to rank 0), the neighbor lists that result;
 * - §7.6: Neighbor_alltoallv and the non-blocking Ineighbor_allgatherv,
 *   Ineighbor_alltoall, Ineighbor_alltoallw on a periodic 1-D grid of 3 or
 *   more ranks. */
#include "check.h"
#include <stdlib.h>
#include <string.h>

static int rank, size;

static void cartesian(void) {
  /* A grid of size-1 ranks (1 on one rank): the last rank is left out. */
  int n = size > 1 ? size - 1 : 1, dims[1] = {n}, periods[1] = {1}, me, nd, src, dst;
  MPI_Comm c;
  MPI_Cart_create(MPI_COMM_WORLD, 1, dims, periods, 0, &c);
  if (rank >= n) CHECK(c == MPI_COMM_NULL, "rank %d past the grid got a communicator", rank);
  if (rank < n) {
  MPI_Comm_rank(c, &me);
  MPI_Cartdim_get(c, &nd);
  CHECK(nd == 1, "Cartdim_get %d", nd);
  int coord = -1, r = -1;
  MPI_Cart_coords(c, me, 1, &coord);
  CHECK(coord == me, "coords of %d: %d", me, coord);
  int far[1] = {me + 3 * n};
  MPI_Cart_rank(c, far, &r);
  CHECK(r == me, "a periodic coordinate wraps: %d", r);
  far[0] = me - n;
  MPI_Cart_rank(c, far, &r);
  CHECK(r == me, "a negative periodic coordinate wraps: %d", r);

  MPI_Cart_shift(c, 0, 2, &src, &dst);
  CHECK(src == ((me - 2) % n + n) % n && dst == (me + 2) % n, "periodic shift by 2: %d %d", src, dst);
  MPI_Comm_free(&c);
  }

  /* Not periodic, 2-D: 2 x (n / 2) when n is even, else n x 1. */
  int d2[2] = {n % 2 == 0 ? 2 : n, n % 2 == 0 ? n / 2 : 1}, p2[2] = {0, 0};
  MPI_Cart_create(MPI_COMM_WORLD, 2, d2, p2, 0, &c);
  if (c == MPI_COMM_NULL) return;
  int xy[2];
  MPI_Comm_rank(c, &me);
  MPI_Cart_coords(c, me, 2, xy);
  CHECK(me == xy[0] * d2[1] + xy[1], "row-major coordinates of %d: (%d, %d)", me, xy[0], xy[1]);
  MPI_Cart_shift(c, 1, -2, &src, &dst);
  int want_dst = xy[1] - 2 >= 0 ? me - 2 : MPI_PROC_NULL, want_src = xy[1] + 2 < d2[1] ? me + 2 : MPI_PROC_NULL;
  CHECK(src == want_src && dst == want_dst, "shift by -2 along a row: %d %d, want %d %d", src, dst, want_src, want_dst);
  MPI_Cart_shift(c, 0, 1, &src, &dst);
  CHECK(dst == (xy[0] + 1 < d2[0] ? me + d2[1] : MPI_PROC_NULL), "shift down a column: %d", dst);
  MPI_Comm_free(&c);
}

/* A star: rank 0 linked to every other rank. */
static void star(void) {
  int *index = malloc(size * sizeof(int)), *edges = malloc(2 * size * sizeof(int)), e = 0;
  for (int k = 1; k < size; k++) edges[e++] = k;
  index[0] = size - 1;
  for (int k = 1; k < size; k++) edges[e++] = 0, index[k] = index[k - 1] + 1;
  MPI_Comm g;
  MPI_Graph_create(MPI_COMM_WORLD, size, index, edges, 0, &g);
  int count = -1, nb[64];
  MPI_Graph_neighbors_count(g, rank, &count);
  CHECK(count == (rank == 0 ? size - 1 : 1), "star neighbors of %d: %d", rank, count);
  MPI_Graph_neighbors(g, rank, 64, nb);
  if (rank == 0) {
    for (int k = 1; k < size; k++) CHECK(nb[k - 1] == k, "hub's neighbor %d is %d", k - 1, nb[k - 1]);
  } else {
    CHECK(nb[0] == 0, "a leaf's neighbor is %d", nb[0]);
  }
  /* Neighbor_alltoallv: the hub sends k+1 ints to leaf k; leaves send one back. */
  int nn = rank == 0 ? size - 1 : 1;
  int *sc = calloc(nn, sizeof(int)), *sd = calloc(nn, sizeof(int)), *rc = calloc(nn, sizeof(int)), *rd = calloc(nn, sizeof(int));
  int out[64], in[64];
  for (int k = 0; k < 64; k++) out[k] = rank * 1000 + k, in[k] = -1;
  for (int k = 0; k < nn; k++) {
    sc[k] = rank == 0 ? k + 2 : 1, sd[k] = rank == 0 ? k : 0;
    rc[k] = rank == 0 ? 1 : rank + 1, rd[k] = rank == 0 ? 2 * k : 0;
  }
  if (size > 1) MPI_Neighbor_alltoallv(out, sc, sd, MPI_INT, in, rc, rd, MPI_INT, g);
  if (rank == 0) {
    for (int k = 0; k < nn; k++) CHECK(in[2 * k] == (k + 1) * 1000 && in[2 * k + 1] == -1, "hub got %d from leaf %d", in[2 * k], k + 1);
  } else {
    int bad = -1;
    for (int k = 0; k <= rank; k++) if (in[k] != rank - 1 + k) bad = k;
    CHECK(bad < 0 && in[rank + 1] == -1, "leaf %d got the hub's ints from %d: slot %d", rank, rank - 1, bad);
  }
  free(sc), free(sd), free(rc), free(rd), free(index), free(edges);
  MPI_Comm_free(&g);
}

/* Each rank names two edges: itself -> next, and rank 0 -> itself. */
static void distributed(void) {
  int next = (rank + 1) % size, sources[2] = {rank, 0}, degrees[2] = {1, 1}, dests[2] = {next, rank};
  MPI_Comm dg;
  MPI_Dist_graph_create(MPI_COMM_WORLD, 2, sources, degrees, dests, MPI_UNWEIGHTED, MPI_INFO_NULL, 0, &dg);
  int indeg, outdeg, weighted;
  MPI_Dist_graph_neighbors_count(dg, &indeg, &outdeg, &weighted);
  /* in: prev, and 0 (from every rank's second edge); out: next, and rank 0 has one to every rank */
  CHECK(indeg == 2 && outdeg == (rank == 0 ? size + 1 : 1) && !weighted, "degrees in %d out %d", indeg, outdeg);
  int ins[2], outs[64];
  MPI_Dist_graph_neighbors(dg, 2, ins, MPI_UNWEIGHTED, outdeg, outs, MPI_UNWEIGHTED);
  int prev = (rank + size - 1) % size, seen_prev = 0, seen_zero = 0;
  for (int k = 0; k < 2; k++) seen_prev += ins[k] == prev, seen_zero += ins[k] == 0;
  CHECK(seen_prev >= 1 && seen_zero >= 1, "in-neighbors %d %d", ins[0], ins[1]);
  /* A neighbor allgather: one value per in-edge, from that source. */
  int v = rank * 10, got[2] = {-1, -1};
  MPI_Neighbor_allgather(&v, 1, MPI_INT, got, 1, MPI_INT, dg);
  for (int k = 0; k < 2; k++) CHECK(got[k] == ins[k] * 10, "from in-neighbor %d: %d", ins[k], got[k]);
  MPI_Comm_free(&dg);
}

/* §7.6 non-blocking forms on a periodic ring: neighbors in order (prev, next). */
static void nonblocking(void) {
  /* On 1 or 2 ranks both neighbors are one rank: which of its two blocks
   * lands in which slot MPI 3.1 leaves open (MPI 4.0 settles it); Open MPI
   * 4.1 matches them the other way round from fmi. */
  if (size < 3) return;
  int dims[1] = {size}, periods[1] = {1};
  MPI_Comm ring;
  MPI_Cart_create(MPI_COMM_WORLD, 1, dims, periods, 0, &ring);
  int prev = (rank + size - 1) % size, next = (rank + 1) % size;
  MPI_Request rq[3];
  /* allgatherv: 2 ints from each, prev's at 3, next's at 0 */
  int two[2] = {rank, -rank}, agv[6] = {-9, -9, -9, -9, -9, -9}, counts[2] = {2, 2}, displs[2] = {3, 0};
  MPI_Ineighbor_allgatherv(two, 2, MPI_INT, agv, counts, displs, MPI_INT, ring, &rq[0]);
  /* alltoall: to prev rank*10, to next rank*10+1 */
  int a2a[2] = {rank * 10, rank * 10 + 1}, got[2] = {-1, -1};
  MPI_Ineighbor_alltoall(a2a, 1, MPI_INT, got, 1, MPI_INT, ring, &rq[1]);
  /* alltoallw: a double to prev, an int to next, byte displacements */
  struct { int i; double d; } sendw = {rank, rank + 0.5}, recvw = {-1, -1};
  int wc[2] = {1, 1};
  MPI_Aint so[2] = {(char *)&sendw.d - (char *)&sendw, 0}, ro[2] = {(char *)&recvw.i - (char *)&recvw, (char *)&recvw.d - (char *)&recvw};
  MPI_Datatype st[2] = {MPI_DOUBLE, MPI_INT}, rt[2] = {MPI_INT, MPI_DOUBLE};
  MPI_Ineighbor_alltoallw(&sendw, wc, so, st, &recvw, wc, ro, rt, ring, &rq[2]);
  MPI_Waitall(3, rq, MPI_STATUSES_IGNORE);
  CHECK(agv[3] == prev && agv[4] == -prev && agv[0] == next && agv[1] == -next && agv[2] == -9 && agv[5] == -9, "Ineighbor_allgatherv %d %d %d %d", agv[0], agv[1], agv[3], agv[4]);
  /* from prev: what prev sent to its next (prev*10+1); from next: next*10 */
  CHECK(got[0] == prev * 10 + 1 && got[1] == next * 10, "Ineighbor_alltoall %d %d", got[0], got[1]);
  /* slot 0 (prev) sent its int to its next (us); slot 1 (next) sent its double to its prev (us) */
  CHECK(recvw.i == prev && recvw.d == next + 0.5, "Ineighbor_alltoallw %d %f", recvw.i, recvw.d);
  MPI_Comm_free(&ring);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  cartesian();
  star();
  distributed();
  nonblocking();
  return finish("ch7-topo");
}
