/* Open MPI ping-pong of 8 B between ranks 0 and 1, N round trips after 1000
 * of warm-up: each rank's CPU (getrusage: user + system) and wall time over
 * the loop, to show whether the latency is bought with busy polling. The
 * Open MPI side of bench/pingpong-cpu.mjs. Each rank prints
 *   {"rank":R,"cpu_us":C,"wall_us":W}
 *   mpicc -O2 -o pingpong-cpu pingpong-cpu.c
 *   mpirun --allow-run-as-root --oversubscribe -np 2 --mca pml ob1 --mca btl tcp,self ./pingpong-cpu 20000
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static double cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

static void rounds(int rank, long n, char *buf) {
  for (long i = 0; i < n; i++) {
    if (rank == 0) {
      MPI_Send(buf, 8, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(buf, 8, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(buf, 8, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf, 8, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
    }
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  long n = argc > 1 ? atol(argv[1]) : 20000;
  char buf[8] = {0};
  rounds(rank, 1000, buf);
  MPI_Barrier(MPI_COMM_WORLD);
  double c0 = cpu_us(), w0 = MPI_Wtime();
  rounds(rank, n, buf);
  double wall = (MPI_Wtime() - w0) * 1e6, cpu = cpu_us() - c0;
  printf("{\"rank\":%d,\"cpu_us\":%.0f,\"wall_us\":%.0f}\n", rank, cpu, wall);
  MPI_Finalize();
  return 0;
}
