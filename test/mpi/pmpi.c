/* The profiling interface (MPI 3.1 §14.2): a program that defines its own
 * MPI_X links, its MPI_X is the one every call reaches, and PMPI_X reaches
 * the library. The wrappers here count calls, as a profiling tool would, and
 * cover blocking calls (which suspend the program under fmi), non-blocking
 * ones, one returning a double and one returning a handle. */
#include "check.h"

static int n_init, n_send, n_recv, n_isend, n_wait, n_allreduce, n_wtime, n_rank, n_f2c;

int MPI_Init(int *argc, char ***argv) {
  n_init++;
  return PMPI_Init(argc, argv);
}

int MPI_Comm_rank(MPI_Comm comm, int *rank) {
  n_rank++;
  return PMPI_Comm_rank(comm, rank);
}

int MPI_Send(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  n_send++;
  return PMPI_Send(buf, count, type, dest, tag, comm);
}

int MPI_Recv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm, MPI_Status *status) {
  n_recv++;
  return PMPI_Recv(buf, count, type, source, tag, comm, status);
}

int MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request *req) {
  n_isend++;
  return PMPI_Isend(buf, count, type, dest, tag, comm, req);
}

int MPI_Wait(MPI_Request *req, MPI_Status *status) {
  n_wait++;
  return PMPI_Wait(req, status);
}

int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  n_allreduce++;
  return PMPI_Allreduce(sendbuf, recvbuf, count, type, op, comm);
}

double MPI_Wtime(void) {
  n_wtime++;
  return PMPI_Wtime();
}

MPI_Comm MPI_Comm_f2c(MPI_Fint comm) {
  n_f2c++;
  return PMPI_Comm_f2c(comm);
}

int main(int argc, char **argv) {
  int rank, size;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  CHECK(n_init == 1 && n_rank == 1, "MPI_Init wrapper ran %d times, MPI_Comm_rank %d", n_init, n_rank);

  /* A ring: a blocking send and receive, then a non-blocking send and a wait, every round. */
  int next = (rank + 1) % size, prev = (rank + size - 1) % size, token = rank, got = -1;
  const int rounds = 3;
  for (int k = 0; k < rounds; k++) {
    MPI_Request req;
    if (rank % 2 == 0) {
      MPI_Send(&token, 1, MPI_INT, next, k, MPI_COMM_WORLD);
      MPI_Recv(&got, 1, MPI_INT, prev, k, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(&got, 1, MPI_INT, prev, k, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(&token, 1, MPI_INT, next, k, MPI_COMM_WORLD);
    }
    CHECK(got == prev, "round %d: got %d from %d", k, got, prev);
    MPI_Isend(&token, 1, MPI_INT, next, 100 + k, MPI_COMM_WORLD, &req);
    MPI_Recv(&got, 1, MPI_INT, prev, 100 + k, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Wait(&req, MPI_STATUS_IGNORE);
  }
  CHECK(n_send == rounds && n_recv == 2 * rounds && n_isend == rounds && n_wait == rounds,
        "wrapper counts: send %d recv %d isend %d wait %d", n_send, n_recv, n_isend, n_wait);

  double t0 = MPI_Wtime(), t1 = MPI_Wtime();
  CHECK(n_wtime == 2 && t1 >= t0, "MPI_Wtime wrapper: %d calls, %g then %g", n_wtime, t0, t1);
  CHECK(MPI_Comm_f2c(MPI_Comm_c2f(MPI_COMM_WORLD)) == MPI_COMM_WORLD && n_f2c == 1, "MPI_Comm_f2c wrapper: %d calls", n_f2c);

  /* The PMPI_ names reach the library directly, without the wrappers. */
  int sum = 0, one = 1;
  PMPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK(sum == size && n_allreduce == 0, "PMPI_Allreduce: sum %d, wrapper ran %d times", sum, n_allreduce);
  MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK(sum == size && n_allreduce == 1, "MPI_Allreduce: sum %d, wrapper ran %d times", sum, n_allreduce);
  return finish("pmpi");
}
