/* Lifetimes of handles the program frees while something still uses them
 * (MPI 3.1 §6.4.3, §12.2), read from the standard:
 * - MPI_Request_free on a generalized request calls its free_fn (not its
 *   query_fn), in MPI_Request_free or MPI_Grequest_complete, whichever
 *   comes last;
 * - MPI_Comm_free with requests pending on the communicator: they complete
 *   normally, and a communicator made meanwhile gets a handle of its own
 *   (the freed object still exists, so its handle is not reused);
 * - a group freed after a communicator was made from it leaves the
 *   communicator alone. */
#include "check.h"
#include <string.h>

static int queries, frees;
static int query_fn(void *extra, MPI_Status *st) { (void)extra; queries++; MPI_Status_set_elements(st, MPI_BYTE, 0); MPI_Status_set_cancelled(st, 0); st->MPI_SOURCE = MPI_UNDEFINED; st->MPI_TAG = MPI_UNDEFINED; return MPI_SUCCESS; }
static int free_fn(void *extra) { frees++; *(int *)extra += 1; return MPI_SUCCESS; }
static int cancel_fn(void *extra, int complete) { (void)extra; (void)complete; return MPI_SUCCESS; }

static void grequests(void) {
  int mine = 0;
  MPI_Request r;
  /* Freed before it is completed: free_fn runs in MPI_Grequest_complete. */
  queries = frees = 0;
  MPI_Grequest_start(query_fn, free_fn, cancel_fn, &mine, &r);
  MPI_Request kept = r;
  MPI_Request_free(&r);
  CHECK(r == MPI_REQUEST_NULL, "MPI_Request_free leaves MPI_REQUEST_NULL");
  CHECK(frees == 0, "free_fn ran before MPI_Grequest_complete (%d)", frees);
  MPI_Grequest_complete(kept);
  CHECK(frees == 1 && mine == 1, "free_fn after MPI_Request_free + MPI_Grequest_complete: %d calls", frees);
  CHECK(queries == 0, "query_fn ran for a freed request (%d)", queries);

  /* Completed, then freed: free_fn runs in MPI_Request_free. */
  queries = frees = 0;
  MPI_Grequest_start(query_fn, free_fn, cancel_fn, &mine, &r);
  MPI_Grequest_complete(r);
  CHECK(frees == 0, "free_fn ran in MPI_Grequest_complete of a request not freed (%d)", frees);
  MPI_Request_free(&r);
  CHECK(frees == 1 && mine == 2, "free_fn after MPI_Grequest_complete + MPI_Request_free: %d calls", frees);
  CHECK(queries == 0, "query_fn ran for a freed request (%d)", queries);

  /* Waited on: query_fn, then free_fn, once each. */
  queries = frees = 0;
  MPI_Grequest_start(query_fn, free_fn, cancel_fn, &mine, &r);
  MPI_Grequest_complete(r);
  MPI_Wait(&r, MPI_STATUS_IGNORE);
  CHECK(queries == 1 && frees == 1 && mine == 3, "MPI_Wait: %d queries, %d frees", queries, frees);
}

static void comms(int rank, int size) {
  int left = (rank + size - 1) % size, right = (rank + 1) % size;
  MPI_Comm dup, dup2;
  MPI_Request rq[4];
  MPI_Status st;
  int in[2] = {-1, -1}, in2[2] = {-1, -1}, out[2] = {rank, rank + 100}, err;
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  /* Two receives and their sends, pending when the communicator is freed. */
  MPI_Irecv(in, 2, MPI_INT, left, 1, dup, &rq[0]);
  MPI_Irecv(in2, 2, MPI_INT, MPI_ANY_SOURCE, 2, dup, &rq[1]);
  MPI_Isend(out, 2, MPI_INT, right, 1, dup, &rq[2]);
  MPI_Isend(out, 2, MPI_INT, right, 2, dup, &rq[3]);
  MPI_Comm saved = dup;
  MPI_Comm_free(&dup);
  CHECK(dup == MPI_COMM_NULL, "MPI_Comm_free leaves MPI_COMM_NULL");
  /* The freed communicator still exists (its requests use it): a new one gets another handle. */
  MPI_Comm_dup(MPI_COMM_WORLD, &dup2);
  CHECK(dup2 != saved, "a communicator made while the freed one has pending requests got the same handle");
  err = MPI_Wait(&rq[0], &st);
  CHECK(err == MPI_SUCCESS, "MPI_Wait on a receive of a freed communicator: %d", err);
  CHECK(in[0] == left && in[1] == left + 100, "received %d %d from %d", in[0], in[1], left);
  CHECK(st.MPI_SOURCE == left && st.MPI_TAG == 1, "status source %d tag %d", st.MPI_SOURCE, st.MPI_TAG);
  err = MPI_Wait(&rq[1], &st);
  CHECK(err == MPI_SUCCESS && st.MPI_SOURCE == left && st.MPI_TAG == 2, "MPI_ANY_SOURCE on a freed communicator: %d, source %d", err, st.MPI_SOURCE);
  CHECK(in2[0] == left && in2[1] == left + 100, "received %d %d from %d", in2[0], in2[1], left);
  err = MPI_Waitall(2, &rq[2], MPI_STATUSES_IGNORE);
  CHECK(err == MPI_SUCCESS, "sends on a freed communicator: %d", err);
  /* dup2 works as any communicator. */
  int sum = 0;
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, dup2);
  CHECK(sum == size * (size - 1) / 2, "allreduce on the new communicator: %d", sum);
  MPI_Comm_free(&dup2);
}

static void groups(int rank, int size) {
  MPI_Group world, evens;
  MPI_Comm sub;
  int n = (size + 1) / 2, ranks[8];
  for (int i = 0; i < n && i < 8; i++) ranks[i] = 2 * i;
  MPI_Comm_group(MPI_COMM_WORLD, &world);
  MPI_Group_incl(world, n < 8 ? n : 8, ranks, &evens);
  MPI_Comm_create(MPI_COMM_WORLD, evens, &sub);
  MPI_Group_free(&evens);
  MPI_Group_free(&world);
  CHECK(evens == MPI_GROUP_NULL && world == MPI_GROUP_NULL, "MPI_Group_free leaves MPI_GROUP_NULL");
  if (rank % 2 == 0 && rank / 2 < 8) {
    int r = -1, s = -1;
    MPI_Group g;
    MPI_Comm_rank(sub, &r);
    MPI_Comm_size(sub, &s);
    CHECK(r == rank / 2 && s == (n < 8 ? n : 8), "the communicator of a freed group: rank %d size %d", r, s);
    MPI_Comm_group(sub, &g);
    MPI_Group_size(g, &s);
    CHECK(s == (n < 8 ? n : 8), "its group: size %d", s);
    MPI_Group_free(&g);
    MPI_Comm_free(&sub);
  } else {
    CHECK(sub == MPI_COMM_NULL, "outside the group: MPI_COMM_NULL");
  }
}

int main(int argc, char **argv) {
  int rank, size;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  grequests();
  comms(rank, size);
  groups(rank, size);
  return finish("lifetimes");
}
