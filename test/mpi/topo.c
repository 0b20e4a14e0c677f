/* Graph and distributed graph topologies and the neighborhood collectives
 * on them and on Cartesian grids (periodic or not, 1-D and 2-D), blocking
 * and non-blocking; arrays distributed over process grids (darray). */
#include "check.h"
#include <stdlib.h>

/* Does the process at coordinate c of p hold index i of a dimension of g? */
static int holds(int i, int g, int distrib, int darg, int p, int c) {
  if (distrib == MPI_DISTRIBUTE_NONE) return 1;
  if (distrib == MPI_DISTRIBUTE_BLOCK) {
    int b = darg == MPI_DISTRIBUTE_DFLT_DARG ? (g + p - 1) / p : darg;
    return i / b == c;
  }
  int b = darg == MPI_DISTRIBUTE_DFLT_DARG ? 1 : darg;
  return (i / b) % p == c;
}

/* Checks a 2-D darray of process r of a p0 x p1 grid against a brute-force walk of the array. */
static void check_darray(int r, const int g[2], const int dist[2], const int darg[2], const int p[2], int order) {
  int psize = p[0] * p[1], c0 = r / p[1], c1 = r % p[1], n = g[0] * g[1];
  MPI_Datatype t;
  MPI_Type_create_darray(psize, r, 2, g, dist, darg, p, order, MPI_INT, &t);
  MPI_Type_commit(&t);
  int *a = malloc(n * sizeof(int)), *want = malloc(n * sizeof(int)), *got = malloc(n * sizeof(int)), k = 0;
  for (int x = 0; x < n; x++) a[x] = x;
  /* Memory order: C walks i (dimension 0) slowest, Fortran j (dimension 1) slowest. */
  for (int s = 0; s < g[order == MPI_ORDER_C ? 0 : 1]; s++)
    for (int f = 0; f < g[order == MPI_ORDER_C ? 1 : 0]; f++) {
      int i = order == MPI_ORDER_C ? s : f, j = order == MPI_ORDER_C ? f : s;
      if (holds(i, g[0], dist[0], darg[0], p[0], c0) && holds(j, g[1], dist[1], darg[1], p[1], c1))
        want[k++] = order == MPI_ORDER_C ? i * g[1] + j : i + j * g[0];
    }
  int size, pos = 0, ni, na, nd, comb;
  MPI_Aint lb, extent;
  MPI_Type_size(t, &size);
  MPI_Type_get_extent(t, &lb, &extent);
  CHECK(size == k * 4 && lb == 0 && extent == n * 4, "darray of %d: size %d (want %d), extent %ld", r, size, k * 4, (long)extent);
  MPI_Pack(a, 1, t, got, n * 4, &pos, MPI_COMM_SELF);
  int same = pos == k * 4;
  for (int x = 0; same && x < k; x++) same = got[x] == want[x];
  CHECK(same, "darray of process %d packs its elements in memory order", r);
  MPI_Type_get_envelope(t, &ni, &na, &nd, &comb);
  CHECK(comb == MPI_COMBINER_DARRAY && ni == 4 * 2 + 4 && nd == 1, "darray envelope");
  MPI_Type_free(&t);
  free(a), free(want), free(got);
}

int main(int argc, char **argv) {
  int rank, size;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;

  /* A ring as a graph: neighbors prev, next */
  {
    int *index = malloc(size * sizeof(int)), *edges = malloc(2 * size * sizeof(int));
    for (int r = 0; r < size; r++) {
      index[r] = 2 * (r + 1);
      edges[2 * r] = (r + size - 1) % size;
      edges[2 * r + 1] = (r + 1) % size;
    }
    MPI_Comm g;
    MPI_Graph_create(MPI_COMM_WORLD, size, index, edges, 0, &g);
    int status = -1, nnodes, nedges, count, nb[2], gi[64], ge[128];
    MPI_Topo_test(g, &status);
    CHECK(status == MPI_GRAPH, "Topo_test of a graph: %d", status);
    MPI_Graphdims_get(g, &nnodes, &nedges);
    CHECK(nnodes == size && nedges == 2 * size, "Graphdims_get %d %d", nnodes, nedges);
    MPI_Graph_get(g, size, 2 * size, gi, ge);
    CHECK(gi[size - 1] == 2 * size && ge[1] == 1 % size, "Graph_get");
    MPI_Graph_neighbors_count(g, rank, &count);
    MPI_Graph_neighbors(g, rank, 2, nb);
    CHECK(count == 2 && nb[0] == prev && nb[1] == next, "Graph_neighbors %d: %d %d", count, nb[0], nb[1]);
    int got[2] = {-1, -1};
    MPI_Neighbor_allgather(&rank, 1, MPI_INT, got, 1, MPI_INT, g);
    CHECK(got[0] == prev && got[1] == next, "Neighbor_allgather on a graph: %d %d", got[0], got[1]);
    MPI_Comm_free(&g);
    free(index), free(edges);
  }
  /* Graph_create on fewer nodes than ranks: the others get MPI_COMM_NULL */
  {
    int index[1] = {0}, edges[1];
    MPI_Comm g;
    MPI_Graph_create(MPI_COMM_WORLD, 1, index, edges, 0, &g);
    CHECK(rank == 0 ? g != MPI_COMM_NULL : g == MPI_COMM_NULL, "Graph_create of one node");
    if (g != MPI_COMM_NULL) MPI_Comm_free(&g);
  }
  /* 1-D periodic grid: what goes down fills the receiver's "from above" slot */
  {
    int dims[1] = {size}, periods[1] = {1};
    MPI_Comm c;
    MPI_Cart_create(MPI_COMM_WORLD, 1, dims, periods, 0, &c);
    int out[2] = {rank * 10, rank * 10 + 1}, in[2] = {-1, -1};
    MPI_Neighbor_alltoall(out, 1, MPI_INT, in, 1, MPI_INT, c);
    CHECK(in[0] == prev * 10 + 1 && in[1] == next * 10, "Neighbor_alltoall on a periodic line: %d %d", in[0], in[1]);
    /* Alltoallw: byte displacements, a type per neighbor */
    double d = rank + 0.5, dd[2] = {-1, -1};
    int sc[2] = {1, 1}, rc[2] = {1, 1};
    MPI_Aint sd[2] = {0, 0}, rd[2] = {0, sizeof(double)};
    MPI_Datatype st[2] = {MPI_DOUBLE, MPI_DOUBLE}, rtypes[2] = {MPI_DOUBLE, MPI_DOUBLE};
    MPI_Neighbor_alltoallw(&d, sc, sd, st, dd, rc, rd, rtypes, c);
    CHECK(dd[0] == prev + 0.5 && dd[1] == next + 0.5, "Neighbor_alltoallw: %f %f", dd[0], dd[1]);
    MPI_Comm_free(&c);
  }
  /* 1-D non-periodic grid: the ends have MPI_PROC_NULL neighbors, their slots stay as they were */
  {
    int dims[1] = {size}, periods[1] = {0};
    MPI_Comm c;
    MPI_Cart_create(MPI_COMM_WORLD, 1, dims, periods, 0, &c);
    int in[2] = {-1, -1};
    MPI_Request r;
    MPI_Ineighbor_allgather(&rank, 1, MPI_INT, in, 1, MPI_INT, c, &r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    CHECK(in[0] == (rank > 0 ? rank - 1 : -1) && in[1] == (rank < size - 1 ? rank + 1 : -1), "Ineighbor_allgather on a line: %d %d", in[0], in[1]);
    MPI_Comm_free(&c);
  }
  /* 2-D grid */
  {
    int dims[2] = {0, 0}, periods[2] = {1, 1}, coords[2];
    MPI_Dims_create(size, 2, dims);
    MPI_Comm c;
    MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &c);
    MPI_Cart_coords(c, rank, 2, coords);
    int in[4] = {-1, -1, -1, -1}, want[4];
    for (int dim = 0; dim < 2; dim++) MPI_Cart_shift(c, dim, 1, &want[2 * dim], &want[2 * dim + 1]);
    MPI_Neighbor_allgather(&rank, 1, MPI_INT, in, 1, MPI_INT, c);
    for (int k = 0; k < 4; k++) CHECK(in[k] == want[k], "2-D Neighbor_allgather slot %d: %d, want %d", k, in[k], want[k]);
    MPI_Comm_free(&c);
  }
  /* Distributed graph, adjacent form: two weighted edges to next, matched in order */
  {
    int srcs[2] = {prev, prev}, sw[2] = {1, 2}, dsts[2] = {next, next}, dw[2] = {1, 2};
    MPI_Comm dg;
    MPI_Dist_graph_create_adjacent(MPI_COMM_WORLD, 2, srcs, sw, 2, dsts, dw, MPI_INFO_NULL, 0, &dg);
    int status, indeg, outdeg, weighted, s2[2], w2[2], d2[2], x2[2];
    MPI_Topo_test(dg, &status);
    MPI_Dist_graph_neighbors_count(dg, &indeg, &outdeg, &weighted);
    CHECK(status == MPI_DIST_GRAPH && indeg == 2 && outdeg == 2 && weighted, "Dist_graph_neighbors_count");
    MPI_Dist_graph_neighbors(dg, 2, s2, w2, 2, d2, x2);
    CHECK(s2[1] == prev && w2[1] == 2 && d2[0] == next && x2[0] == 1, "Dist_graph_neighbors");
    int out[2] = {rank * 10, rank * 10 + 1}, in[2] = {-1, -1};
    MPI_Neighbor_alltoall(out, 1, MPI_INT, in, 1, MPI_INT, dg);
    CHECK(in[0] == prev * 10 && in[1] == prev * 10 + 1, "Neighbor_alltoall on a dist graph: %d %d", in[0], in[1]);
    int sc[2] = {1, 2}, sd[2] = {0, 1}, rc[2] = {1, 2}, rdsp[2] = {3, 0}, vin[4] = {-1, -1, -1, -1}, vout[3] = {rank, rank + 100, rank + 200};
    MPI_Request r;
    MPI_Ineighbor_alltoallv(vout, sc, sd, MPI_INT, vin, rc, rdsp, MPI_INT, dg, &r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    CHECK(vin[3] == prev && vin[0] == prev + 100 && vin[1] == prev + 200 && vin[2] == -1, "Ineighbor_alltoallv: %d %d %d %d", vin[0], vin[1], vin[2], vin[3]);
    MPI_Comm_free(&dg);
  }
  /* Distributed graph from edges any rank names: rank 0 names the whole ring */
  {
    int n = rank == 0 ? size : 0;
    int *srcs = malloc(size * sizeof(int)), *deg = malloc(size * sizeof(int)), *dsts = malloc(size * sizeof(int));
    for (int r = 0; r < size; r++) srcs[r] = r, deg[r] = 1, dsts[r] = (r + 1) % size;
    MPI_Comm dg;
    MPI_Dist_graph_create(MPI_COMM_WORLD, n, srcs, deg, dsts, MPI_UNWEIGHTED, MPI_INFO_NULL, 0, &dg);
    int indeg, outdeg, weighted, s1, d1;
    MPI_Dist_graph_neighbors_count(dg, &indeg, &outdeg, &weighted);
    MPI_Dist_graph_neighbors(dg, 1, &s1, MPI_UNWEIGHTED, 1, &d1, MPI_UNWEIGHTED);
    CHECK(indeg == 1 && outdeg == 1 && !weighted && s1 == prev && d1 == next, "Dist_graph_create: %d %d %d", indeg, s1, d1);
    int counts[1] = {2}, displs[1] = {1}, two[2] = {rank, -rank}, in[3] = {-1, -1, -1};
    MPI_Neighbor_allgatherv(two, 2, MPI_INT, in, counts, displs, MPI_INT, dg);
    CHECK(in[0] == -1 && in[1] == prev && in[2] == -prev, "Neighbor_allgatherv: %d %d %d", in[0], in[1], in[2]);
    MPI_Comm_free(&dg);
    free(srcs), free(deg), free(dsts);
  }
  /* darray: every process of some grids (computed locally: no communication needed) */
  {
    int g[2] = {7, 5}, p22[2] = {2, 2}, p31[2] = {3, 1}, p16[2] = {1, 6};
    int bb[2] = {MPI_DISTRIBUTE_BLOCK, MPI_DISTRIBUTE_BLOCK}, cn[2] = {MPI_DISTRIBUTE_CYCLIC, MPI_DISTRIBUTE_NONE};
    int nc[2] = {MPI_DISTRIBUTE_NONE, MPI_DISTRIBUTE_CYCLIC}, dflt[2] = {MPI_DISTRIBUTE_DFLT_DARG, MPI_DISTRIBUTE_DFLT_DARG};
    int two[2] = {2, MPI_DISTRIBUTE_DFLT_DARG}, b4[2] = {4, 3};
    for (int r = 0; r < 4; r++) check_darray(r, g, bb, dflt, p22, MPI_ORDER_C);
    for (int r = 0; r < 4; r++) check_darray(r, g, bb, b4, p22, MPI_ORDER_FORTRAN);
    for (int r = 0; r < 3; r++) check_darray(r, g, cn, two, p31, MPI_ORDER_C);
    for (int r = 0; r < 6; r++) check_darray(r, g, nc, dflt, p16, MPI_ORDER_FORTRAN);
    /* ...and sent: rank 0 hands every rank its cyclic rows of a size x 4 array */
    int gs[2] = {3 * size, 4}, ps[2] = {size, 1}, *whole = malloc(12 * size * sizeof(int)), mine[12];
    for (int x = 0; x < 12 * size; x++) whole[x] = x;
    if (rank == 0) {
      for (int r = 0; r < size; r++) {
        MPI_Datatype t;
        MPI_Type_create_darray(size, r, 2, gs, cn, dflt, ps, MPI_ORDER_C, MPI_INT, &t);
        MPI_Type_commit(&t);
        MPI_Send(whole, 1, t, r, 5, MPI_COMM_WORLD);
        MPI_Type_free(&t);
      }
    }
    MPI_Recv(mine, 12, MPI_INT, 0, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    for (int k = 0; k < 3; k++) CHECK(mine[4 * k + 1] == (rank + k * size) * 4 + 1, "cyclic row %d of rank %d: %d", k, rank, mine[4 * k + 1]);
    free(whole);
  }
  /* Without a topology: MPI_ERR_TOPOLOGY */
  {
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int x = 0, y[2], cls = -1;
    int rc = MPI_Neighbor_allgather(&x, 1, MPI_INT, y, 1, MPI_INT, MPI_COMM_WORLD);
    MPI_Error_class(rc, &cls);
    /* Erroneous (§7.6): the class is the implementation's (Open MPI: MPI_ERR_OTHER). */
    CHECK(rc != MPI_SUCCESS, "Neighbor_allgather without a topology succeeded");
#ifdef __EMSCRIPTEN__
    CHECK(cls == MPI_ERR_TOPOLOGY, "Neighbor_allgather without a topology: class %d", cls);
#endif
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  }
  return finish("topo");
}
