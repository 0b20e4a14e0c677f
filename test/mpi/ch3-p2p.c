/* MPI 3.1 chapter 3, point to point, what p2p.c leaves out, from the text:
 * - §3.5: messages between two ranks on one communicator do not overtake
 *   each other (same tag, wildcard tag, blocking and non-blocking sends);
 * - §3.4: a synchronous send does not complete before its receive starts;
 * - §3.9: persistent Bsend/Ssend/Rsend_init requests, started many times;
 * - §3.2.2, §3.11: zero-count messages; receives from MPI_PROC_NULL leave
 *   source MPI_PROC_NULL, tag MPI_ANY_TAG, count 0; MPI_Mprobe on it gives
 *   MPI_MESSAGE_NO_PROC;
 * - §3.7.5: Waitany/Testany over null requests give MPI_UNDEFINED, and
 *   Testall/Waitall over none are true at once; Request_get_status leaves
 *   the request alone;
 * - §3.10: Sendrecv_replace through a derived type; sends to oneself. */
#include "check.h"
#include <stdlib.h>
#include <string.h>

static int rank, size, next, prev;

/* §3.5: 40 messages with one tag, half by Isend half by Send, arrive in
 * order; then the same through an MPI_ANY_TAG receive of mixed tags. */
static void order(void) {
  enum { M = 40 };
  int out[M], in[M];
  MPI_Request rq[M], sq[M];
  for (int k = 0; k < M; k++) out[k] = rank * 1000 + k, in[k] = -1;
  for (int k = 0; k < M; k++) MPI_Irecv(&in[k], 1, MPI_INT, prev, 7, MPI_COMM_WORLD, &rq[k]);
  for (int k = 0; k < M; k++) {
    if (k % 2) MPI_Send(&out[k], 1, MPI_INT, next, 7, MPI_COMM_WORLD), sq[k] = MPI_REQUEST_NULL;
    else MPI_Isend(&out[k], 1, MPI_INT, next, 7, MPI_COMM_WORLD, &sq[k]);
  }
  MPI_Waitall(M, rq, MPI_STATUSES_IGNORE);
  MPI_Waitall(M, sq, MPI_STATUSES_IGNORE);
  int bad = -1;
  for (int k = 0; k < M && bad < 0; k++) if (in[k] != prev * 1000 + k) bad = k;
  CHECK(bad < 0, "same tag: message %d came out of order (%d)", bad, bad < 0 ? 0 : in[bad]);

  /* Mixed tags, all received by ANY_TAG in sending order. */
  for (int k = 0; k < M; k++) MPI_Isend(&out[k], 1, MPI_INT, next, 100 + k % 3, MPI_COMM_WORLD, &sq[k]);
  bad = -1;
  for (int k = 0; k < M; k++) {
    MPI_Status st;
    MPI_Recv(&in[k], 1, MPI_INT, prev, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    if (bad < 0 && (in[k] != prev * 1000 + k || st.MPI_TAG != 100 + k % 3)) bad = k;
  }
  MPI_Waitall(M, sq, MPI_STATUSES_IGNORE);
  CHECK(bad < 0, "ANY_TAG: message %d came out of order", bad);

  /* A selective receive skips earlier messages of another tag; they stay in order. */
  int a = rank, b = rank + 1, c = rank + 2, x = -1, y = -1, z = -1;
  MPI_Request s3[3];
  MPI_Isend(&a, 1, MPI_INT, next, 1, MPI_COMM_WORLD, &s3[0]);
  MPI_Isend(&b, 1, MPI_INT, next, 1, MPI_COMM_WORLD, &s3[1]);
  MPI_Isend(&c, 1, MPI_INT, next, 2, MPI_COMM_WORLD, &s3[2]);
  MPI_Recv(&z, 1, MPI_INT, prev, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Recv(&x, 1, MPI_INT, prev, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Recv(&y, 1, MPI_INT, prev, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Waitall(3, s3, MPI_STATUSES_IGNORE);
  CHECK(x == prev && y == prev + 1 && z == prev + 2, "selective receive: %d %d %d", x, y, z);
}

/* §3.4: MPI_Issend cannot complete while no receive matches it. Rank 1
 * posts its receive only after rank 0 tested the send and said so. */
static void synchronous(void) {
  if (size < 2 || rank > 1) return;
  int v = 5, w = 0, said = 0, flag = 1;
  if (rank == 0) {
    MPI_Request rq;
    MPI_Issend(&v, 1, MPI_INT, 1, 40, MPI_COMM_WORLD, &rq);
    for (int k = 0; k < 50; k++) MPI_Test(&rq, &flag, MPI_STATUS_IGNORE);
    CHECK(!flag, "MPI_Issend completed before its receive was posted");
    MPI_Send(&flag, 1, MPI_INT, 1, 41, MPI_COMM_WORLD);
    MPI_Wait(&rq, MPI_STATUS_IGNORE);
  } else {
    MPI_Recv(&said, 1, MPI_INT, 0, 41, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Recv(&w, 1, MPI_INT, 0, 40, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    CHECK(w == 5, "Issend data %d", w);
  }
}

/* §3.9: persistent requests of every send mode, started again and again. */
static void persistent(void) {
  int bufsize = 4 * (sizeof(int) + MPI_BSEND_OVERHEAD);
  void *buf = malloc(bufsize);
  MPI_Buffer_attach(buf, bufsize);
  int out[3], in[3];
  MPI_Request send[3], recv[3];
  MPI_Bsend_init(&out[0], 1, MPI_INT, next, 50, MPI_COMM_WORLD, &send[0]);
  MPI_Ssend_init(&out[1], 1, MPI_INT, next, 51, MPI_COMM_WORLD, &send[1]);
  MPI_Rsend_init(&out[2], 1, MPI_INT, next, 52, MPI_COMM_WORLD, &send[2]);
  for (int k = 0; k < 3; k++) MPI_Recv_init(&in[k], 1, MPI_INT, prev, 50 + k, MPI_COMM_WORLD, &recv[k]);
  for (int round = 0; round < 4; round++) {
    for (int k = 0; k < 3; k++) out[k] = rank * 100 + round * 10 + k, in[k] = -1;
    MPI_Startall(3, recv);
    /* A ready send needs the receive posted first: everyone has started theirs after this. */
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Startall(3, send);
    MPI_Waitall(3, send, MPI_STATUSES_IGNORE);
    MPI_Waitall(3, recv, MPI_STATUSES_IGNORE);
    for (int k = 0; k < 3; k++) CHECK(in[k] == prev * 100 + round * 10 + k, "persistent mode %d round %d: %d", k, round, in[k]);
    CHECK(send[0] != MPI_REQUEST_NULL && recv[2] != MPI_REQUEST_NULL, "a completed persistent request stays allocated");
  }
  for (int k = 0; k < 3; k++) MPI_Request_free(&send[k]), MPI_Request_free(&recv[k]);
  CHECK(send[0] == MPI_REQUEST_NULL && recv[0] == MPI_REQUEST_NULL, "Request_free sets MPI_REQUEST_NULL");
  void *back;
  int backsize;
  MPI_Buffer_detach(&back, &backsize);
  CHECK(back == buf && backsize == bufsize, "Buffer_detach");
  free(buf);
}

static void empty_and_null(void) {
  MPI_Status st;
  int count = -1, v = 3;
  /* Zero-count messages carry their envelope. */
  MPI_Request rq;
  MPI_Irecv(&v, 0, MPI_INT, prev, 60, MPI_COMM_WORLD, &rq);
  MPI_Send(NULL, 0, MPI_INT, next, 60, MPI_COMM_WORLD);
  MPI_Wait(&rq, &st);
  MPI_Get_count(&st, MPI_INT, &count);
  CHECK(count == 0 && st.MPI_SOURCE == prev && st.MPI_TAG == 60 && v == 3, "zero-count message: count %d source %d", count, st.MPI_SOURCE);

  /* §3.11: MPI_PROC_NULL. */
  st.MPI_SOURCE = 99, st.MPI_TAG = 99;
  MPI_Recv(&v, 1, MPI_INT, MPI_PROC_NULL, 61, MPI_COMM_WORLD, &st);
  MPI_Get_count(&st, MPI_INT, &count);
  CHECK(st.MPI_SOURCE == MPI_PROC_NULL && st.MPI_TAG == MPI_ANY_TAG && count == 0 && v == 3, "Recv from PROC_NULL: source %d tag %d count %d", st.MPI_SOURCE, st.MPI_TAG, count);
  MPI_Irecv(&v, 1, MPI_INT, MPI_PROC_NULL, 61, MPI_COMM_WORLD, &rq);
  int flag = 0;
  MPI_Test(&rq, &flag, &st);
  CHECK(flag && st.MPI_SOURCE == MPI_PROC_NULL && rq == MPI_REQUEST_NULL, "Irecv from PROC_NULL completes at once");
  MPI_Message msg = MPI_MESSAGE_NULL;
  MPI_Mprobe(MPI_PROC_NULL, 0, MPI_COMM_WORLD, &msg, &st);
  CHECK(msg == MPI_MESSAGE_NO_PROC && st.MPI_SOURCE == MPI_PROC_NULL, "Mprobe on PROC_NULL");
  MPI_Mrecv(&v, 1, MPI_INT, &msg, &st);
  CHECK(msg == MPI_MESSAGE_NULL && v == 3, "Mrecv of MPI_MESSAGE_NO_PROC");
  MPI_Sendrecv(&v, 1, MPI_INT, MPI_PROC_NULL, 0, &v, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &st);
  CHECK(st.MPI_SOURCE == MPI_PROC_NULL, "Sendrecv with PROC_NULL");

  /* §3.7.5: null and empty lists. */
  MPI_Request none[3] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  int index = 7;
  MPI_Waitany(3, none, &index, &st);
  CHECK(index == MPI_UNDEFINED, "Waitany over null requests: %d", index);
  flag = 0, index = 7;
  MPI_Testany(3, none, &index, &flag, MPI_STATUS_IGNORE);
  CHECK(flag && index == MPI_UNDEFINED, "Testany over null requests: flag %d index %d", flag, index);
  flag = 0;
  MPI_Testall(3, none, &flag, MPI_STATUSES_IGNORE);
  CHECK(flag, "Testall over null requests");
  MPI_Waitall(0, NULL, MPI_STATUSES_IGNORE);
  int outcount = 5, idx[3];
  MPI_Waitsome(3, none, &outcount, idx, MPI_STATUSES_IGNORE);
  CHECK(outcount == MPI_UNDEFINED, "Waitsome over null requests: %d", outcount);
  MPI_Testsome(3, none, &outcount, idx, MPI_STATUSES_IGNORE);
  CHECK(outcount == MPI_UNDEFINED, "Testsome over null requests: %d", outcount);
  MPI_Wait(&none[0], &st);
  CHECK(st.MPI_SOURCE == MPI_ANY_SOURCE && st.MPI_TAG == MPI_ANY_TAG, "Wait on a null request: an empty status");

  /* Request_get_status: completes nothing away. */
  int w = -1;
  MPI_Irecv(&w, 1, MPI_INT, rank, 62, MPI_COMM_WORLD, &rq);
  MPI_Request_get_status(rq, &flag, &st);
  CHECK(!flag && rq != MPI_REQUEST_NULL, "Request_get_status before the send");
  MPI_Send(&rank, 1, MPI_INT, rank, 62, MPI_COMM_WORLD);
  do MPI_Request_get_status(rq, &flag, &st); while (!flag);
  CHECK(rq != MPI_REQUEST_NULL && st.MPI_SOURCE == rank && st.MPI_TAG == 62, "Request_get_status keeps the request");
  MPI_Wait(&rq, MPI_STATUS_IGNORE);
  CHECK(w == rank && rq == MPI_REQUEST_NULL, "the request still completes");
}

/* §3.10: Sendrecv_replace of every other int around the ring, and with oneself. */
static void replace(void) {
  MPI_Datatype odd;
  MPI_Type_vector(4, 1, 2, MPI_INT, &odd);
  MPI_Type_commit(&odd);
  int buf[8];
  for (int k = 0; k < 8; k++) buf[k] = k % 2 ? -k : rank * 10 + k;
  MPI_Status st;
  MPI_Sendrecv_replace(buf, 1, odd, next, 70, prev, 70, MPI_COMM_WORLD, &st);
  int bad = -1, count = -1;
  for (int k = 0; k < 8 && bad < 0; k++) if (buf[k] != (k % 2 ? -k : prev * 10 + k)) bad = k;
  MPI_Get_count(&st, odd, &count);
  CHECK(bad < 0 && count == 1 && st.MPI_SOURCE == prev, "Sendrecv_replace: slot %d, count %d", bad, count);
  MPI_Sendrecv_replace(buf, 1, odd, rank, 71, rank, 71, MPI_COMM_WORLD, &st);
  CHECK(buf[0] == prev * 10 && buf[1] == -1, "Sendrecv_replace with oneself");
  MPI_Type_free(&odd);

  /* A probe gives the size before the receive. */
  double d[5] = {1, 2, 3, 4, 5}, e[5] = {0};
  MPI_Request rq;
  MPI_Isend(d, rank % 5 + 1, MPI_DOUBLE, next, 72, MPI_COMM_WORLD, &rq);
  MPI_Probe(prev, 72, MPI_COMM_WORLD, &st);
  int n = -1;
  MPI_Get_count(&st, MPI_DOUBLE, &n);
  CHECK(n == prev % 5 + 1, "Probe count %d", n);
  MPI_Recv(e, n, MPI_DOUBLE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Wait(&rq, MPI_STATUS_IGNORE);
  CHECK(e[n - 1] == n && (n == 5 || e[n] == 0), "received what was probed");
  int flag = 1;
  MPI_Iprobe(MPI_ANY_SOURCE, 73, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
  CHECK(!flag, "Iprobe found a message nobody sent");

  /* Cancelling a receive nobody matches. */
  int v;
  MPI_Irecv(&v, 1, MPI_INT, MPI_ANY_SOURCE, 74, MPI_COMM_WORLD, &rq);
  MPI_Cancel(&rq);
  MPI_Wait(&rq, &st);
  MPI_Test_cancelled(&st, &flag);
  CHECK(flag, "a cancelled receive says so");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  next = (rank + 1) % size, prev = (rank + size - 1) % size;
  order();
  synchronous();
  persistent();
  empty_and_null();
  replace();
  return finish("ch3-p2p");
}
