/* A 2 GiB receive buffer: wasm32 addresses 4 GiB, so a rank may allocate
 * one (fmi cc's default maximum memory is 4 GiB) and receive into it, at its
 * start and past the 2 GiB mark, where addresses no longer fit a signed int.
 * Run it on 2 ranks or more. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

#define BIG ((size_t)1 << 31)

int main(int argc, char **argv) {
  int rank, size, fails = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int last = size - 1, msg[4] = {11, 22, 33, 44}, back[4] = {0};
  if (rank == last) {
    char *big = malloc(BIG), small[64], *base = big;
    size_t span = BIG;
    if (!big) {
      /* Go on with a small buffer, so the other ranks do not wait for ever. */
      printf("FAIL bigmem: malloc of 2 GiB failed\n");
      fails++;
      base = small;
      span = sizeof small;
    }
    /* The whole buffer as the receive buffer (2^29 ints), the message a prefix of it. */
    MPI_Status st;
    int count;
    MPI_Recv(base, (int)(span / sizeof(int)), MPI_INT, 0, 1, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_INT, &count);
    if (count != 4 || ((int *)base)[3] != 44) { printf("FAIL bigmem: recv at the start: count %d\n", count); fails++; }
    /* The last 16 bytes, past 2 GiB in the address space. */
    int *high = (int *)(base + span - 16);
    if (big && (uintptr_t)high < ((uintptr_t)1 << 31)) { printf("FAIL bigmem: the end is below 2 GiB\n"); fails++; }
    MPI_Recv(high, 4, MPI_INT, 0, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (high[0] != 11 || high[3] != 44) { printf("FAIL bigmem: recv past 2 GiB: %d %d\n", high[0], high[3]); fails++; }
    MPI_Send(high, 4, MPI_INT, 0, 3, MPI_COMM_WORLD);
    int sum = 0;
    MPI_Allreduce(&high[1], &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (sum != 22 * size) { printf("FAIL bigmem: allreduce from past 2 GiB: %d\n", sum); fails++; }
    free(big);
  }
  if (rank == 0) {
    if (last != 0) {
      MPI_Send(msg, 4, MPI_INT, last, 1, MPI_COMM_WORLD);
      MPI_Send(msg, 4, MPI_INT, last, 2, MPI_COMM_WORLD);
      MPI_Recv(back, 4, MPI_INT, last, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (back[0] != 11 || back[3] != 44) { printf("FAIL bigmem: send from past 2 GiB: %d %d\n", back[0], back[3]); fails++; }
    }
  }
  if (rank != last) {
    int v = 22, sum = 0;
    MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  }
  MPI_Allreduce(MPI_IN_PLACE, &fails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0 && fails == 0) printf("PASS bigmem on %d ranks\n", size);
  MPI_Finalize();
  return fails != 0;
}
