/* Derived datatypes: every constructor, their sizes, extents and contents,
 * sending and receiving through them, MPI_Pack/MPI_Unpack. */
#include "check.h"
#include <stddef.h>
#include <string.h>

int main(int argc, char **argv) {
  int rank, size, sz;
  MPI_Aint lb, ext;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;

  /* predefined sizes on wasm32 */
  MPI_Type_size(MPI_LONG, &sz);
  CHECK(sz == sizeof(long), "MPI_LONG size %d", sz);
  MPI_Type_size(MPI_LONG_DOUBLE, &sz);
  CHECK(sz == sizeof(long double), "MPI_LONG_DOUBLE size %d", sz);
  MPI_Type_get_extent(MPI_DOUBLE_INT, &lb, &ext);
  struct { double d; int i; } di;
  CHECK(lb == 0 && ext == sizeof di, "MPI_DOUBLE_INT extent %ld", (long)ext);
  MPI_Type_size(MPI_DOUBLE_INT, &sz);
  CHECK(sz == 12, "MPI_DOUBLE_INT size %d", sz);

  /* contiguous */
  MPI_Datatype c3;
  MPI_Type_contiguous(3, MPI_INT, &c3);
  MPI_Type_commit(&c3);
  MPI_Type_size(c3, &sz);
  MPI_Type_get_extent(c3, &lb, &ext);
  CHECK(sz == 12 && lb == 0 && ext == 12, "contiguous size/extent");

  /* vector: a column of a 4x5 matrix */
  MPI_Datatype col;
  MPI_Type_vector(4, 1, 5, MPI_DOUBLE, &col);
  MPI_Type_commit(&col);
  MPI_Type_size(col, &sz);
  MPI_Type_get_extent(col, &lb, &ext);
  CHECK(sz == 32 && ext == (3 * 5 + 1) * 8, "vector size %d extent %ld", sz, (long)ext);
  {
    double m[4][5], got[4][5];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 5; j++) m[i][j] = rank * 100 + i * 10 + j, got[i][j] = -1;
    /* send column 2, receive it into column 4 */
    MPI_Sendrecv(&m[0][2], 1, col, next, 0, &got[0][4], 1, col, prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    for (int i = 0; i < 4; i++) CHECK(got[i][4] == prev * 100 + i * 10 + 2 && got[i][3] == -1, "vector column row %d", i);
    /* a column received as 4 contiguous doubles */
    double flat[4];
    MPI_Status st;
    MPI_Sendrecv(&m[0][1], 1, col, next, 1, flat, 4, MPI_DOUBLE, prev, 1, MPI_COMM_WORLD, &st);
    int n;
    MPI_Get_count(&st, col, &n);
    CHECK(n == 1 && flat[3] == prev * 100 + 31, "vector to contiguous");
    MPI_Get_elements(&st, col, &n);
    CHECK(n == 4, "Get_elements of a vector: %d", n);
    /* a vector broadcast */
    double bm[4][5] = {{0}};
    if (rank == 0) memcpy(bm, m, sizeof bm);
    MPI_Bcast(&bm[0][0], 1, col, 0, MPI_COMM_WORLD);
    CHECK(bm[2][0] == 20 && bm[2][1] == (rank == 0 ? 21 : 0), "Bcast of a vector type");
  }
  /* hvector, indexed, hindexed, indexed_block, hindexed_block */
  {
    MPI_Datatype hv, ix, hix, ib, hib;
    MPI_Type_create_hvector(3, 2, 5 * sizeof(int), MPI_INT, &hv);
    int bls[3] = {2, 1, 3}, dis[3] = {0, 4, 7};
    MPI_Type_indexed(3, bls, dis, MPI_INT, &ix);
    MPI_Aint hdis[3] = {0, 16, 28};
    MPI_Type_create_hindexed(3, bls, hdis, MPI_INT, &hix);
    int bdis[2] = {1, 6};
    MPI_Type_create_indexed_block(2, 2, bdis, MPI_INT, &ib);
    MPI_Aint hbdis[2] = {4, 24};
    MPI_Type_create_hindexed_block(2, 2, hbdis, MPI_INT, &hib);
    MPI_Datatype all[5] = {hv, ix, hix, ib, hib};
    int expect_idx[5][8] = {{0, 1, 5, 6, 10, 11}, {0, 1, 4, 7, 8, 9}, {0, 1, 4, 7, 8, 9}, {1, 2, 6, 7}, {1, 2, 6, 7}};
    int expect_n[5] = {6, 6, 6, 4, 4};
    for (int t = 0; t < 5; t++) {
      MPI_Type_commit(&all[t]);
      MPI_Type_size(all[t], &sz);
      CHECK(sz == 4 * expect_n[t], "type %d size %d", t, sz);
      int src[16], dst[16];
      for (int i = 0; i < 16; i++) src[i] = rank * 100 + i, dst[i] = -1;
      MPI_Sendrecv(src, 1, all[t], next, t, dst, expect_n[t], MPI_INT, prev, t, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      for (int k = 0; k < expect_n[t]; k++) CHECK(dst[k] == prev * 100 + expect_idx[t][k], "type %d element %d: %d", t, k, dst[k]);
      /* and back into the strided layout */
      int back[16];
      for (int i = 0; i < 16; i++) back[i] = -1;
      MPI_Sendrecv(dst, expect_n[t], MPI_INT, prev, 10 + t, back, 1, all[t], next, 10 + t, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      for (int k = 0; k < expect_n[t]; k++) CHECK(back[expect_idx[t][k]] == rank * 100 + expect_idx[t][k], "type %d unpack element %d", t, k);
      CHECK(back[15] == -1, "type %d leaves the gaps alone", t);
      MPI_Type_free(&all[t]);
      CHECK(all[t] == MPI_DATATYPE_NULL, "Type_free sets MPI_DATATYPE_NULL");
    }
  }
  /* struct, with MPI_Get_address, an array of structs, resized */
  {
    typedef struct { char c; double d; int n[2]; } rec;
    rec r[3];
    MPI_Aint base, a1, a2, a3;
    MPI_Get_address(&r[0], &base);
    MPI_Get_address(&r[0].c, &a1);
    MPI_Get_address(&r[0].d, &a2);
    MPI_Get_address(&r[0].n, &a3);
    int bl[3] = {1, 1, 2};
    MPI_Aint disp[3] = {a1 - base, a2 - base, MPI_Aint_diff(a3, base)};
    MPI_Datatype tys[3] = {MPI_CHAR, MPI_DOUBLE, MPI_INT}, rt;
    MPI_Type_create_struct(3, bl, disp, tys, &rt);
    MPI_Type_commit(&rt);
    MPI_Type_size(rt, &sz);
    MPI_Type_get_extent(rt, &lb, &ext);
    CHECK(sz == 1 + 8 + 8 && ext == sizeof(rec), "struct size %d extent %ld (sizeof %zu)", sz, (long)ext, sizeof(rec));
    MPI_Aint tlb, text;
    MPI_Type_get_true_extent(rt, &tlb, &text);
    CHECK(tlb == 0 && text == offsetof(rec, n) + 8, "struct true extent");
    for (int i = 0; i < 3; i++) r[i].c = (char)('A' + rank), r[i].d = rank + i / 4.0, r[i].n[0] = i, r[i].n[1] = -i;
    rec g[3];
    memset(g, 0, sizeof g);
    MPI_Sendrecv(r, 3, rt, next, 20, g, 3, rt, prev, 20, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    for (int i = 0; i < 3; i++) CHECK(g[i].c == 'A' + prev && g[i].d == prev + i / 4.0 && g[i].n[1] == -i, "struct array element %d", i);
    int ni, na, nd, comb;
    MPI_Type_get_envelope(rt, &ni, &na, &nd, &comb);
    CHECK(comb == MPI_COMBINER_STRUCT && ni == 4 && na == 3 && nd == 3, "struct envelope");
    int ints[4];
    MPI_Aint addrs[3];
    MPI_Datatype dts[3];
    MPI_Type_get_contents(rt, 4, 3, 3, ints, addrs, dts);
    CHECK(ints[0] == 3 && ints[3] == 2 && addrs[1] == disp[1] && dts[2] == MPI_INT, "struct contents");
    /* resized: only the double of each rec, records sizeof(rec) apart */
    MPI_Datatype donly, dres;
    MPI_Type_create_struct(1, bl + 1, disp + 1, tys + 1, &donly);
    MPI_Type_create_resized(donly, 0, sizeof(rec), &dres);
    MPI_Type_commit(&dres);
    MPI_Type_get_extent(dres, &lb, &ext);
    CHECK(lb == 0 && ext == sizeof(rec), "resized extent");
    double ds[3];
    MPI_Sendrecv(r, 3, dres, next, 21, ds, 3, MPI_DOUBLE, prev, 21, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    CHECK(ds[0] == prev && ds[2] == prev + 0.5, "resized struct");
    MPI_Type_get_envelope(dres, &ni, &na, &nd, &comb);
    CHECK(comb == MPI_COMBINER_RESIZED && na == 2 && nd == 1, "resized envelope");
    MPI_Datatype dd;
    MPI_Type_dup(dres, &dd);
    MPI_Type_get_envelope(dd, &ni, &na, &nd, &comb);
    CHECK(comb == MPI_COMBINER_DUP, "dup envelope");
    MPI_Type_free(&dd);
    MPI_Type_free(&dres);
    MPI_Type_free(&donly);
    MPI_Type_free(&rt);
  }
  /* subarray: the 2x3 block at (1,2) of a 4x6 int array */
  {
    int sizes[2] = {4, 6}, subs[2] = {2, 3}, starts[2] = {1, 2}, a[4][6], b[4][6];
    MPI_Datatype sub;
    MPI_Type_create_subarray(2, sizes, subs, starts, MPI_ORDER_C, MPI_INT, &sub);
    MPI_Type_commit(&sub);
    MPI_Type_get_extent(sub, &lb, &ext);
    CHECK(ext == sizeof a, "subarray extent");
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 6; j++) a[i][j] = rank * 100 + i * 10 + j, b[i][j] = -1;
    MPI_Sendrecv(a, 1, sub, next, 30, b, 1, sub, prev, 30, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    CHECK(b[1][2] == prev * 100 + 12 && b[2][4] == prev * 100 + 24 && b[0][0] == -1 && b[3][5] == -1 && b[1][1] == -1, "subarray");
    MPI_Type_free(&sub);
  }
  /* Pack / Unpack / Pack_size, sent as MPI_PACKED */
  {
    int n = 7, psize, pos = 0;
    double x[2] = {rank + 0.5, -1};
    char buf[256];
    MPI_Pack_size(1, MPI_INT, MPI_COMM_WORLD, &psize);
    CHECK(psize == 4, "Pack_size");
    MPI_Pack(&n, 1, MPI_INT, buf, sizeof buf, &pos, MPI_COMM_WORLD);
    MPI_Pack(x, 2, MPI_DOUBLE, buf, sizeof buf, &pos, MPI_COMM_WORLD);
    MPI_Pack(&c3, 0, MPI_INT, buf, sizeof buf, &pos, MPI_COMM_WORLD);
    CHECK(pos == 20, "Pack position %d", pos);
    char in[256];
    MPI_Status st;
    MPI_Sendrecv(buf, pos, MPI_PACKED, next, 40, in, sizeof in, MPI_PACKED, prev, 40, MPI_COMM_WORLD, &st);
    int got_n, cnt;
    double got_x[2];
    MPI_Get_count(&st, MPI_PACKED, &cnt);
    pos = 0;
    MPI_Unpack(in, cnt, &pos, &got_n, 1, MPI_INT, MPI_COMM_WORLD);
    MPI_Unpack(in, cnt, &pos, got_x, 2, MPI_DOUBLE, MPI_COMM_WORLD);
    CHECK(cnt == 20 && got_n == 7 && got_x[0] == prev + 0.5 && got_x[1] == -1 && pos == 20, "Unpack");
    /* packing a vector type gathers its elements */
    double m[3][2] = {{1, 2}, {3, 4}, {5, 6}}, packed[3];
    MPI_Datatype first;
    MPI_Type_vector(3, 1, 2, MPI_DOUBLE, &first);
    MPI_Type_commit(&first);
    pos = 0;
    MPI_Pack(m, 1, first, packed, sizeof packed, &pos, MPI_COMM_WORLD);
    CHECK(packed[0] == 1 && packed[1] == 3 && packed[2] == 5, "Pack of a vector");
    MPI_Type_free(&first);
  }
#ifdef __EMSCRIPTEN__
  /* A predefined op over a derived type of one basic type: fmi's extension
   * (MPI 3.1 §5.9.2 lists predefined types only; Open MPI refuses it). */
  {
    double v[6], r[6];
    for (int i = 0; i < 6; i++) v[i] = i + rank;
    MPI_Datatype pair;
    MPI_Type_contiguous(2, MPI_DOUBLE, &pair);
    MPI_Type_commit(&pair);
    MPI_Allreduce(v, r, 3, pair, MPI_SUM, MPI_COMM_WORLD);
    CHECK(r[5] == 5.0 * size + size * (size - 1) / 2.0, "SUM over a derived type of doubles");
    MPI_Type_free(&pair);
  }
#endif
  MPI_Type_free(&c3);
  return finish("types");
}
