/* Open MPI, N calls after 1000 of warm-up of one operation: an 8 B ping-pong
 * between ranks 0 and 1 (`pingpong`), MPI_Barrier (`barrier`) or an
 * MPI_Allreduce of 1 KiB of doubles, MPI_SUM (`allreduce`). Each rank's CPU
 * (getrusage: user + system) and wall time over the loop, to show whether the
 * latency is bought with busy polling. The Open MPI side of
 * bench/pingpong-cpu.mjs. Each rank prints
 *   {"rank":R,"cpu_us":C,"wall_us":W}
 *   mpicc -O2 -o pingpong-cpu pingpong-cpu.c
 *   mpirun --allow-run-as-root --oversubscribe -np 2 --mca pml ob1 --mca btl tcp,self ./pingpong-cpu 20000 pingpong
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

enum op { PINGPONG, BARRIER, ALLREDUCE };

static void rounds(enum op op, int rank, long n, double *a, double *b) {
  for (long i = 0; i < n; i++) {
    if (op == BARRIER) {
      MPI_Barrier(MPI_COMM_WORLD);
    } else if (op == ALLREDUCE) {
      MPI_Allreduce(a, b, 128, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    } else if (rank == 0) {
      MPI_Send(a, 8, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(a, 8, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
      MPI_Recv(a, 8, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(a, 8, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
    }
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  long n = argc > 1 ? atol(argv[1]) : 20000;
  const char *name = argc > 2 ? argv[2] : "pingpong";
  enum op op = strcmp(name, "barrier") == 0 ? BARRIER : strcmp(name, "allreduce") == 0 ? ALLREDUCE : PINGPONG;
  static double a[128], b[128];
  rounds(op, rank, 1000, a, b);
  MPI_Barrier(MPI_COMM_WORLD);
  double c0 = cpu_us(), w0 = MPI_Wtime();
  rounds(op, rank, n, a, b);
  double wall = (MPI_Wtime() - w0) * 1e6, cpu = cpu_us() - c0;
  printf("{\"rank\":%d,\"cpu_us\":%.0f,\"wall_us\":%.0f}\n", rank, cpu, wall);
  MPI_Finalize();
  return 0;
}
