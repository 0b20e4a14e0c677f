/* Handle lifetimes and layouts, from the standard's text:
 * - MPI 3.1 §4.1.9: a datatype freed while a pending operation uses it stays
 *   valid for that operation; types built from it are unaffected (Irecv,
 *   Isend, persistent requests, non-blocking collectives); a new type made
 *   meanwhile does not take over the old one's layout. §5.9.5: an op freed
 *   while a non-blocking reduction uses it still works for it.
 * - §6.4.2 (MPI 2.2 on): MPI_Comm_create with different, disjoint groups
 *   at different ranks gives each rank its own group's communicator.
 * - §4.1.6 / §5.9.4: MPI_LONG_DOUBLE_INT and structs with long double have
 *   the extent the C compiler gives them (sizeof).
 * - §6.7.2: a freed keyval still attached keeps working until its last
 *   attribute is gone; an error a copy or delete callback returns comes back
 *   from Comm_dup / Comm_delete_attr / Comm_free; §8.7.1: MPI_Finalize first
 *   deletes MPI_COMM_SELF's attributes, in the reverse order of setting
 *   (checked at exit). */
#include "check.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;

/* every other int of 6: slots 0, 2, 4 */
static MPI_Datatype every_other(void) {
  MPI_Datatype t;
  MPI_Type_vector(3, 1, 2, MPI_INT, &t);
  MPI_Type_commit(&t);
  return t;
}

static void check_every_other(const int *got, int from, const char *what) {
  for (int k = 0; k < 6; k++) {
    int want = k % 2 == 0 ? from * 10 + k : -1;
    CHECK(got[k] == want, "%s: slot %d holds %d, want %d", what, k, got[k], want);
  }
}

/* Irecv and Isend with a type freed before MPI_Wait; new types are made in between. */
static void freed_while_pending(void) {
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  int out[6], in[6];
  for (int k = 0; k < 6; k++) out[k] = rank * 10 + k, in[k] = -1;
  MPI_Datatype t = every_other();
  MPI_Request reqs[2];
  MPI_Irecv(in, 1, t, prev, 1, MPI_COMM_WORLD, &reqs[0]);
  MPI_Isend(out, 1, t, next, 1, MPI_COMM_WORLD, &reqs[1]);
  MPI_Type_free(&t);
  CHECK(t == MPI_DATATYPE_NULL, "MPI_Type_free sets the handle to MPI_DATATYPE_NULL");
  /* new types, which may not take over the freed one's layout */
  MPI_Datatype u[4];
  for (int i = 0; i < 4; i++) {
    MPI_Type_contiguous(6, MPI_INT, &u[i]);
    MPI_Type_commit(&u[i]);
  }
  MPI_Waitall(2, reqs, MPI_STATUSES_IGNORE);
  check_every_other(in, prev, "Irecv with a freed type");
  /* the new types work as themselves */
  int all[6], back[6];
  for (int k = 0; k < 6; k++) all[k] = rank + k, back[k] = -1;
  MPI_Sendrecv(all, 1, u[3], next, 2, back, 1, u[3], prev, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  for (int k = 0; k < 6; k++) CHECK(back[k] == prev + k, "a type made after a free: slot %d holds %d", k, back[k]);
  for (int i = 0; i < 4; i++) MPI_Type_free(&u[i]);
}

/* A type built from a freed one keeps working, and reports the same layout. */
static void built_from_freed(void) {
  MPI_Datatype t = every_other(), pair;
  MPI_Type_contiguous(2, t, &pair);
  MPI_Type_commit(&pair);
  MPI_Type_free(&t);
  MPI_Aint lb, extent;
  int sz;
  MPI_Type_get_extent(pair, &lb, &extent);
  MPI_Type_size(pair, &sz);
  CHECK(lb == 0 && extent == 2 * 5 * (MPI_Aint)sizeof(int) && sz == 6 * (int)sizeof(int), "built from a freed type: lb %ld extent %ld size %d", (long)lb, (long)extent, sz);
  int out[10], in[10];
  for (int k = 0; k < 10; k++) out[k] = rank * 100 + k, in[k] = -1;
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  MPI_Sendrecv(out, 1, pair, next, 3, in, 1, pair, prev, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  /* the second copy starts one extent (5 ints) on: slots 0, 2, 4, 5, 7, 9 */
  for (int k = 0; k < 10; k++) {
    int want = (k < 5 ? k : k - 5) % 2 == 0 ? prev * 100 + k : -1;
    CHECK(in[k] == want, "built from a freed type: slot %d holds %d, want %d", k, in[k], want);
  }
  MPI_Type_free(&pair);
}

/* Persistent requests keep their type across MPI_Start after it is freed. */
static void persistent(void) {
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  int out[6], in[6];
  MPI_Datatype t = every_other();
  MPI_Request reqs[2];
  MPI_Recv_init(in, 1, t, prev, 4, MPI_COMM_WORLD, &reqs[0]);
  MPI_Send_init(out, 1, t, next, 4, MPI_COMM_WORLD, &reqs[1]);
  MPI_Type_free(&t);
  MPI_Datatype u;
  MPI_Type_contiguous(3, MPI_DOUBLE, &u);
  MPI_Type_commit(&u);
  for (int round = 0; round < 2; round++) {
    for (int k = 0; k < 6; k++) out[k] = rank * 10 + k + round, in[k] = -1;
    MPI_Startall(2, reqs);
    MPI_Waitall(2, reqs, MPI_STATUSES_IGNORE);
    for (int k = 0; k < 6; k++) {
      int want = k % 2 == 0 ? prev * 10 + k + round : -1;
      CHECK(in[k] == want, "persistent round %d: slot %d holds %d, want %d", round, k, in[k], want);
    }
  }
  MPI_Request_free(&reqs[0]);
  MPI_Request_free(&reqs[1]);
  MPI_Type_free(&u);
}

static void sum_ints(void *in, void *inout, int *len, MPI_Datatype *t) {
  (void)t;
  for (int i = 0; i < *len; i++) ((int *)inout)[i] += ((int *)in)[i];
}

/* Non-blocking collectives: the type and the op are freed before MPI_Wait. */
static void collectives(void) {
  int buf[6];
  for (int k = 0; k < 6; k++) buf[k] = rank == 0 || k % 2 ? -1 : 99;
  if (rank == 0) buf[0] = 0, buf[2] = 2, buf[4] = 4;
  MPI_Datatype t = every_other();
  MPI_Request req;
  MPI_Ibcast(buf, 1, t, 0, MPI_COMM_WORLD, &req);
  MPI_Type_free(&t);
  MPI_Datatype u;
  MPI_Type_contiguous(6, MPI_INT, &u);
  MPI_Type_commit(&u);
  MPI_Wait(&req, MPI_STATUS_IGNORE);
  check_every_other(buf, 0, "Ibcast with a freed type"); /* root 0 sends k at slot k */
  MPI_Type_free(&u);

  MPI_Op op;
  MPI_Op_create(sum_ints, 1, &op);
  int v = rank + 1, s = -1;
  MPI_Iallreduce(&v, &s, 1, MPI_INT, op, MPI_COMM_WORLD, &req);
  MPI_Op_free(&op);
  CHECK(op == MPI_OP_NULL, "MPI_Op_free sets the handle to MPI_OP_NULL");
  MPI_Wait(&req, MPI_STATUS_IGNORE);
  CHECK(s == size * (size + 1) / 2, "Iallreduce with a freed op: %d", s);
}

/* Each rank passes the group of the ranks of its parity: two communicators, not one. */
static void create_disjoint(void) {
  MPI_Group world, mine;
  MPI_Comm_group(MPI_COMM_WORLD, &world);
  int n = 0, *members = malloc(size * sizeof(int));
  for (int w = rank % 2; w < size; w += 2) members[n++] = w;
  MPI_Group_incl(world, n, members, &mine);
  MPI_Comm c;
  MPI_Comm_create(MPI_COMM_WORLD, mine, &c);
  int csize = -1, crank = -1, sum = -1, want = 0;
  for (int i = 0; i < n; i++) want += members[i];
  CHECK(c != MPI_COMM_NULL, "Comm_create with disjoint groups: MPI_COMM_NULL");
  if (c != MPI_COMM_NULL) {
    MPI_Comm_size(c, &csize);
    MPI_Comm_rank(c, &crank);
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, c);
    CHECK(csize == n && crank == rank / 2 && sum == want, "Comm_create with disjoint groups: size %d rank %d sum %d, want %d %d %d", csize, crank, sum, n, rank / 2, want);
    MPI_Comm_free(&c);
  }
  free(members);
  MPI_Group_free(&mine);
  MPI_Group_free(&world);
}

struct ldi {
  long double v;
  int i;
};
struct cld {
  char c;
  long double v;
};

/* Extents as the compiler lays the types out, and data that moves with them. */
static void long_double(void) {
  MPI_Aint lb, extent;
  MPI_Type_get_extent(MPI_LONG_DOUBLE_INT, &lb, &extent);
  CHECK(lb == 0 && extent == (MPI_Aint)sizeof(struct ldi), "MPI_LONG_DOUBLE_INT: extent %ld, sizeof %zu", (long)extent, sizeof(struct ldi));
  MPI_Type_get_extent(MPI_LONG_DOUBLE, &lb, &extent);
  CHECK(extent == (MPI_Aint)sizeof(long double), "MPI_LONG_DOUBLE: extent %ld, sizeof %zu", (long)extent, sizeof(long double));

  MPI_Datatype st, types[2] = {MPI_CHAR, MPI_LONG_DOUBLE};
  int bl[2] = {1, 1};
  MPI_Aint displs[2] = {offsetof(struct cld, c), offsetof(struct cld, v)};
  MPI_Type_create_struct(2, bl, displs, types, &st);
  MPI_Type_commit(&st);
  MPI_Type_get_extent(st, &lb, &extent);
  CHECK(extent == (MPI_Aint)sizeof(struct cld), "struct { char; long double }: extent %ld, sizeof %zu", (long)extent, sizeof(struct cld));

  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  struct cld out[3], in[3];
  struct ldi lout[3], lin[3];
  memset(in, 0, sizeof in);
  memset(lin, 0, sizeof lin);
  for (int k = 0; k < 3; k++) {
    out[k].c = (char)('a' + rank + k), out[k].v = rank + k / 4.0L;
    lout[k].v = rank * 3 + k, lout[k].i = rank * 7 + k;
  }
  MPI_Sendrecv(out, 3, st, next, 5, in, 3, st, prev, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Sendrecv(lout, 3, MPI_LONG_DOUBLE_INT, next, 6, lin, 3, MPI_LONG_DOUBLE_INT, prev, 6, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  for (int k = 0; k < 3; k++) {
    CHECK(in[k].c == (char)('a' + prev + k) && in[k].v == prev + k / 4.0L, "struct { char; long double } [%d]: %c %Lg", k, in[k].c, in[k].v);
    CHECK(lin[k].v == prev * 3 + k && lin[k].i == prev * 7 + k, "MPI_LONG_DOUBLE_INT [%d]: %Lg %d", k, lin[k].v, lin[k].i);
  }
  MPI_Type_free(&st);
}

/* Delete callbacks: count calls and the values they see, in order. */
static int deleted[16], ndeleted = 0, self_deleted[3], nself = 0;

static int record_delete(MPI_Comm c, int key, void *val, void *extra) {
  (void)c, (void)key, (void)extra;
  if (ndeleted < 16) deleted[ndeleted++] = (int)(MPI_Aint)val;
  return MPI_SUCCESS;
}

static int fail_delete(MPI_Comm c, int key, void *val, void *extra) {
  (void)c, (void)key, (void)val, (void)extra;
  return MPI_ERR_OTHER;
}

static int fail_copy(MPI_Comm c, int key, void *extra, void *in, void *out, int *flag) {
  (void)c, (void)key, (void)extra, (void)in, (void)out;
  *flag = 0;
  return MPI_ERR_OTHER;
}

static int self_delete(MPI_Comm c, int key, void *val, void *extra) {
  (void)c, (void)key, (void)extra;
  if (nself < 3) self_deleted[nself] = (int)(MPI_Aint)val;
  nself++;
  return MPI_SUCCESS;
}

/* After MPI_Finalize (atexit): its delete callbacks ran once each, the last set first. */
static void check_self_at_exit(void) {
  if (nself != 3 || self_deleted[0] != 3 || self_deleted[1] != 2 || self_deleted[2] != 1)
    printf("FAIL rank %d: MPI_Finalize ran %d delete callbacks of MPI_COMM_SELF's attributes, values %d %d %d (want 3 2 1)\n", rank, nself,
           self_deleted[0], self_deleted[1], self_deleted[2]);
}

static void attributes(void) {
  /* a keyval freed while attached to two communicators */
  int key = MPI_KEYVAL_INVALID, flag = 0;
  void *val = NULL;
  MPI_Comm a, b;
  MPI_Comm_dup(MPI_COMM_WORLD, &a);
  MPI_Comm_dup(MPI_COMM_WORLD, &b);
  MPI_Comm_create_keyval(MPI_COMM_DUP_FN, record_delete, &key, NULL);
  int k = key;
  MPI_Comm_set_attr(a, k, (void *)(MPI_Aint)11);
  MPI_Comm_set_attr(b, k, (void *)(MPI_Aint)12);
  MPI_Comm_free_keyval(&key);
  CHECK(key == MPI_KEYVAL_INVALID, "Comm_free_keyval sets MPI_KEYVAL_INVALID");
  int rc = MPI_Comm_get_attr(a, k, &val, &flag);
  CHECK(rc == MPI_SUCCESS && flag && (MPI_Aint)val == 11, "get_attr with a freed keyval still attached: rc %d flag %d", rc, flag);
  /* a dup copies it (MPI_COMM_DUP_FN) */
  MPI_Comm c;
  MPI_Comm_dup(a, &c);
  flag = 0;
  MPI_Comm_get_attr(c, k, &val, &flag);
  CHECK(flag && (MPI_Aint)val == 11, "dup copies an attribute of a freed keyval: flag %d", flag);
  rc = MPI_Comm_delete_attr(b, k);
  CHECK(rc == MPI_SUCCESS && ndeleted == 1 && deleted[0] == 12, "delete_attr with a freed keyval: rc %d, %d callbacks", rc, ndeleted);
  MPI_Comm_free(&a);
  MPI_Comm_free(&c);
  CHECK(ndeleted == 3 && deleted[1] == 11 && deleted[2] == 11, "Comm_free runs the delete callbacks of a freed keyval: %d", ndeleted);
  MPI_Comm_free(&b);

  /* callbacks' errors come back from the calls that ran them */
  MPI_Comm_dup(MPI_COMM_WORLD, &a);
  MPI_Comm_set_errhandler(a, MPI_ERRORS_RETURN);
  int kd, kc, cls = -1;
  MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, fail_delete, &kd, NULL);
  MPI_Comm_set_attr(a, kd, (void *)(MPI_Aint)1);
  rc = MPI_Comm_delete_attr(a, kd);
  MPI_Error_class(rc, &cls);
  CHECK(cls == MPI_ERR_OTHER, "delete_attr whose callback fails: rc %d class %d", rc, cls);
  MPI_Comm_create_keyval(fail_copy, MPI_COMM_NULL_DELETE_FN, &kc, NULL);
  MPI_Comm_set_attr(a, kc, (void *)(MPI_Aint)2);
  MPI_Comm dup = MPI_COMM_NULL;
  rc = MPI_Comm_dup(a, &dup);
  cls = -1;
  MPI_Error_class(rc, &cls);
  CHECK(cls == MPI_ERR_OTHER, "Comm_dup whose copy callback fails: rc %d class %d", rc, cls);
  if (rc == MPI_SUCCESS && dup != MPI_COMM_NULL) MPI_Comm_free(&dup);
  MPI_Comm_delete_attr(a, kc);
  MPI_Comm_free_keyval(&kc);
  MPI_Comm_free_keyval(&kd);
  MPI_Comm_free(&a);

  /* MPI_COMM_SELF's attributes go at MPI_Finalize, the last set first */
  int ks;
  MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, self_delete, &ks, NULL);
  int k1, k2;
  MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, self_delete, &k1, NULL);
  MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, self_delete, &k2, NULL);
  MPI_Comm_set_attr(MPI_COMM_SELF, k2, (void *)(MPI_Aint)1);
  MPI_Comm_set_attr(MPI_COMM_SELF, ks, (void *)(MPI_Aint)2);
  MPI_Comm_set_attr(MPI_COMM_SELF, k1, (void *)(MPI_Aint)3);
  MPI_Comm_free_keyval(&k1);
  atexit(check_self_at_exit);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  freed_while_pending();
  built_from_freed();
  persistent();
  collectives();
  create_disjoint();
  long_double();
  attributes();
  return finish("handles");
}
