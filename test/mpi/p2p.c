/* Point to point: every send mode, non-blocking requests and all the ways
 * to complete them, persistent requests, probes, wildcard receives with
 * their status, MPI_PROC_NULL, cancellation. */
#include "check.h"
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  int rank, size;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  MPI_Status st;

  /* Blocking modes around the ring: Send (even ranks first) */
  {
    int out[4] = {rank, rank * 2, rank * 3, -rank}, in[8] = {0}, count = -1;
    MPI_Request rq;
    MPI_Irecv(in, 8, MPI_INT, prev, 10, MPI_COMM_WORLD, &rq);
    MPI_Send(out, 4, MPI_INT, next, 10, MPI_COMM_WORLD);
    MPI_Wait(&rq, &st);
    MPI_Get_count(&st, MPI_INT, &count);
    CHECK(rq == MPI_REQUEST_NULL, "Wait frees the request");
    CHECK(count == 4 && st.MPI_SOURCE == prev && st.MPI_TAG == 10, "Irecv status count %d source %d tag %d", count, st.MPI_SOURCE, st.MPI_TAG);
    CHECK(in[0] == prev && in[1] == prev * 2 && in[3] == -prev, "Irecv data");
    MPI_Get_count(&st, MPI_DOUBLE, &count);
    CHECK(count == 2, "16 bytes are 2 doubles, got %d", count);
    MPI_Get_count(&st, MPI_LONG_DOUBLE, &count);
    CHECK(count == 1, "16 bytes are 1 long double, got %d", count);
    MPI_Get_elements(&st, MPI_SHORT, &count);
    CHECK(count == 8, "Get_elements of shorts: %d", count);
  }
  /* Ssend / Rsend / Bsend, each matched by a posted Irecv */
  {
    double v = rank + 0.5, got[3] = {0};
    MPI_Request rq[3];
    for (int k = 0; k < 3; k++) MPI_Irecv(&got[k], 1, MPI_DOUBLE, prev, 20 + k, MPI_COMM_WORLD, &rq[k]);
    MPI_Barrier(MPI_COMM_WORLD);
    int bufsize = 1024 + MPI_BSEND_OVERHEAD;
    void *buf = malloc(bufsize);
    MPI_Buffer_attach(buf, bufsize);
    MPI_Ssend(&v, 1, MPI_DOUBLE, next, 20, MPI_COMM_WORLD);
    MPI_Rsend(&v, 1, MPI_DOUBLE, next, 21, MPI_COMM_WORLD);
    MPI_Bsend(&v, 1, MPI_DOUBLE, next, 22, MPI_COMM_WORLD);
    MPI_Waitall(3, rq, MPI_STATUSES_IGNORE);
    void *detached;
    int detached_size;
    MPI_Buffer_detach(&detached, &detached_size);
    CHECK(detached == buf && detached_size == bufsize, "Buffer_detach gives the buffer back");
    free(buf);
    for (int k = 0; k < 3; k++) CHECK(got[k] == prev + 0.5, "send mode %d got %f", k, got[k]);
  }
  /* Isend family + Waitany / Waitsome / Testall / Testany / Testsome */
  {
    int out[4], in[4] = {0};
    MPI_Request sr[4], rr[4];
    for (int k = 0; k < 4; k++) {
      out[k] = 100 * rank + k;
      MPI_Irecv(&in[k], 1, MPI_INT, prev, 30 + k, MPI_COMM_WORLD, &rr[k]);
    }
    MPI_Isend(&out[0], 1, MPI_INT, next, 30, MPI_COMM_WORLD, &sr[0]);
    MPI_Issend(&out[1], 1, MPI_INT, next, 31, MPI_COMM_WORLD, &sr[1]);
    MPI_Ibsend(&out[2], 1, MPI_INT, next, 32, MPI_COMM_WORLD, &sr[2]);
    MPI_Irsend(&out[3], 1, MPI_INT, next, 33, MPI_COMM_WORLD, &sr[3]);
    int done = 0, idx, seen[4] = {0};
    while (done < 2) {
      MPI_Waitany(4, rr, &idx, &st);
      CHECK(idx >= 0 && idx < 4 && !seen[idx], "Waitany index %d", idx);
      if (idx >= 0 && idx < 4) seen[idx] = 1;
      CHECK(st.MPI_TAG == 30 + idx, "Waitany status tag %d for index %d", st.MPI_TAG, idx);
      done++;
    }
    int outcount, indices[4];
    MPI_Status sts[4];
    while (done < 4) {
      MPI_Waitsome(4, rr, &outcount, indices, sts);
      CHECK(outcount >= 1, "Waitsome outcount %d", outcount);
      for (int k = 0; k < outcount; k++) {
        CHECK(sts[k].MPI_TAG == 30 + indices[k], "Waitsome tag");
        seen[indices[k]] = 1;
      }
      done += outcount;
    }
    MPI_Waitany(4, rr, &idx, MPI_STATUS_IGNORE);
    CHECK(idx == MPI_UNDEFINED, "Waitany with no active requests gives MPI_UNDEFINED, got %d", idx);
    int flag = 0;
    while (!flag) MPI_Testall(4, sr, &flag, MPI_STATUSES_IGNORE);
    for (int k = 0; k < 4; k++) CHECK(in[k] == 100 * prev + k && sr[k] == MPI_REQUEST_NULL, "Isend mode %d", k);
    MPI_Testany(4, sr, &idx, &flag, MPI_STATUS_IGNORE);
    CHECK(flag && idx == MPI_UNDEFINED, "Testany with no active requests");
    /* Testsome and Test spin until data arrives: the event loop must run meanwhile. */
    int x = rank, y = -1;
    MPI_Request r1, r2;
    MPI_Irecv(&y, 1, MPI_INT, prev, 40, MPI_COMM_WORLD, &r1);
    MPI_Isend(&x, 1, MPI_INT, next, 40, MPI_COMM_WORLD, &r2);
    outcount = 0;
    while (outcount == 0) MPI_Testsome(1, &r1, &outcount, indices, MPI_STATUSES_IGNORE);
    flag = 0;
    while (!flag) MPI_Test(&r2, &flag, MPI_STATUS_IGNORE);
    CHECK(y == prev, "Test/Testsome data");
    CHECK(r1 == MPI_REQUEST_NULL, "Testsome frees the request");
  }
  /* Request_get_status looks without completing */
  {
    int v = rank, w = -1, flag = 0;
    MPI_Request r, s;
    MPI_Irecv(&w, 1, MPI_INT, prev, 45, MPI_COMM_WORLD, &r);
    MPI_Isend(&v, 1, MPI_INT, next, 45, MPI_COMM_WORLD, &s);
    while (!flag) MPI_Request_get_status(r, &flag, &st);
    CHECK(r != MPI_REQUEST_NULL && st.MPI_SOURCE == prev && st.MPI_TAG == 45, "Request_get_status");
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    MPI_Wait(&s, MPI_STATUS_IGNORE);
    CHECK(w == prev, "data after Request_get_status");
  }
  /* Request_free on an active send, Test on a null request */
  {
    int v = rank, w = -1, flag = 0;
    MPI_Request r = MPI_REQUEST_NULL;
    MPI_Test(&r, &flag, &st);
    CHECK(flag == 1 && st.MPI_SOURCE == MPI_ANY_SOURCE && st.MPI_TAG == MPI_ANY_TAG, "Test on MPI_REQUEST_NULL gives an empty status");
    MPI_Isend(&v, 1, MPI_INT, next, 50, MPI_COMM_WORLD, &r);
    MPI_Request_free(&r);
    CHECK(r == MPI_REQUEST_NULL, "Request_free sets MPI_REQUEST_NULL");
    MPI_Recv(&w, 1, MPI_INT, prev, 50, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    CHECK(w == prev, "a freed send still arrives");
  }
  /* Wildcards: rank 0 receives one message from every other rank with ANY_SOURCE/ANY_TAG */
  {
    if (rank == 0) {
      int got = 0, sum = 0;
      for (int k = 1; k < size; k++) {
        int v;
        MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        int count;
        MPI_Get_count(&st, MPI_INT, &count);
        CHECK(count == 1 && st.MPI_TAG == 1000 + st.MPI_SOURCE, "Probe status source %d tag %d count %d", st.MPI_SOURCE, st.MPI_TAG, count);
        int psrc = st.MPI_SOURCE;
        MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        CHECK(v == st.MPI_SOURCE * 7 && st.MPI_TAG == 1000 + st.MPI_SOURCE, "wildcard recv value %d from %d tag %d", v, st.MPI_SOURCE, st.MPI_TAG);
        (void)psrc;
        got |= 1 << st.MPI_SOURCE;
        sum += v;
      }
      CHECK(got == ((1 << size) - 2), "a message from every rank");
    } else {
      int v = rank * 7;
      MPI_Send(&v, 1, MPI_INT, 0, 1000 + rank, MPI_COMM_WORLD);
    }
    /* Later messages to rank 0 must not meet its wildcard receives. */
    MPI_Barrier(MPI_COMM_WORLD);
  }
  /* Iprobe in a polling loop, then a receive with a specific source and any tag */
  {
    int v = rank, w = -1, flag = 0;
    MPI_Request r;
    MPI_Isend(&v, 1, MPI_INT, next, 60 + rank, MPI_COMM_WORLD, &r);
    while (!flag) MPI_Iprobe(prev, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    CHECK(st.MPI_SOURCE == prev && st.MPI_TAG == 60 + prev, "Iprobe status");
    MPI_Recv(&w, 1, MPI_INT, prev, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    CHECK(w == prev && st.MPI_TAG == 60 + prev, "recv after Iprobe");
    MPI_Wait(&r, MPI_STATUS_IGNORE);
  }
  /* Sendrecv and Sendrecv_replace around the ring */
  {
    long long out = rank * 1000000007LL, in = 0;
    MPI_Sendrecv(&out, 1, MPI_LONG_LONG, next, 70, &in, 1, MPI_LONG_LONG, prev, 70, MPI_COMM_WORLD, &st);
    CHECK(in == prev * 1000000007LL && st.MPI_SOURCE == prev, "Sendrecv");
    int buf[3] = {rank, rank + 1, rank + 2};
    MPI_Sendrecv_replace(buf, 3, MPI_INT, next, 71, prev, 71, MPI_COMM_WORLD, &st);
    CHECK(buf[0] == prev && buf[2] == prev + 2, "Sendrecv_replace");
  }
  /* MPI_PROC_NULL: sends vanish, receives complete at once with an empty status */
  {
    int v = 5;
    MPI_Send(&v, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD);
    MPI_Recv(&v, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &st);
    int count = -1;
    MPI_Get_count(&st, MPI_INT, &count);
    CHECK(v == 5 && st.MPI_SOURCE == MPI_PROC_NULL && st.MPI_TAG == MPI_ANY_TAG && count == 0, "recv from MPI_PROC_NULL");
    MPI_Request r;
    MPI_Irecv(&v, 1, MPI_INT, MPI_PROC_NULL, 0, MPI_COMM_WORLD, &r);
    MPI_Wait(&r, &st);
    CHECK(st.MPI_SOURCE == MPI_PROC_NULL, "Irecv from MPI_PROC_NULL");
  }
  /* Persistent requests: the same Send_init/Recv_init started three times */
  {
    int out = 0, in = -1;
    MPI_Request req[2];
    MPI_Recv_init(&in, 1, MPI_INT, prev, 80, MPI_COMM_WORLD, &req[0]);
    MPI_Send_init(&out, 1, MPI_INT, next, 80, MPI_COMM_WORLD, &req[1]);
    for (int k = 0; k < 3; k++) {
      out = rank * 10 + k;
      MPI_Startall(2, req);
      MPI_Waitall(2, req, MPI_STATUSES_IGNORE);
      CHECK(in == prev * 10 + k, "persistent round %d: %d", k, in);
      CHECK(req[0] != MPI_REQUEST_NULL, "persistent requests stay allocated");
    }
    MPI_Start(&req[0]);
    MPI_Send(&out, 1, MPI_INT, next, 80, MPI_COMM_WORLD);
    MPI_Wait(&req[0], MPI_STATUS_IGNORE);
    MPI_Request_free(&req[0]);
    MPI_Request_free(&req[1]);
  }
  /* Cancel a receive that nobody matches */
  {
    int v;
    MPI_Request r;
    MPI_Irecv(&v, 1, MPI_INT, prev, 999, MPI_COMM_WORLD, &r);
    MPI_Cancel(&r);
    MPI_Wait(&r, &st);
    int flag = 0;
    MPI_Test_cancelled(&st, &flag);
    CHECK(flag == 1, "Test_cancelled after cancelling a receive");
  }
  /* A synchronous send completes only once its receive has matched it */
  if (size >= 2 && rank < 2) {
    int v = 42, w = 0, flag = 1, note = 0;
    MPI_Request r;
    if (rank == 0) {
      MPI_Issend(&v, 1, MPI_INT, 1, 70, MPI_COMM_WORLD, &r);
      /* Rank 1 has the message (it probed it) but has not received it. */
      MPI_Recv(&note, 1, MPI_INT, 1, 71, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Test(&r, &flag, MPI_STATUS_IGNORE);
      CHECK(!flag, "MPI_Issend completed before its receive was posted");
      MPI_Send(&note, 1, MPI_INT, 1, 72, MPI_COMM_WORLD);
      MPI_Wait(&r, MPI_STATUS_IGNORE);
      MPI_Ssend(&v, 1, MPI_INT, 1, 73, MPI_COMM_WORLD);
    } else {
      MPI_Probe(0, 70, MPI_COMM_WORLD, &st);
      MPI_Send(&note, 1, MPI_INT, 0, 71, MPI_COMM_WORLD);
      MPI_Recv(&note, 1, MPI_INT, 0, 72, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Recv(&w, 1, MPI_INT, 0, 70, MPI_COMM_WORLD, &st);
      CHECK(w == 42 && st.MPI_TAG == 70, "MPI_Issend data %d", w);
      MPI_Recv(&w, 1, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
      CHECK(w == 42 && st.MPI_SOURCE == 0 && st.MPI_TAG == 73, "MPI_Ssend to a wildcard receive");
    }
  }
  /* Matched probes: Mprobe/Mrecv, Improbe/Imrecv */
  {
    int v[2] = {rank, -rank}, w[2] = {0}, flag = 0, count;
    MPI_Message msg;
    MPI_Request r, r2;
    MPI_Isend(v, 2, MPI_INT, next, 95, MPI_COMM_WORLD, &r);
    MPI_Mprobe(prev, 95, MPI_COMM_WORLD, &msg, &st);
    MPI_Get_count(&st, MPI_INT, &count);
    CHECK(count == 2 && st.MPI_SOURCE == prev && msg != MPI_MESSAGE_NULL, "Mprobe status");
    MPI_Mrecv(w, 2, MPI_INT, &msg, &st);
    CHECK(w[0] == prev && w[1] == -prev && msg == MPI_MESSAGE_NULL, "Mrecv");
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    MPI_Isend(v, 1, MPI_INT, next, 96, MPI_COMM_WORLD, &r);
    while (!flag) MPI_Improbe(MPI_ANY_SOURCE, 96, MPI_COMM_WORLD, &flag, &msg, &st);
    w[0] = -1;
    MPI_Imrecv(w, 1, MPI_INT, &msg, &r2);
    MPI_Wait(&r2, &st);
    CHECK(w[0] == prev && st.MPI_SOURCE == prev && st.MPI_TAG == 96, "Improbe/Imrecv");
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    MPI_Mprobe(MPI_PROC_NULL, 0, MPI_COMM_WORLD, &msg, &st);
    CHECK(msg == MPI_MESSAGE_NO_PROC && st.MPI_SOURCE == MPI_PROC_NULL, "Mprobe of MPI_PROC_NULL");
    MPI_Mrecv(w, 1, MPI_INT, &msg, &st);
  }
  /* A large message (4 MiB) both ways */
  {
    int n = 1 << 20;
    int *big = malloc(n * sizeof(int)), *back = malloc(n * sizeof(int));
    for (int i = 0; i < n; i++) big[i] = i ^ rank;
    MPI_Sendrecv(big, n, MPI_INT, next, 90, back, n, MPI_INT, prev, 90, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    int bad = 0;
    for (int i = 0; i < n; i++) bad += back[i] != (i ^ prev);
    CHECK(bad == 0, "4 MiB Sendrecv: %d wrong", bad);
    free(big);
    free(back);
  }
  return finish("p2p");
}
