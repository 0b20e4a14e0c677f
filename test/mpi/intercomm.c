/* Intercommunicators between the two halves of the world (odd sizes too):
 * Intercomm_create, test_inter, remote size and group, point to point across
 * (ANY_SOURCE statuses in remote ranks), dup, compare, barrier, MPI_Scan
 * (defined on intracommunicators only) refused, Intercomm_merge both ways; MPI_COMM_SELF as local_comm;
 * Comm_create_group on subsets with tags. */
#include "check.h"
#include <stdlib.h>

/* Each rank's slot holds its world rank + 1: the allreduce shows the merged rank order. */
static void check_order(MPI_Comm merged, int rank, int size, const int *expect, const char *what) {
  int r, n;
  MPI_Comm_rank(merged, &r);
  MPI_Comm_size(merged, &n);
  CHECK(n == size && r == expect[rank], "%s: rank %d size %d, want %d", what, r, n, expect[rank]);
  int *slots = calloc(size, sizeof(int)), *sum = calloc(size, sizeof(int));
  slots[r] = rank + 1;
  MPI_Allreduce(slots, sum, size, MPI_INT, MPI_SUM, merged);
  for (int w = 0; w < size; w++) CHECK(sum[expect[w]] == w + 1, "%s: slot of world rank %d holds %d", what, w, sum[expect[w]]);
  free(slots);
  free(sum);
}

int main(int argc, char **argv) {
  int rank, size, r, n, flag, result, rc;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) return finish("intercomm");

  /* lower half [0, h), upper half [h, size): the upper one is larger on odd sizes */
  int h = size / 2, upper = rank >= h;
  int mybase = upper ? h : 0, mysize = upper ? size - h : h;
  int otherbase = upper ? 0 : h, othersize = upper ? h : size - h;
  int lr = rank - mybase;
  MPI_Comm local, inter;
  MPI_Comm_split(MPI_COMM_WORLD, upper, rank, &local);
  MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, otherbase, 42, &inter);

  MPI_Comm_test_inter(inter, &flag);
  CHECK(flag == 1, "test_inter on the intercommunicator");
  MPI_Comm_test_inter(local, &flag);
  CHECK(flag == 0, "test_inter on the local communicator");
  MPI_Comm_rank(inter, &r);
  MPI_Comm_size(inter, &n);
  CHECK(r == lr && n == mysize, "rank/size are the local group's: %d/%d", r, n);
  MPI_Comm_remote_size(inter, &n);
  CHECK(n == othersize, "remote size %d", n);

  MPI_Group world_group, remote_group, local_group;
  MPI_Comm_group(MPI_COMM_WORLD, &world_group);
  MPI_Comm_remote_group(inter, &remote_group);
  MPI_Group_size(remote_group, &n);
  CHECK(n == othersize, "remote group size %d", n);
  for (int i = 0; i < othersize; i++) {
    int w;
    MPI_Group_translate_ranks(remote_group, 1, &i, world_group, &w);
    CHECK(w == otherbase + i, "remote rank %d is world rank %d", i, w);
  }
  MPI_Comm_group(inter, &local_group);
  MPI_Group_size(local_group, &n);
  MPI_Group_rank(local_group, &r);
  CHECK(n == mysize && r == lr, "Comm_group is the local group");

  /* ping-pong across: local rank i with remote rank i; statuses name remote ranks */
  if (lr < othersize) {
    int v, got = -1;
    MPI_Status st;
    if (!upper) {
      v = rank;
      MPI_Send(&v, 1, MPI_INT, lr, 5, inter);
      MPI_Recv(&got, 1, MPI_INT, MPI_ANY_SOURCE, 6, inter, &st);
      CHECK(got == h + lr + 1000 && st.MPI_SOURCE == lr && st.MPI_TAG == 6, "pong %d from %d", got, st.MPI_SOURCE);
    } else {
      MPI_Recv(&got, 1, MPI_INT, MPI_ANY_SOURCE, 5, inter, &st);
      CHECK(got == lr && st.MPI_SOURCE == lr, "ping %d from %d", got, st.MPI_SOURCE);
      v = rank + 1000;
      MPI_Send(&v, 1, MPI_INT, st.MPI_SOURCE, 6, inter);
    }
  }
  /* every upper rank sends to remote rank 0; it receives them all with ANY_SOURCE */
  if (upper) {
    MPI_Send(&rank, 1, MPI_INT, 0, 7, inter);
  } else if (lr == 0) {
    int seen = 0;
    for (int k = 0; k < othersize; k++) {
      int got;
      MPI_Status st;
      MPI_Recv(&got, 1, MPI_INT, MPI_ANY_SOURCE, 7, inter, &st);
      CHECK(got == h + st.MPI_SOURCE, "from remote %d: %d", st.MPI_SOURCE, got);
      seen |= 1 << st.MPI_SOURCE;
    }
    CHECK(seen == (1 << othersize) - 1, "every remote rank seen: %x", seen);
  }

  /* ranks beyond the remote group, and MPI_Scan (intracommunicators only, MPI 3.1 §5.11), are errors */
  MPI_Comm_set_errhandler(inter, MPI_ERRORS_RETURN);
  rc = MPI_Send(&rank, 1, MPI_INT, othersize, 0, inter);
  CHECK(rc == MPI_ERR_RANK, "send beyond the remote group: %d", rc);
  int scanned;
  rc = MPI_Scan(&rank, &scanned, 1, MPI_INT, MPI_SUM, inter);
  CHECK(rc == MPI_ERR_COMM, "scan on an intercommunicator: %d", rc);
  rc = MPI_Barrier(inter);
  CHECK(rc == MPI_SUCCESS, "barrier on an intercommunicator: %d", rc);

  /* dup keeps both groups; compare */
  MPI_Comm idup;
  MPI_Comm_dup(inter, &idup);
  MPI_Comm_test_inter(idup, &flag);
  MPI_Comm_remote_size(idup, &n);
  CHECK(flag == 1 && n == othersize, "dup of an intercommunicator");
  MPI_Comm_compare(inter, idup, &result);
  CHECK(result == MPI_CONGRUENT, "dup is congruent: %d", result);
  MPI_Comm_compare(inter, local, &result);
  CHECK(result == MPI_UNEQUAL, "inter vs intra: %d", result);
  if (lr == 0) {
    int got = -1;
    MPI_Sendrecv(&rank, 1, MPI_INT, 0, 3, &got, 1, MPI_INT, 0, 3, idup, MPI_STATUS_IGNORE);
    CHECK(got == otherbase, "leaders swap on the dup: %d", got);
  }

  /* merge: the group passing high = 0 first; both the same: the lower leader's group first */
  int *expect = malloc(size * sizeof(int));
  MPI_Comm merged;
  MPI_Intercomm_merge(inter, upper, &merged);
  for (int w = 0; w < size; w++) expect[w] = w;
  check_order(merged, rank, size, expect, "merge, upper high");
  MPI_Comm_free(&merged);
  MPI_Intercomm_merge(inter, !upper, &merged);
  for (int w = 0; w < size; w++) expect[w] = w >= h ? w - h : w + (size - h);
  check_order(merged, rank, size, expect, "merge, lower high");
  MPI_Comm_free(&merged);
  MPI_Intercomm_merge(idup, 1, &merged);
  for (int w = 0; w < size; w++) expect[w] = w;
  check_order(merged, rank, size, expect, "merge, both high");
  MPI_Comm_free(&merged);
  free(expect);

  /* MPI_COMM_SELF as local_comm: ranks 0 and 1 pair up */
  if (rank < 2) {
    MPI_Comm pair, both;
    MPI_Intercomm_create(MPI_COMM_SELF, 0, MPI_COMM_WORLD, 1 - rank, 11, &pair);
    MPI_Comm_remote_size(pair, &n);
    int got = -1;
    MPI_Sendrecv(&rank, 1, MPI_INT, 0, 0, &got, 1, MPI_INT, 0, 0, pair, MPI_STATUS_IGNORE);
    CHECK(n == 1 && got == 1 - rank, "self pair: remote size %d, got %d", n, got);
    MPI_Intercomm_merge(pair, rank, &both);
    MPI_Comm_rank(both, &r);
    MPI_Comm_size(both, &n);
    CHECK(r == rank && n == 2, "self pair merged: %d of %d", r, n);
    MPI_Comm_free(&both);
    MPI_Comm_free(&pair);
  }
  /* ...and a communicator made from MPI_COMM_SELF (rank 0 a dup, rank 1 SELF itself) */
  if (rank < 2) {
    MPI_Comm selfdup, pair;
    MPI_Comm_dup(MPI_COMM_SELF, &selfdup);
    int rc = MPI_Intercomm_create(rank == 0 ? selfdup : MPI_COMM_SELF, 0, MPI_COMM_WORLD, 1 - rank, 12, &pair);
    int got = -1;
    MPI_Sendrecv(&rank, 1, MPI_INT, 0, 0, &got, 1, MPI_INT, 0, 0, pair, MPI_STATUS_IGNORE);
    CHECK(rc == MPI_SUCCESS && got == 1 - rank, "intercomm from a dup of MPI_COMM_SELF: rc %d, got %d", rc, got);
    MPI_Comm_free(&pair);
    MPI_Comm_free(&selfdup);
  }

  /* Comm_create_group: each half over its own members (one tag each), descending */
  int *members = malloc(size * sizeof(int));
  for (int i = 0; i < mysize; i++) members[i] = mybase + mysize - 1 - i;
  MPI_Group half_group;
  MPI_Group_incl(world_group, mysize, members, &half_group);
  MPI_Comm half;
  MPI_Comm_create_group(MPI_COMM_WORLD, half_group, upper ? 8 : 9, &half);
  MPI_Comm_rank(half, &r);
  MPI_Comm_size(half, &n);
  CHECK(r == mysize - 1 - lr && n == mysize, "create_group rank %d size %d", r, n);
  int sum = 0;
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, half);
  CHECK(sum == mysize * mybase + mysize * (mysize - 1) / 2, "allreduce on the new group: %d", sum);
  MPI_Comm_free(&half);
  /* ranks outside the group get MPI_COMM_NULL */
  MPI_Comm none;
  MPI_Comm_create_group(MPI_COMM_WORLD, MPI_GROUP_EMPTY, 1, &none);
  CHECK(none == MPI_COMM_NULL, "create_group with an empty group");
  /* the even world ranks, over the intercomm's local communicator's parent */
  int ne = 0;
  for (int w = 0; w < size; w += 2) members[ne++] = w;
  MPI_Group evens;
  MPI_Group_incl(world_group, ne, members, &evens);
  MPI_Comm even;
  MPI_Comm_create_group(MPI_COMM_WORLD, evens, 10, &even);
  if (rank % 2 == 0) {
    MPI_Comm_rank(even, &r);
    CHECK(even != MPI_COMM_NULL && r == rank / 2, "evens: rank %d", r);
    MPI_Barrier(even);
    MPI_Comm_free(&even);
  } else {
    CHECK(even == MPI_COMM_NULL, "odd ranks are not in the evens");
  }
  /* a group that is not part of the communicator's */
  MPI_Comm_set_errhandler(local, MPI_ERRORS_RETURN);
  rc = MPI_Comm_create_group(local, remote_group, 1, &none);
  /* an erroneous call MPI need not detect (Open MPI gives MPI_COMM_NULL); fmi says MPI_ERR_GROUP */
  CHECK(rc == MPI_ERR_GROUP || (rc == MPI_SUCCESS && none == MPI_COMM_NULL), "create_group with another group: %d", rc);

  free(members);
  MPI_Group_free(&evens);
  MPI_Group_free(&half_group);
  MPI_Group_free(&local_group);
  MPI_Group_free(&remote_group);
  MPI_Group_free(&world_group);
  MPI_Comm_free(&idup);
  MPI_Comm_free(&inter);
  MPI_Comm_free(&local);
  return finish("intercomm");
}
