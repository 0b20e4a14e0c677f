/* Collectives on an intercommunicator (MPI 3.1 §5.2.2 and each function's
 * text): the root passes MPI_ROOT, the rest of its group MPI_PROC_NULL, the
 * other group the root's rank there; all-to-all forms move the other group's
 * data. Every collective blocking and non-blocking (several outstanding at
 * once), every root in both groups; Comm_split, Comm_create and Comm_idup on
 * an intercommunicator (§6.4.2). The world is cut into a lower half [0, h)
 * and an upper half [h, size): on odd sizes the groups differ in size. */
#include "check.h"
#include <stdlib.h>
#include <string.h>

static int rank, size, h, upper, mybase, mysize, otherbase, othersize, lr;
static MPI_Comm inter;

/* Runs a collective blocking (req == NULL) or non-blocking and waits for it. */
#define RUN(nb, blockingcall, icall)                                           \
  do {                                                                         \
    if (nb) {                                                                  \
      MPI_Request req_;                                                        \
      icall;                                                                   \
      MPI_Wait(&req_, MPI_STATUS_IGNORE);                                      \
    } else {                                                                   \
      blockingcall;                                                            \
    }                                                                          \
  } while (0)

/* The world rank of remote rank r, and of local rank r. */
static int rw(int r) { return otherbase + r; }

/* The root argument at this rank when rank `root` of group `rootgroup` (0 lower, 1 upper) is the root. */
static int rootarg(int rootgroup, int root) {
  if (rootgroup != upper) return root;
  return lr == root ? MPI_ROOT : MPI_PROC_NULL;
}

static void bcast(int nb) {
  for (int g = 0; g < 2; g++) {
    int gsize = g ? size - h : h;
    for (int root = 0; root < gsize; root++) {
      int buf[3] = {-1, -1, -1}, arg = rootarg(g, root);
      if (arg == MPI_ROOT) buf[0] = rank, buf[1] = 7, buf[2] = root * 10;
      RUN(nb, MPI_Bcast(buf, 3, MPI_INT, arg, inter), MPI_Ibcast(buf, 3, MPI_INT, arg, inter, &req_));
      if (arg >= 0) CHECK(buf[0] == rw(root) && buf[1] == 7 && buf[2] == root * 10, "bcast nb=%d root %d: %d %d %d", nb, root, buf[0], buf[1], buf[2]);
      if (arg == MPI_PROC_NULL) CHECK(buf[0] == -1, "bcast nb=%d: MPI_PROC_NULL's buffer was written", nb);
    }
  }
}

static void reduce(int nb) {
  for (int g = 0; g < 2; g++) {
    int gsize = g ? size - h : h, remote_of_root = g ? h : size - h, remote_base = g ? 0 : h;
    for (int root = 0; root < gsize; root++) {
      int in[2] = {rank + 1, 2 * rank}, out[2] = {-1, -1}, arg = rootarg(g, root);
      double din = rank * 0.5, dout = -1;
      RUN(nb, MPI_Reduce(in, out, 2, MPI_INT, MPI_SUM, arg, inter), MPI_Ireduce(in, out, 2, MPI_INT, MPI_SUM, arg, inter, &req_));
      RUN(nb, MPI_Reduce(&din, &dout, 1, MPI_DOUBLE, MPI_MAX, arg, inter), MPI_Ireduce(&din, &dout, 1, MPI_DOUBLE, MPI_MAX, arg, inter, &req_));
      /* the remote group of the root: world ranks remote_base .. remote_base + remote_of_root - 1 */
      int s1 = 0, s2 = 0;
      for (int w = remote_base; w < remote_base + remote_of_root; w++) s1 += w + 1, s2 += 2 * w;
      if (arg == MPI_ROOT) {
        CHECK(out[0] == s1 && out[1] == s2, "reduce nb=%d: %d %d, want %d %d", nb, out[0], out[1], s1, s2);
        CHECK(dout == (remote_base + remote_of_root - 1) * 0.5, "reduce max nb=%d: %g", nb, dout);
      } else {
        CHECK(out[0] == -1 && dout == -1, "reduce nb=%d: a non-root's receive buffer was written", nb);
      }
    }
  }
}

static void allreduce(int nb) {
  int in[2] = {rank + 1, rank}, out[2] = {-1, -1}, want = 0, max = -1;
  RUN(nb, MPI_Allreduce(in, out, 1, MPI_2INT, MPI_MAXLOC, inter), MPI_Iallreduce(in, out, 1, MPI_2INT, MPI_MAXLOC, inter, &req_));
  CHECK(out[0] == otherbase + othersize && out[1] == otherbase + othersize - 1, "allreduce maxloc nb=%d: %d %d", nb, out[0], out[1]);
  RUN(nb, MPI_Allreduce(in, &want, 1, MPI_INT, MPI_SUM, inter), MPI_Iallreduce(in, &want, 1, MPI_INT, MPI_SUM, inter, &req_));
  for (int r = 0; r < othersize; r++) max += rw(r) + 1;
  CHECK(want == max + 1, "allreduce sum nb=%d: %d, want %d", nb, want, max + 1);
}

static void gather(int nb) {
  for (int g = 0; g < 2; g++) {
    int gsize = g ? size - h : h;
    for (int root = 0; root < gsize; root++) {
      int arg = rootarg(g, root), mine[2] = {rank, lr}, *all = malloc(2 * size * sizeof(int));
      for (int i = 0; i < 2 * size; i++) all[i] = -1;
      RUN(nb, MPI_Gather(mine, 2, MPI_INT, all, 2, MPI_INT, arg, inter), MPI_Igather(mine, 2, MPI_INT, all, 2, MPI_INT, arg, inter, &req_));
      if (arg == MPI_ROOT)
        for (int r = 0; r < othersize; r++) CHECK(all[2 * r] == rw(r) && all[2 * r + 1] == r, "gather nb=%d from %d: %d %d", nb, r, all[2 * r], all[2 * r + 1]);
      /* gatherv: remote rank r sends r + 1 ints, placed in reverse order */
      int *vals = malloc((lr + 1) * sizeof(int)), *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int));
      for (int k = 0; k <= lr; k++) vals[k] = rank * 100 + k;
      int at = 0;
      for (int r = othersize - 1; r >= 0; r--) counts[r] = r + 1, displs[r] = at, at += r + 1;
      int *got = calloc(at + 1, sizeof(int));
      RUN(nb, MPI_Gatherv(vals, lr + 1, MPI_INT, got, counts, displs, MPI_INT, arg, inter),
          MPI_Igatherv(vals, lr + 1, MPI_INT, got, counts, displs, MPI_INT, arg, inter, &req_));
      if (arg == MPI_ROOT)
        for (int r = 0; r < othersize; r++)
          for (int k = 0; k <= r; k++) CHECK(got[displs[r] + k] == rw(r) * 100 + k, "gatherv nb=%d from %d [%d]: %d", nb, r, k, got[displs[r] + k]);
      free(all), free(vals), free(counts), free(displs), free(got);
    }
  }
}

static void scatter(int nb) {
  for (int g = 0; g < 2; g++) {
    int gsize = g ? size - h : h;
    for (int root = 0; root < gsize; root++) {
      int arg = rootarg(g, root), *all = malloc(2 * size * sizeof(int)), mine[2] = {-1, -1};
      for (int r = 0; r < othersize; r++) all[2 * r] = rank, all[2 * r + 1] = r * 3;
      RUN(nb, MPI_Scatter(all, 2, MPI_INT, mine, 2, MPI_INT, arg, inter), MPI_Iscatter(all, 2, MPI_INT, mine, 2, MPI_INT, arg, inter, &req_));
      if (arg >= 0) CHECK(mine[0] == rw(root) && mine[1] == lr * 3, "scatter nb=%d: %d %d", nb, mine[0], mine[1]);
      /* scatterv: remote rank r gets r + 1 doubles, a gap of one between the parts */
      double *src = malloc((size * size + 4 * size) * sizeof(double)), got[16];
      int *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int)), at = 0;
      for (int r = 0; r < othersize; r++) {
        counts[r] = r + 1, displs[r] = at, at += r + 2;
        for (int k = 0; k <= r; k++) src[displs[r] + k] = r + k * 0.25;
      }
      for (int k = 0; k < 16; k++) got[k] = -1;
      RUN(nb, MPI_Scatterv(src, counts, displs, MPI_DOUBLE, got, lr + 1, MPI_DOUBLE, arg, inter),
          MPI_Iscatterv(src, counts, displs, MPI_DOUBLE, got, lr + 1, MPI_DOUBLE, arg, inter, &req_));
      if (arg >= 0)
        for (int k = 0; k <= lr && k < 16; k++) CHECK(got[k] == lr + k * 0.25, "scatterv nb=%d [%d]: %g", nb, k, got[k]);
      free(all), free(src), free(counts), free(displs);
    }
  }
}

static void allgather(int nb) {
  int *all = malloc(size * sizeof(int)), *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int));
  RUN(nb, MPI_Allgather(&rank, 1, MPI_INT, all, 1, MPI_INT, inter), MPI_Iallgather(&rank, 1, MPI_INT, all, 1, MPI_INT, inter, &req_));
  for (int r = 0; r < othersize; r++) CHECK(all[r] == rw(r), "allgather nb=%d [%d]: %d", nb, r, all[r]);
  /* allgatherv: remote rank r contributes r + 1 shorts, placed from the end */
  short vals[64], got[1024];
  for (int k = 0; k <= lr; k++) vals[k] = (short)(rank * 10 + k);
  int at = 0;
  for (int r = othersize - 1; r >= 0; r--) counts[r] = r + 1, displs[r] = at, at += r + 1;
  RUN(nb, MPI_Allgatherv(vals, lr + 1, MPI_SHORT, got, counts, displs, MPI_SHORT, inter),
      MPI_Iallgatherv(vals, lr + 1, MPI_SHORT, got, counts, displs, MPI_SHORT, inter, &req_));
  for (int r = 0; r < othersize; r++)
    for (int k = 0; k <= r; k++) CHECK(got[displs[r] + k] == rw(r) * 10 + k, "allgatherv nb=%d from %d [%d]: %d", nb, r, k, got[displs[r] + k]);
  free(all), free(counts), free(displs);
}

static void alltoall(int nb) {
  int n = othersize, *sb = malloc(4 * n * n * sizeof(int) + 64), *rb = malloc(4 * n * n * sizeof(int) + 64);
  for (int r = 0; r < n; r++) sb[r] = rank * 1000 + rw(r), rb[r] = -1;
  RUN(nb, MPI_Alltoall(sb, 1, MPI_INT, rb, 1, MPI_INT, inter), MPI_Ialltoall(sb, 1, MPI_INT, rb, 1, MPI_INT, inter, &req_));
  for (int s = 0; s < n; s++) CHECK(rb[s] == rw(s) * 1000 + rank, "alltoall nb=%d from %d: %d", nb, s, rb[s]);
  /* alltoallv: to remote rank r, (lr + r) % 3 ints; from remote s, (s + lr) % 3 */
  int sc[64], sd[64], rc[64], rd[64], sat = 0, rat = 0;
  for (int r = 0; r < n; r++) {
    sc[r] = (lr + r) % 3, sd[r] = sat, rc[r] = (r + lr) % 3, rd[r] = rat;
    for (int k = 0; k < sc[r]; k++) sb[sat + k] = rank * 100 + r * 10 + k;
    sat += sc[r], rat += rc[r];
  }
  for (int k = 0; k < rat; k++) rb[k] = -1;
  RUN(nb, MPI_Alltoallv(sb, sc, sd, MPI_INT, rb, rc, rd, MPI_INT, inter), MPI_Ialltoallv(sb, sc, sd, MPI_INT, rb, rc, rd, MPI_INT, inter, &req_));
  for (int s = 0; s < n; s++)
    for (int k = 0; k < rc[s]; k++) CHECK(rb[rd[s] + k] == rw(s) * 100 + lr * 10 + k, "alltoallv nb=%d from %d [%d]: %d", nb, s, k, rb[rd[s] + k]);
  /* alltoallw: to remote rank r a double if the two world ranks add up to an even number, else two ints; byte displacements */
  MPI_Datatype st[64], rtp[64];
  char *sw = (char *)sb, *rw_ = (char *)rb;
  for (int r = 0; r < n; r++) {
    int even = (rank + rw(r)) % 2 == 0;
    st[r] = rtp[r] = even ? MPI_DOUBLE : MPI_INT;
    sc[r] = rc[r] = even ? 1 : 2;
    sd[r] = rd[r] = 8 * r;
    if (even) {
      double v = rank + rw(r) * 0.5;
      memcpy(sw + 8 * r, &v, 8);
    } else {
      int v[2] = {rank, rw(r)};
      memcpy(sw + 8 * r, v, 8);
    }
  }
  memset(rw_, 0xff, (size_t)n * 8);
  RUN(nb, MPI_Alltoallw(sb, sc, sd, st, rb, rc, rd, rtp, inter), MPI_Ialltoallw(sb, sc, sd, st, rb, rc, rd, rtp, inter, &req_));
  for (int s = 0; s < n; s++) {
    if ((rank + rw(s)) % 2 == 0) {
      double v;
      memcpy(&v, rw_ + 8 * s, 8);
      CHECK(v == rw(s) + rank * 0.5, "alltoallw nb=%d from %d: %g", nb, s, v);
    } else {
      int v[2];
      memcpy(v, rw_ + 8 * s, 8);
      CHECK(v[0] == rw(s) && v[1] == rank, "alltoallw nb=%d from %d: %d %d", nb, s, v[0], v[1]);
    }
  }
  free(sb), free(rb);
}

/* Reduce_scatter(_block): the reduction of the other group's vectors, scattered over this group. */
static void reduce_scatter(int nb) {
  /* block: each group's vectors hold mysize * recvcount elements, the same number in both: mysize * othersize */
  int total = mysize * othersize, *in = malloc(total * sizeof(int)), out[64];
  for (int i = 0; i < total; i++) in[i] = rank * i;
  for (int i = 0; i < othersize; i++) out[i] = -1;
  RUN(nb, MPI_Reduce_scatter_block(in, out, othersize, MPI_INT, MPI_SUM, inter),
      MPI_Ireduce_scatter_block(in, out, othersize, MPI_INT, MPI_SUM, inter, &req_));
  int wsum = 0;
  for (int r = 0; r < othersize; r++) wsum += rw(r);
  for (int k = 0; k < othersize; k++) {
    int i = lr * othersize + k;
    CHECK(out[k] == wsum * i, "reduce_scatter_block nb=%d [%d]: %d, want %d", nb, k, out[k], wsum * i);
  }
  /* counts: local rank i gets i + 1 elements; the two groups' totals differ unless padded: both use total elements
   * with this group's counts adding up to it (the last rank takes the rest) */
  int counts[64], at = 0, mine_at = 0;
  for (int i = 0; i < mysize; i++) {
    counts[i] = i + 1 < mysize ? (i + 1 <= total ? 1 : 0) : 0;
    at += counts[i];
  }
  counts[mysize - 1] += total - at;
  for (int i = 0; i < lr; i++) mine_at += counts[i];
  long long lin[1024];
  long long lout[1024];
  for (int i = 0; i < total; i++) lin[i] = (long long)(rank + 1) << (i % 20);
  for (int i = 0; i < counts[lr]; i++) lout[i] = -1;
  RUN(nb, MPI_Reduce_scatter(lin, lout, counts, MPI_LONG_LONG, MPI_SUM, inter),
      MPI_Ireduce_scatter(lin, lout, counts, MPI_LONG_LONG, MPI_SUM, inter, &req_));
  long long s1 = 0;
  for (int r = 0; r < othersize; r++) s1 += rw(r) + 1;
  for (int k = 0; k < counts[lr]; k++) CHECK(lout[k] == s1 << ((mine_at + k) % 20), "reduce_scatter nb=%d [%d]: %lld", nb, k, lout[k]);
  free(in);
}

static void barrier(int nb) { RUN(nb, MPI_Barrier(inter), MPI_Ibarrier(inter, &req_)); }

/* Several non-blocking collectives outstanding at once, completed in reverse order. */
static void outstanding(void) {
  MPI_Request reqs[4];
  int b = upper ? -1 : rank, s = -1, all[64], a = 0;
  int root = upper ? 0 : (lr == 0 ? MPI_ROOT : MPI_PROC_NULL);
  MPI_Ibcast(&b, 1, MPI_INT, root, inter, &reqs[0]);
  MPI_Iallreduce(&rank, &s, 1, MPI_INT, MPI_MAX, inter, &reqs[1]);
  MPI_Iallgather(&rank, 1, MPI_INT, all, 1, MPI_INT, inter, &reqs[2]);
  MPI_Ibarrier(inter, &reqs[3]);
  for (int i = 3; i >= 0; i--) MPI_Wait(&reqs[i], MPI_STATUS_IGNORE);
  if (upper) CHECK(b == 0, "outstanding bcast: %d", b);
  CHECK(s == otherbase + othersize - 1, "outstanding allreduce: %d", s);
  for (int r = 0; r < othersize; r++) a += all[r] == rw(r);
  CHECK(a == othersize, "outstanding allgather");
}

/* Comm_split on the intercommunicator: color = world rank % 2, key reverses the order. */
static void split(void) {
  MPI_Comm sub;
  int color = rank % 2, n, r, flag;
  MPI_Comm_split(inter, color, -rank, &sub);
  int mine = 0, theirs = 0;
  for (int w = mybase; w < mybase + mysize; w++) mine += w % 2 == color;
  for (int w = otherbase; w < otherbase + othersize; w++) theirs += w % 2 == color;
  if (theirs == 0) {
    CHECK(sub == MPI_COMM_NULL, "split: color %d has no remote ranks, yet a communicator", color);
    return;
  }
  CHECK(sub != MPI_COMM_NULL, "split: no communicator for color %d", color);
  if (sub == MPI_COMM_NULL) return;
  MPI_Comm_test_inter(sub, &flag);
  MPI_Comm_size(sub, &n);
  MPI_Comm_rank(sub, &r);
  int above = 0, rs;
  for (int w = rank + 1; w < mybase + mysize; w++) above += w % 2 == color;
  MPI_Comm_remote_size(sub, &rs);
  CHECK(flag && n == mine && rs == theirs && r == above, "split: inter %d size %d rank %d remote %d", flag, n, r, rs);
  /* remote rank 0 is the other group's highest world rank of this color */
  int top = -1, got = -1, sum = -1, want = 0;
  for (int w = otherbase; w < otherbase + othersize; w++)
    if (w % 2 == color) top = w, want += w;
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, sub);
  CHECK(sum == want, "split: allreduce %d, want %d", sum, want);
  if (r == 0) {
    MPI_Sendrecv(&rank, 1, MPI_INT, 0, 1, &got, 1, MPI_INT, 0, 1, sub, MPI_STATUS_IGNORE);
    CHECK(got == top, "split: remote leader %d, want %d", got, top);
  }
  MPI_Comm_free(&sub);
}

/* Comm_create on the intercommunicator: each group without its local rank 0 (unless it is alone). */
static void create(void) {
  MPI_Group g, sub;
  MPI_Comm c;
  MPI_Comm_group(inter, &g);
  int zero = 0, n, rs;
  if (mysize > 1) MPI_Group_excl(g, 1, &zero, &sub);
  else MPI_Group_incl(g, 1, &zero, &sub);
  MPI_Comm_create(inter, sub, &c);
  int in = mysize == 1 || lr > 0, mine = mysize > 1 ? mysize - 1 : 1, theirs = othersize > 1 ? othersize - 1 : 1;
  CHECK((c != MPI_COMM_NULL) == in, "create: in %d, got %s", in, c == MPI_COMM_NULL ? "MPI_COMM_NULL" : "a communicator");
  if (c != MPI_COMM_NULL) {
    MPI_Comm_size(c, &n);
    MPI_Comm_remote_size(c, &rs);
    int s = -1, want = 0;
    MPI_Allreduce(&rank, &s, 1, MPI_INT, MPI_SUM, c);
    for (int w = otherbase + (othersize > 1); w < otherbase + othersize; w++) want += w;
    CHECK(n == mine && rs == theirs && s == want, "create: size %d remote %d sum %d (want %d %d %d)", n, rs, s, mine, theirs, want);
    MPI_Comm_free(&c);
  }
  MPI_Group_free(&sub);
  MPI_Group_free(&g);
}

static void idup(void) {
  MPI_Comm d;
  MPI_Request req;
  int flag, rs, s = -1;
  MPI_Comm_idup(inter, &d, &req);
  MPI_Wait(&req, MPI_STATUS_IGNORE);
  MPI_Comm_test_inter(d, &flag);
  MPI_Comm_remote_size(d, &rs);
  MPI_Allreduce(&rank, &s, 1, MPI_INT, MPI_MIN, d);
  CHECK(flag && rs == othersize && s == otherbase, "idup: inter %d remote %d min %d", flag, rs, s);
  MPI_Comm_free(&d);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) return finish("intercoll");
  h = size / 2, upper = rank >= h;
  mybase = upper ? h : 0, mysize = upper ? size - h : h;
  otherbase = upper ? 0 : h, othersize = upper ? h : size - h;
  lr = rank - mybase;
  MPI_Comm local;
  MPI_Comm_split(MPI_COMM_WORLD, upper, rank, &local);
  MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, otherbase, 42, &inter);
  for (int nb = 0; nb < 2; nb++) {
    bcast(nb);
    reduce(nb);
    allreduce(nb);
    gather(nb);
    scatter(nb);
    allgather(nb);
    alltoall(nb);
    reduce_scatter(nb);
    barrier(nb);
  }
  outstanding();
  split();
  create();
  idup();
  MPI_Comm_free(&inter);
  MPI_Comm_free(&local);
  return finish("intercoll");
}
