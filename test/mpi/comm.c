/* Communicators and what hangs off them: dup/idup/split/create/free,
 * compare, names, groups, attributes and keyvals, info objects,
 * Cartesian topologies, MPI_Alloc_mem. */
#include "check.h"
#include <stdlib.h>
#include <string.h>

static int copies = 0, deletes = 0;
static int copy_fn(MPI_Comm c, int key, void *extra, void *in, void *out, int *flag) {
  (void)c, (void)key, (void)extra;
  copies++;
  *(void **)out = (char *)in + 1;
  *flag = 1;
  return MPI_SUCCESS;
}
static int delete_fn(MPI_Comm c, int key, void *val, void *extra) {
  (void)c, (void)key, (void)val, (void)extra;
  deletes++;
  return MPI_SUCCESS;
}

int main(int argc, char **argv) {
  int rank, size, r, n, result;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  /* dup: same ranks, separate traffic */
  MPI_Comm dup;
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  MPI_Comm_rank(dup, &r);
  MPI_Comm_size(dup, &n);
  CHECK(r == rank && n == size, "dup rank/size");
  MPI_Comm_compare(MPI_COMM_WORLD, dup, &result);
  CHECK(result == MPI_CONGRUENT, "dup is congruent: %d", result);
  MPI_Comm_compare(dup, dup, &result);
  CHECK(result == MPI_IDENT, "a comm is identical to itself");
  {
    int a = rank, b = -1;
    MPI_Request rq;
    MPI_Irecv(&b, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, &rq);
    MPI_Send(&a, 1, MPI_INT, (rank + 1) % size, 0, dup); /* must not match the world receive */
    MPI_Recv(&b, 1, MPI_INT, MPI_ANY_SOURCE, 0, dup, MPI_STATUS_IGNORE);
    CHECK(b == (rank + size - 1) % size, "dup traffic");
    MPI_Send(&a, 1, MPI_INT, (rank + 1) % size, 0, MPI_COMM_WORLD);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
  }
  /* names */
  char name[MPI_MAX_OBJECT_NAME];
  int len;
  MPI_Comm_get_name(MPI_COMM_WORLD, name, &len);
  CHECK(strcmp(name, "MPI_COMM_WORLD") == 0 && len == 14, "world's name");
  MPI_Comm_set_name(dup, "my dup");
  MPI_Comm_get_name(dup, name, &len);
  CHECK(strcmp(name, "my dup") == 0, "set_name");

  /* split by parity, ordered by descending rank */
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, -rank, &half);
  MPI_Comm_rank(half, &r);
  MPI_Comm_size(half, &n);
  int expect_n = (size + 1 - rank % 2) / 2;
  CHECK(n == expect_n, "split size %d", n);
  CHECK(r == (size - 1 - rank) / 2, "split rank %d (ordered by descending world rank)", r);
  {
    int sum = 0;
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, half);
    int expect = 0;
    for (int k = rank % 2; k < size; k += 2) expect += k;
    CHECK(sum == expect, "allreduce on the split");
    /* the split's group translated back to the world */
    MPI_Group wg, hg;
    MPI_Comm_group(MPI_COMM_WORLD, &wg);
    MPI_Comm_group(half, &hg);
    int *hr = malloc(n * sizeof(int)), *wr = malloc(n * sizeof(int));
    for (int k = 0; k < n; k++) hr[k] = k;
    MPI_Group_translate_ranks(hg, n, hr, wg, wr);
    for (int k = 0; k < n; k++) CHECK(wr[k] % 2 == rank % 2 && (k == 0 || wr[k] < wr[k - 1]), "translate ranks %d -> %d", k, wr[k]);
    MPI_Group_rank(hg, &r);
    int me_in_half;
    MPI_Comm_rank(half, &me_in_half);
    CHECK(r == me_in_half, "Group_rank");
    free(hr), free(wr);
    MPI_Group_free(&hg);
    MPI_Group_free(&wg);
  }
  MPI_Comm none;
  MPI_Comm_split(MPI_COMM_WORLD, rank == 0 ? MPI_UNDEFINED : 1, 0, &none);
  CHECK(rank == 0 ? none == MPI_COMM_NULL : none != MPI_COMM_NULL, "split with MPI_UNDEFINED");
  if (none != MPI_COMM_NULL) MPI_Comm_free(&none);

  /* groups */
  {
    MPI_Group world, evens, odds, u, i, d, first, tail;
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    int ranges[1][3] = {{0, size - 1, 2}};
    MPI_Group_range_incl(world, 1, ranges, &evens);
    MPI_Group_range_excl(world, 1, ranges, &odds);
    MPI_Group_size(evens, &n);
    CHECK(n == (size + 1) / 2, "range_incl size");
    MPI_Group_union(evens, odds, &u);
    MPI_Group_size(u, &n);
    CHECK(n == size, "union size");
    MPI_Group_compare(u, world, &result);
    CHECK(result == (size <= 2 ? MPI_IDENT : MPI_SIMILAR), "union vs world: %d", result);
    MPI_Group_intersection(evens, odds, &i);
    MPI_Group_size(i, &n);
    CHECK(n == 0 && i == MPI_GROUP_EMPTY, "intersection is empty");
    MPI_Group_difference(world, odds, &d);
    MPI_Group_compare(d, evens, &result);
    CHECK(result == MPI_IDENT, "difference");
    int zero = 0;
    MPI_Group_incl(world, 1, &zero, &first);
    MPI_Group_excl(world, 1, &zero, &tail);
    MPI_Group_size(tail, &n);
    CHECK(n == size - 1, "excl");
    MPI_Group_rank(first, &r);
    CHECK(r == (rank == 0 ? 0 : MPI_UNDEFINED), "Group_rank outside the group");
    /* Comm_create from the evens */
    MPI_Comm ec;
    MPI_Comm_create(MPI_COMM_WORLD, evens, &ec);
    if (rank % 2 == 0) {
      MPI_Comm_size(ec, &n);
      MPI_Comm_rank(ec, &r);
      CHECK(n == (size + 1) / 2 && r == rank / 2, "Comm_create");
      int s = 0;
      MPI_Allreduce(&rank, &s, 1, MPI_INT, MPI_MAX, ec);
      CHECK(s == (size - 1) / 2 * 2, "allreduce on Comm_create's comm");
      MPI_Comm_free(&ec);
    } else {
      CHECK(ec == MPI_COMM_NULL, "Comm_create gives MPI_COMM_NULL outside the group");
    }
    MPI_Group gs[8] = {world, evens, odds, u, d, first, tail, i};
    for (int k = 0; k < 8; k++) MPI_Group_free(&gs[k]);
    CHECK(gs[0] == MPI_GROUP_NULL, "Group_free");
  }
  /* attributes */
  {
    int *tag_ub, flag;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &tag_ub, &flag);
    CHECK(flag && *tag_ub >= 32767, "MPI_TAG_UB");
    int *wtg;
    MPI_Attr_get(MPI_COMM_WORLD, MPI_WTIME_IS_GLOBAL, &wtg, &flag);
    CHECK(flag, "MPI_WTIME_IS_GLOBAL");
    int key, key2;
    static char value[4];
    MPI_Comm_create_keyval(copy_fn, delete_fn, &key, NULL);
    MPI_Comm_create_keyval(MPI_COMM_DUP_FN, MPI_COMM_NULL_DELETE_FN, &key2, NULL);
    MPI_Comm_set_attr(dup, key, value);
    MPI_Comm_set_attr(dup, key2, value + 2);
    void *got;
    MPI_Comm_get_attr(dup, key, &got, &flag);
    CHECK(flag && got == value, "get_attr");
    MPI_Comm dd;
    MPI_Comm_dup(dup, &dd);
    MPI_Comm_get_attr(dd, key, &got, &flag);
    CHECK(flag && got == value + 1 && copies == 1, "copy callback on dup");
    MPI_Comm_get_attr(dd, key2, &got, &flag);
    CHECK(flag && got == value + 2, "MPI_COMM_DUP_FN");
    MPI_Comm_delete_attr(dup, key);
    CHECK(deletes == 1, "delete callback");
    MPI_Comm_get_attr(dup, key, &got, &flag);
    CHECK(!flag, "deleted attribute");
    MPI_Comm_free(&dd);
    CHECK(deletes == 2 && dd == MPI_COMM_NULL, "free calls delete callbacks");
    MPI_Comm_free_keyval(&key);
    MPI_Comm_free_keyval(&key2);
    CHECK(key == MPI_KEYVAL_INVALID, "free_keyval");
  }
  /* idup, split_type, test_inter */
  {
    MPI_Comm id;
    MPI_Request rq;
    MPI_Comm_idup(MPI_COMM_WORLD, &id, &rq);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
    int s = 0;
    MPI_Allreduce(&rank, &s, 1, MPI_INT, MPI_SUM, id);
    CHECK(s == size * (size - 1) / 2, "Comm_idup");
    MPI_Comm_free(&id);
    MPI_Comm shared;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &shared);
    /* §6.4.2: each rank gets the ranks that can share its memory, itself
     * included (under fmi: itself alone), keyed by world rank. */
    int srank, wr = -1;
    MPI_Comm_size(shared, &n);
    MPI_Comm_rank(shared, &srank);
    MPI_Group sg, wg;
    MPI_Comm_group(shared, &sg);
    MPI_Comm_group(MPI_COMM_WORLD, &wg);
    MPI_Group_translate_ranks(sg, 1, &srank, wg, &wr);
    CHECK(n >= 1 && n <= size && wr == rank, "Comm_split_type shared: size %d, my world rank %d", n, wr);
    MPI_Group_free(&sg);
    MPI_Group_free(&wg);
#ifdef __EMSCRIPTEN__
    CHECK(n == 1, "each fmi rank is its own shared-memory node");
#endif
    MPI_Comm_free(&shared);
    int inter;
    MPI_Comm_test_inter(MPI_COMM_WORLD, &inter);
    CHECK(inter == 0, "test_inter");
  }
  /* MPI_COMM_SELF */
  {
    MPI_Comm_size(MPI_COMM_SELF, &n);
    MPI_Comm_rank(MPI_COMM_SELF, &r);
    int x = rank, y = -1;
    MPI_Allreduce(&x, &y, 1, MPI_INT, MPI_SUM, MPI_COMM_SELF);
    CHECK(n == 1 && r == 0 && y == rank, "MPI_COMM_SELF");
    MPI_Sendrecv(&x, 1, MPI_INT, 0, 5, &y, 1, MPI_INT, 0, 5, MPI_COMM_SELF, MPI_STATUS_IGNORE);
    CHECK(y == rank, "Sendrecv to self on MPI_COMM_SELF");
  }
  /* info */
  {
    MPI_Info info, copy;
    int flag, nkeys, vlen;
    char val[MPI_MAX_INFO_VAL + 1], key[MPI_MAX_INFO_KEY + 1];
    MPI_Info_create(&info);
    MPI_Info_set(info, "color", "blue");
    MPI_Info_set(info, "size", "large");
    MPI_Info_get(info, "color", MPI_MAX_INFO_VAL, val, &flag);
    CHECK(flag && strcmp(val, "blue") == 0, "Info_get");
    MPI_Info_get_valuelen(info, "size", &vlen, &flag);
    CHECK(flag && vlen == 5, "Info_get_valuelen");
    MPI_Info_dup(info, &copy);
    MPI_Info_delete(info, "color");
    MPI_Info_get_nkeys(info, &nkeys);
    CHECK(nkeys == 1, "Info_delete");
    MPI_Info_get_nthkey(copy, 1, key);
    CHECK(strcmp(key, "size") == 0, "Info_get_nthkey");
    MPI_Info_get(info, "color", MPI_MAX_INFO_VAL, val, &flag);
    CHECK(!flag, "deleted key");
    MPI_Info_free(&info);
    MPI_Info_free(&copy);
    CHECK(info == MPI_INFO_NULL, "Info_free");
  }
  /* Cartesian topology */
  {
    int dims[3] = {0, 0, 0}, periods[3] = {1, 0, 1}, coords[3], back;
    MPI_Dims_create(size, 3, dims);
    CHECK(dims[0] * dims[1] * dims[2] == size && dims[0] >= dims[1] && dims[1] >= dims[2], "Dims_create %d %d %d", dims[0], dims[1], dims[2]);
    int d12[2] = {0, 0};
    MPI_Dims_create(12, 2, d12);
    CHECK(d12[0] == 4 && d12[1] == 3, "Dims_create(12, 2) = %dx%d", d12[0], d12[1]);
    int fixed[2] = {0, 2};
    if (size % 2 == 0) {
      MPI_Dims_create(size, 2, fixed);
      CHECK(fixed[0] == size / 2 && fixed[1] == 2, "Dims_create with a fixed dimension");
    }
    MPI_Comm cart;
    MPI_Cart_create(MPI_COMM_WORLD, 3, dims, periods, 0, &cart);
    MPI_Comm_rank(cart, &r);
    MPI_Cart_coords(cart, r, 3, coords);
    MPI_Cart_rank(cart, coords, &back);
    CHECK(back == r, "Cart_rank(Cart_coords(r)) == r");
    int src, dst;
    MPI_Cart_shift(cart, 1, 1, &src, &dst);
    CHECK(coords[1] == 0 ? src == MPI_PROC_NULL : src >= 0, "non-periodic shift");
    CHECK(coords[1] == dims[1] - 1 ? dst == MPI_PROC_NULL : dst >= 0, "non-periodic shift (dest)");
    MPI_Cart_shift(cart, 0, 1, &src, &dst);
    CHECK(src != MPI_PROC_NULL && dst != MPI_PROC_NULL, "periodic shift");
    int v = r, got = -1;
    MPI_Sendrecv(&v, 1, MPI_INT, dst, 0, &got, 1, MPI_INT, src, 0, cart, MPI_STATUS_IGNORE);
    CHECK(got == src, "shift exchange");
    int gd[3], gp[3], gc[3], nd, status;
    MPI_Cart_get(cart, 3, gd, gp, gc);
    MPI_Cartdim_get(cart, &nd);
    MPI_Topo_test(cart, &status);
    CHECK(nd == 3 && gp[0] == 1 && gp[1] == 0 && gc[2] == coords[2] && status == MPI_CART, "Cart_get/Cartdim_get/Topo_test");
    MPI_Topo_test(MPI_COMM_WORLD, &status);
    CHECK(status == MPI_UNDEFINED, "Topo_test of the world");
    int remain[3] = {1, 0, 0};
    MPI_Comm rows;
    MPI_Cart_sub(cart, remain, &rows);
    MPI_Comm_size(rows, &n);
    MPI_Comm_rank(rows, &r);
    CHECK(n == dims[0] && r == coords[0], "Cart_sub size %d rank %d", n, r);
    int s = 0;
    MPI_Allreduce(&coords[0], &s, 1, MPI_INT, MPI_SUM, rows);
    CHECK(s == dims[0] * (dims[0] - 1) / 2, "allreduce along a Cart_sub");
    MPI_Comm_free(&rows);
    MPI_Comm_free(&cart);
  }
  /* memory */
  {
    double *p;
    MPI_Alloc_mem(100 * sizeof(double), MPI_INFO_NULL, &p);
    p[99] = 1;
    MPI_Free_mem(p);
  }
  MPI_Comm_free(&half);
  MPI_Comm_free(&dup);
  CHECK(dup == MPI_COMM_NULL, "Comm_free sets MPI_COMM_NULL");
  return finish("comm");
}
