/* Collectives: every blocking and non-blocking collective, at every root,
 * with MPI_IN_PLACE where MPI allows it, the v-variants with uneven counts
 * and displacements, predefined ops over many types, MINLOC/MAXLOC. */
#include "check.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;

static void rooted(int root) {
  /* Bcast */
  {
    double d[3] = {0};
    if (rank == root) d[0] = 1.5, d[1] = root, d[2] = -2;
    MPI_Bcast(d, 3, MPI_DOUBLE, root, MPI_COMM_WORLD);
    CHECK(d[0] == 1.5 && d[1] == root && d[2] == -2, "Bcast root %d", root);
  }
  /* Gather, and Gather with MPI_IN_PLACE at the root */
  {
    int mine[2] = {rank, rank * rank}, *all = calloc(2 * size, sizeof(int));
    MPI_Gather(mine, 2, MPI_INT, all, 2, MPI_INT, root, MPI_COMM_WORLD);
    if (rank == root)
      for (int r = 0; r < size; r++) CHECK(all[2 * r] == r && all[2 * r + 1] == r * r, "Gather root %d slot %d", root, r);
    memset(all, 0, 2 * size * sizeof(int));
    if (rank == root) {
      all[2 * root] = root, all[2 * root + 1] = root * root;
      MPI_Gather(MPI_IN_PLACE, 2, MPI_INT, all, 2, MPI_INT, root, MPI_COMM_WORLD);
      for (int r = 0; r < size; r++) CHECK(all[2 * r] == r && all[2 * r + 1] == r * r, "Gather in place root %d slot %d", root, r);
    } else {
      MPI_Gather(mine, 2, MPI_INT, NULL, 0, MPI_INT, root, MPI_COMM_WORLD);
    }
    free(all);
  }
  /* Gatherv: rank r sends r+1 shorts, placed at displacement 2r(+r) */
  {
    short mine[16];
    for (int i = 0; i <= rank; i++) mine[i] = (short)(rank * 100 + i);
    int *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int)), total = 0;
    for (int r = 0; r < size; r++) counts[r] = r + 1, displs[r] = total + r, total += 2 * r + 1;
    short *all = calloc(total + 1, sizeof(short));
    MPI_Gatherv(mine, rank + 1, MPI_SHORT, all, counts, displs, MPI_SHORT, root, MPI_COMM_WORLD);
    if (rank == root)
      for (int r = 0; r < size; r++)
        for (int i = 0; i <= r; i++) CHECK(all[displs[r] + i] == r * 100 + i, "Gatherv root %d rank %d item %d", root, r, i);
    free(all), free(counts), free(displs);
  }
  /* Scatter (and in place), Scatterv */
  {
    float *all = malloc(3 * size * sizeof(float)), mine[3] = {0};
    for (int i = 0; i < 3 * size; i++) all[i] = i * 0.25f;
    MPI_Scatter(all, 3, MPI_FLOAT, mine, 3, MPI_FLOAT, root, MPI_COMM_WORLD);
    CHECK(mine[0] == 3 * rank * 0.25f && mine[2] == (3 * rank + 2) * 0.25f, "Scatter root %d", root);
    if (rank == root) MPI_Scatter(all, 3, MPI_FLOAT, MPI_IN_PLACE, 3, MPI_FLOAT, root, MPI_COMM_WORLD);
    else MPI_Scatter(NULL, 0, MPI_FLOAT, mine, 3, MPI_FLOAT, root, MPI_COMM_WORLD);
    CHECK(mine[1] == (3 * rank + 1) * 0.25f, "Scatter in place root %d", root);
    int *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int));
    long long *src = malloc(4 * size * sizeof(long long)), got[4] = {0};
    for (int r = 0; r < size; r++) counts[r] = 1 + r % 3, displs[r] = 4 * (size - 1 - r);
    for (int i = 0; i < 4 * size; i++) src[i] = 1000000000000LL + i;
    MPI_Scatterv(src, counts, displs, MPI_LONG_LONG, got, counts[rank], MPI_LONG_LONG, root, MPI_COMM_WORLD);
    for (int i = 0; i < counts[rank]; i++) CHECK(got[i] == 1000000000000LL + displs[rank] + i, "Scatterv root %d item %d", root, i);
    free(all), free(counts), free(displs), free(src);
  }
  /* Reduce (and in place) over several types */
  {
    int vi[2] = {rank, -rank}, ri[2] = {0};
    MPI_Reduce(vi, ri, 2, MPI_INT, MPI_SUM, root, MPI_COMM_WORLD);
    if (rank == root) CHECK(ri[0] == size * (size - 1) / 2 && ri[1] == -size * (size - 1) / 2, "Reduce SUM int root %d", root);
    double vd = rank + 1.0, rd = 0;
    MPI_Reduce(&vd, &rd, 1, MPI_DOUBLE, MPI_PROD, root, MPI_COMM_WORLD);
    double f = 1;
    for (int r = 1; r <= size; r++) f *= r;
    if (rank == root) CHECK(rd == f, "Reduce PROD double root %d: %f", root, rd);
    unsigned char vc = (unsigned char)(1 << (rank % 8)), rc = 0;
    if (rank == root) {
      rc = vc;
      MPI_Reduce(MPI_IN_PLACE, &rc, 1, MPI_UNSIGNED_CHAR, MPI_BOR, root, MPI_COMM_WORLD);
      CHECK(rc == (size >= 8 ? 255 : (1 << size) - 1), "Reduce BOR in place root %d: %d", root, rc);
    } else {
      MPI_Reduce(&vc, NULL, 1, MPI_UNSIGNED_CHAR, MPI_BOR, root, MPI_COMM_WORLD);
    }
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Barrier(MPI_COMM_WORLD);
  for (int root = 0; root < size; root++) rooted(root);

  /* Allreduce: ops x types, and in place */
  {
    int vi = rank + 1, r;
    MPI_Allreduce(&vi, &r, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    CHECK(r == size, "MAX int");
    MPI_Allreduce(&vi, &r, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    CHECK(r == 1, "MIN int");
    int bits = 1 << rank;
    MPI_Allreduce(&bits, &r, 1, MPI_INT, MPI_BXOR, MPI_COMM_WORLD);
    CHECK(r == (1 << size) - 1, "BXOR int");
    MPI_Allreduce(&bits, &r, 1, MPI_INT, MPI_BAND, MPI_COMM_WORLD);
    CHECK(r == (size == 1 ? 1 : 0), "BAND int");
    _Bool t = 1, all_t, any_odd, odd = rank % 2;
    MPI_Allreduce(&t, &all_t, 1, MPI_C_BOOL, MPI_LAND, MPI_COMM_WORLD);
    MPI_Allreduce(&odd, &any_odd, 1, MPI_C_BOOL, MPI_LOR, MPI_COMM_WORLD);
    CHECK(all_t == 1 && any_odd == (size > 1), "LAND/LOR C_BOOL");
    int one = 1, x;
    MPI_Allreduce(&one, &x, 1, MPI_INT, MPI_LXOR, MPI_COMM_WORLD);
    CHECK(x == size % 2, "LXOR int");
    float vf[4] = {rank * 0.5f, 1, 2, 3}, rf[4];
    MPI_Allreduce(vf, rf, 4, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    CHECK(rf[0] == 0.25f * size * (size - 1) && rf[3] == 3.0f * size, "SUM float");
    unsigned long long vu = 1ULL << 40, ru;
    MPI_Allreduce(&vu, &ru, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    CHECK(ru == (unsigned long long)size << 40, "SUM unsigned long long");
    int8_t v8 = -1, r8;
    MPI_Allreduce(&v8, &r8, 1, MPI_INT8_T, MPI_SUM, MPI_COMM_WORLD);
    CHECK(r8 == (int8_t)(-size), "SUM int8_t");
    uint16_t v16 = 40000, r16;
    MPI_Allreduce(&v16, &r16, 1, MPI_UINT16_T, MPI_MAX, MPI_COMM_WORLD);
    CHECK(r16 == 40000, "MAX uint16_t");
    long vl = rank, rl;
    MPI_Allreduce(&vl, &rl, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    CHECK(rl == size * (size - 1) / 2, "SUM long");
    double inplace[1000];
    for (int i = 0; i < 1000; i++) inplace[i] = i + rank;
    MPI_Allreduce(MPI_IN_PLACE, inplace, 1000, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    CHECK(inplace[999] == 999.0 * size + size * (size - 1) / 2.0, "Allreduce in place");
    /* A large allreduce: 2 MiB of doubles takes the ring on more than 2 ranks */
    int n = 1 << 18;
    double *big = malloc(n * sizeof(double));
    for (int i = 0; i < n; i++) big[i] = rank + i;
    MPI_Allreduce(MPI_IN_PLACE, big, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    CHECK(big[n - 1] == (double)(n - 1) * size + size * (size - 1) / 2.0, "large Allreduce");
    free(big);
    /* complex SUM */
    float cz[2] = {1.0f, (float)rank}, rz[2];
    MPI_Allreduce(cz, rz, 1, MPI_C_FLOAT_COMPLEX, MPI_SUM, MPI_COMM_WORLD);
    CHECK(rz[0] == size && rz[1] == size * (size - 1) / 2.0f, "SUM complex");
  }
  /* MAXLOC / MINLOC */
  {
    struct { double v; int i; } in = {(double)((rank + 1) % size), rank}, out;
    MPI_Allreduce(&in, &out, 1, MPI_DOUBLE_INT, MPI_MAXLOC, MPI_COMM_WORLD);
    CHECK(out.v == size - 1 && (out.i + 1) % size == size - 1, "MAXLOC double_int: %f at %d", out.v, out.i);
    struct { int v; int i; } p = {rank % 2, rank}, q;
    MPI_Allreduce(&p, &q, 1, MPI_2INT, MPI_MINLOC, MPI_COMM_WORLD);
    CHECK(q.v == 0 && q.i == 0, "MINLOC 2int ties take the lower index: %d at %d", q.v, q.i);
    struct { float v; int i; } fa[2] = {{(float)rank, rank}, {(float)-rank, rank}}, fr[2];
    MPI_Allreduce(fa, fr, 2, MPI_FLOAT_INT, MPI_MAXLOC, MPI_COMM_WORLD);
    CHECK(fr[0].v == size - 1 && fr[0].i == size - 1 && fr[1].v == 0 && fr[1].i == 0, "MAXLOC float_int x2");
    struct { short v; int i; } sa = {(short)(-rank), rank}, sr;
    MPI_Allreduce(&sa, &sr, 1, MPI_SHORT_INT, MPI_MINLOC, MPI_COMM_WORLD);
    CHECK(sr.v == -(size - 1) && sr.i == size - 1, "MINLOC short_int");
  }
  /* Allgather (and in place), Allgatherv */
  {
    int mine = rank * 3, *all = malloc(size * sizeof(int));
    MPI_Allgather(&mine, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    for (int r = 0; r < size; r++) CHECK(all[r] == r * 3, "Allgather slot %d", r);
    for (int r = 0; r < size; r++) all[r] = r == rank ? rank * 5 : -1;
    MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, 1, MPI_INT, MPI_COMM_WORLD);
    for (int r = 0; r < size; r++) CHECK(all[r] == r * 5, "Allgather in place slot %d", r);
    int *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int)), total = 0;
    for (int r = 0; r < size; r++) counts[r] = size - r, displs[r] = total, total += size - r + 1;
    double *v = malloc(total * sizeof(double)), mv[16];
    for (int i = 0; i < size - rank; i++) mv[i] = rank + i / 10.0;
    MPI_Allgatherv(mv, size - rank, MPI_DOUBLE, v, counts, displs, MPI_DOUBLE, MPI_COMM_WORLD);
    for (int r = 0; r < size; r++)
      for (int i = 0; i < size - r; i++) CHECK(v[displs[r] + i] == r + i / 10.0, "Allgatherv rank %d item %d", r, i);
    free(all), free(counts), free(displs), free(v);
  }
  /* Alltoall, Alltoallv */
  {
    int *s = malloc(2 * size * sizeof(int)), *r = malloc(2 * size * sizeof(int));
    for (int d = 0; d < size; d++) s[2 * d] = rank * 100 + d, s[2 * d + 1] = -d;
    MPI_Alltoall(s, 2, MPI_INT, r, 2, MPI_INT, MPI_COMM_WORLD);
    for (int k = 0; k < size; k++) CHECK(r[2 * k] == k * 100 + rank && r[2 * k + 1] == -rank, "Alltoall from %d", k);
    int *sc = malloc(size * sizeof(int)), *sd = malloc(size * sizeof(int)), *rc = malloc(size * sizeof(int)), *rd = malloc(size * sizeof(int));
    int st = 0, rt = 0;
    for (int k = 0; k < size; k++) {
      sc[k] = k + 1, sd[k] = st, st += k + 1;       /* I send k+1 items to rank k */
      rc[k] = rank + 1, rd[k] = rt + 1, rt += rank + 2; /* I get rank+1 from each, with gaps */
    }
    int *sv = malloc(st * sizeof(int)), *rv = calloc(rt + 1, sizeof(int));
    for (int k = 0; k < size; k++)
      for (int i = 0; i < k + 1; i++) sv[sd[k] + i] = rank * 1000 + k * 10 + i;
    MPI_Alltoallv(sv, sc, sd, MPI_INT, rv, rc, rd, MPI_INT, MPI_COMM_WORLD);
    for (int k = 0; k < size; k++)
      for (int i = 0; i < rank + 1; i++) CHECK(rv[rd[k] + i] == k * 1000 + rank * 10 + i, "Alltoallv from %d item %d", k, i);
    free(s), free(r), free(sc), free(sd), free(rc), free(rd), free(sv), free(rv);
  }
  /* Alltoallw: to rank k an int and a double (a struct type), byte displacements */
  {
    struct { int i; double d; } *s = malloc(size * sizeof *s), *r = calloc(size, sizeof *r);
    int bl[2] = {1, 1}, *cnt = malloc(size * sizeof(int)), *dsp = malloc(size * sizeof(int));
    MPI_Aint disp[2] = {0, 8};
    MPI_Datatype tys[2] = {MPI_INT, MPI_DOUBLE}, st, *types = malloc(size * sizeof(MPI_Datatype));
    MPI_Type_create_struct(2, bl, disp, tys, &st);
    MPI_Type_commit(&st);
    for (int k = 0; k < size; k++) s[k].i = rank * 10 + k, s[k].d = k + rank / 2.0, cnt[k] = 1, dsp[k] = k * (int)sizeof *s, types[k] = st;
    MPI_Alltoallw(s, cnt, dsp, types, r, cnt, dsp, types, MPI_COMM_WORLD);
    for (int k = 0; k < size; k++) CHECK(r[k].i == k * 10 + rank && r[k].d == rank + k / 2.0, "Alltoallw from %d", k);
    MPI_Request rq;
    memset(r, 0, size * sizeof *r);
    MPI_Ialltoallw(s, cnt, dsp, types, r, cnt, dsp, types, MPI_COMM_WORLD, &rq);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
    for (int k = 0; k < size; k++) CHECK(r[k].i == k * 10 + rank, "Ialltoallw from %d", k);
    MPI_Type_free(&st);
    free(s), free(r), free(cnt), free(dsp), free(types);
  }
  /* Reduce_scatter, Reduce_scatter_block, Scan, Exscan */
  {
    int *counts = malloc(size * sizeof(int)), total = 0;
    for (int r = 0; r < size; r++) counts[r] = r + 1, total += r + 1;
    int *v = malloc(total * sizeof(int)), got[64];
    for (int i = 0; i < total; i++) v[i] = i + rank;
    MPI_Reduce_scatter(v, got, counts, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    int start = rank * (rank + 1) / 2;
    for (int i = 0; i <= rank; i++) CHECK(got[i] == (start + i) * size + size * (size - 1) / 2, "Reduce_scatter item %d", i);
    double *b = malloc(2 * size * sizeof(double)), bg[2];
    for (int i = 0; i < 2 * size; i++) b[i] = i * (rank + 1);
    MPI_Reduce_scatter_block(b, bg, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    CHECK(bg[1] == (2 * rank + 1) * size * (size + 1) / 2.0, "Reduce_scatter_block");
    MPI_Reduce_scatter_block(MPI_IN_PLACE, b, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    CHECK(b[0] == 2 * rank * size, "Reduce_scatter_block in place");
    int s = rank + 1, sc, ex = -7;
    MPI_Scan(&s, &sc, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    CHECK(sc == (rank + 1) * (rank + 2) / 2, "Scan");
    MPI_Exscan(&s, &ex, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    CHECK(rank == 0 ? ex == -7 : ex == rank * (rank + 1) / 2, "Exscan");
    int ip = rank + 1;
    MPI_Scan(MPI_IN_PLACE, &ip, 1, MPI_INT, MPI_PROD, MPI_COMM_WORLD);
    int fact = 1;
    for (int k = 1; k <= rank + 1; k++) fact *= k;
    CHECK(ip == fact, "Scan in place PROD");
    free(counts), free(v), free(b);
  }
  /* The reductions above, large enough (32 KiB) to run in Wasm memory, results written straight into the receive buffers */
  {
    int n = 4096;
    double *in = malloc(n * sizeof(double)), *out = malloc(n * sizeof(double));
    for (int root = 0; root < size; root++) {
      for (int i = 0; i < n; i++) in[i] = rank * 0.5 + i, out[i] = -1;
      MPI_Reduce(in, out, n, MPI_DOUBLE, MPI_SUM, root, MPI_COMM_WORLD);
      if (rank == root) CHECK(out[n - 1] == (n - 1.0) * size + size * (size - 1) / 4.0 && out[0] == size * (size - 1) / 4.0, "large Reduce at root %d: %f", root, out[n - 1]);
      else CHECK(out[0] == -1, "large Reduce leaves non-root receive buffers alone");
      if (rank == root) MPI_Reduce(MPI_IN_PLACE, in, n, MPI_DOUBLE, MPI_MAX, root, MPI_COMM_WORLD);
      else MPI_Reduce(in, NULL, n, MPI_DOUBLE, MPI_MAX, root, MPI_COMM_WORLD);
      if (rank == root) CHECK(in[7] == (size - 1) * 0.5 + 7, "large Reduce in place at root %d", root);
    }
    for (int i = 0; i < n; i++) in[i] = rank + 1 + i, out[i] = -1;
    MPI_Scan(in, out, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    CHECK(out[5] == (rank + 1) * (rank + 2) / 2.0 + 5.0 * (rank + 1), "large Scan: %f", out[5]);
    for (int i = 0; i < n; i++) out[i] = -1;
    MPI_Exscan(in, out, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    CHECK(rank == 0 ? out[5] == -1 : out[5] == rank * (rank + 1) / 2.0 + 5.0 * rank, "large Exscan: %f", out[5]);
    MPI_Scan(MPI_IN_PLACE, in, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    CHECK(in[n - 1] == rank + n, "large Scan in place");
    double *all = malloc(n * size * sizeof(double));
    for (int i = 0; i < n * size; i++) all[i] = i % 97 + rank;
    MPI_Reduce_scatter_block(all, out, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    CHECK(out[3] == ((rank * n + 3) % 97) * (double)size + size * (size - 1) / 2.0, "large Reduce_scatter_block: %f", out[3]);
    MPI_Reduce_scatter_block(MPI_IN_PLACE, all, n, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    CHECK(all[3] == (rank * n + 3) % 97, "large Reduce_scatter_block in place");
    free(in), free(out), free(all);
  }
  /* Reduce_local */
  {
    int a[3] = {1, 2, 3}, b[3] = {10, 20, 30};
    MPI_Reduce_local(a, b, 3, MPI_INT, MPI_SUM);
    CHECK(b[0] == 11 && b[2] == 33, "Reduce_local");
  }
  /* Non-blocking collectives, several in flight at once */
  {
    MPI_Request rq[8];
    int bc = rank == 0 ? 42 : 0, sum = 0, one = 1, scan = 0, *ga = malloc(size * sizeof(int)), *aa = malloc(size * sizeof(int));
    double red = 0, mine = rank;
    MPI_Ibarrier(MPI_COMM_WORLD, &rq[0]);
    MPI_Ibcast(&bc, 1, MPI_INT, 0, MPI_COMM_WORLD, &rq[1]);
    MPI_Iallreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq[2]);
    MPI_Ireduce(&mine, &red, 1, MPI_DOUBLE, MPI_MAX, size - 1, MPI_COMM_WORLD, &rq[3]);
    MPI_Igather(&rank, 1, MPI_INT, ga, 1, MPI_INT, 0, MPI_COMM_WORLD, &rq[4]);
    MPI_Iallgather(&rank, 1, MPI_INT, aa, 1, MPI_INT, MPI_COMM_WORLD, &rq[5]);
    MPI_Iscan(&one, &scan, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq[6]);
    int *sd = malloc(size * sizeof(int)), *rd = malloc(size * sizeof(int));
    for (int k = 0; k < size; k++) sd[k] = rank * size + k;
    MPI_Ialltoall(sd, 1, MPI_INT, rd, 1, MPI_INT, MPI_COMM_WORLD, &rq[7]);
    MPI_Waitall(8, rq, MPI_STATUSES_IGNORE);
    CHECK(bc == 42 && sum == size && scan == rank + 1, "Ibcast/Iallreduce/Iscan");
    if (rank == size - 1) CHECK(red == size - 1, "Ireduce");
    if (rank == 0)
      for (int k = 0; k < size; k++) CHECK(ga[k] == k, "Igather");
    for (int k = 0; k < size; k++) CHECK(aa[k] == k && rd[k] == k * size + rank, "Iallgather/Ialltoall");
    int ex = -1, sc = 0, rsb = 0, *blk = malloc(size * sizeof(int)), *cnt = malloc(size * sizeof(int)), *dsp = malloc(size * sizeof(int));
    for (int k = 0; k < size; k++) blk[k] = k, cnt[k] = 1, dsp[k] = size - 1 - k;
    int *gv = malloc(size * sizeof(int)), *agv = malloc(size * sizeof(int)), sv = -1, scv = -1, *av = malloc(size * sizeof(int));
    MPI_Iexscan(&one, &ex, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq[0]);
    MPI_Ireduce_scatter_block(blk, &rsb, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq[1]);
    MPI_Ireduce_scatter(blk, &sc, cnt, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &rq[2]);
    MPI_Igatherv(&rank, 1, MPI_INT, gv, cnt, dsp, MPI_INT, 0, MPI_COMM_WORLD, &rq[3]);
    MPI_Iallgatherv(&rank, 1, MPI_INT, agv, cnt, dsp, MPI_INT, MPI_COMM_WORLD, &rq[4]);
    MPI_Iscatter(blk, 1, MPI_INT, &sv, 1, MPI_INT, 0, MPI_COMM_WORLD, &rq[5]);
    MPI_Iscatterv(blk, cnt, dsp, MPI_INT, &scv, 1, MPI_INT, 0, MPI_COMM_WORLD, &rq[6]);
    MPI_Ialltoallv(sd, cnt, dsp, MPI_INT, av, cnt, dsp, MPI_INT, MPI_COMM_WORLD, &rq[7]);
    int done = 0, flag;
    while (!done) MPI_Testall(8, rq, &done, MPI_STATUSES_IGNORE);
    (void)flag;
    if (rank > 0) CHECK(ex == rank, "Iexscan");
    CHECK(rsb == rank * size && sc == rank * size, "Ireduce_scatter(_block)");
    if (rank == 0)
      for (int k = 0; k < size; k++) CHECK(gv[size - 1 - k] == k, "Igatherv");
    for (int k = 0; k < size; k++) CHECK(agv[size - 1 - k] == k, "Iallgatherv");
    CHECK(sv == rank && scv == size - 1 - rank, "Iscatter(v)");
    for (int k = 0; k < size; k++) CHECK(av[size - 1 - k] == k * size + (size - 1 - rank), "Ialltoallv from %d: %d", k, av[size - 1 - k]);
    free(ga), free(aa), free(sd), free(rd), free(blk), free(cnt), free(dsp), free(gv), free(agv), free(av);
  }
  return finish("coll");
}
