/* Local combines and reductions into the program's own memory:
 * MPI_Reduce_local on every predefined op x type, checked against a C loop
 * (the runtime runs fmi's Wasm kernels in place on this program's memory),
 * on contiguous and derived (vector) datatypes; MPI_Allreduce whose result
 * lands straight in the receive buffer (aligned, misaligned, in place, after
 * memory growth). `reduce bench` prints timings instead. */
#include "check.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <complex.h>

#define N 37 /* odd: SIMD bodies and scalar tails */

static int rank, size;
static const MPI_Op INT_OPS[] = {MPI_SUM, MPI_PROD, MPI_MIN, MPI_MAX, MPI_LAND, MPI_LOR, MPI_LXOR, MPI_BAND, MPI_BOR, MPI_BXOR};
static const MPI_Op FLOAT_OPS[] = {MPI_SUM, MPI_PROD, MPI_MIN, MPI_MAX};
static const MPI_Op LOGICAL_OPS[] = {MPI_LAND, MPI_LOR, MPI_LXOR};
static const MPI_Op BIT_OPS[] = {MPI_BAND, MPI_BOR, MPI_BXOR};

#define COMMON(CT)                                                             \
  if (op == MPI_SUM) return (CT)(a + b);                                       \
  if (op == MPI_PROD) return (CT)(a * b);                                      \
  if (op == MPI_MIN) return a < b ? a : b;                                     \
  if (op == MPI_MAX) return a > b ? a : b;                                     \
  if (op == MPI_LAND) return (CT)(a && b);                                     \
  if (op == MPI_LOR) return (CT)(a || b);                                      \
  if (op == MPI_LXOR) return (CT)(!a != !b);

#define DEFINE_INT(NAME, CT)                                                   \
  static CT op_##NAME(MPI_Op op, CT a, CT b) {                                 \
    COMMON(CT)                                                                 \
    if (op == MPI_BAND) return (CT)(a & b);                                    \
    if (op == MPI_BOR) return (CT)(a | b);                                     \
    return (CT)(a ^ b);                                                        \
  }
#define DEFINE_FLOAT(NAME, CT)                                                 \
  static CT op_##NAME(MPI_Op op, CT a, CT b) {                                 \
    COMMON(CT)                                                                 \
    return 0;                                                                  \
  }

/* Values small enough that no product overflows (signed overflow is UB in C);
 * kind 0: mixed signs, 1: 0/1 (bools), 2: bit patterns. Floats avoid 0 (-0 vs +0). */
#define DEFINE_RUN(NAME, CT, FLOATY)                                           \
  static void run_##NAME(const char *tname, MPI_Datatype t, const MPI_Op *ops, int nops, int kind) { \
    CT in[N], io[N], want[N];                                                  \
    for (int k = 0; k < nops; k++) {                                           \
      for (int i = 0; i < N; i++) {                                            \
        int x = (i * 7 + k * 3 + rank) % 23 - 11, y = (i * 5 + k + 2 * rank) % 19 - 9; \
        if (kind == 1) x = (i + k) % 3 == 0, y = (i + k) % 2 == 0;             \
        if (kind == 2) x = (i * 37 + k * 11) & 0xff, y = (i * 91 + k) & 0xff;  \
        if (FLOATY) in[i] = (CT)(x + 0.5), io[i] = (CT)(y + 0.25);             \
        else in[i] = (CT)x, io[i] = (CT)y;                                     \
        /* The x == 0 and y == 0 cases still test the logical ops on ints. */  \
        want[i] = op_##NAME(ops[k], in[i], io[i]);                             \
      }                                                                        \
      MPI_Reduce_local(in, io, N, t, ops[k]);                                  \
      int bad = -1;                                                            \
      for (int i = 0; i < N; i++) if (memcmp(&io[i], &want[i], sizeof(CT)) != 0) { bad = i; break; } \
      CHECK(bad < 0, "Reduce_local %s op #%d: element %d differs", tname, k, bad); \
    }                                                                          \
  }

DEFINE_INT(i8, int8_t) DEFINE_RUN(i8, int8_t, 0)
DEFINE_INT(u8, uint8_t) DEFINE_RUN(u8, uint8_t, 0)
DEFINE_INT(i16, int16_t) DEFINE_RUN(i16, int16_t, 0)
DEFINE_INT(u16, uint16_t) DEFINE_RUN(u16, uint16_t, 0)
DEFINE_INT(i32, int32_t) DEFINE_RUN(i32, int32_t, 0)
DEFINE_INT(u32, uint32_t) DEFINE_RUN(u32, uint32_t, 0)
DEFINE_INT(i64, int64_t) DEFINE_RUN(i64, int64_t, 0)
DEFINE_INT(u64, uint64_t) DEFINE_RUN(u64, uint64_t, 0)
DEFINE_INT(l, long) DEFINE_RUN(l, long, 0)
DEFINE_INT(ul, unsigned long) DEFINE_RUN(ul, unsigned long, 0)
DEFINE_INT(aint, MPI_Aint) DEFINE_RUN(aint, MPI_Aint, 0)
DEFINE_FLOAT(f32, float) DEFINE_RUN(f32, float, 1)
DEFINE_FLOAT(f64, double) DEFINE_RUN(f64, double, 1)

#define NOPS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define RUN(NAME, T, OPS, KIND) run_##NAME(#T, T, OPS, NOPS(OPS), KIND)

static void reduce_local_all(void) {
#ifdef __EMSCRIPTEN__
  /* MPI 3.1 §5.9.2 leaves MPI_CHAR and MPI_WCHAR out of the reduction types:
   * fmi reduces them as the integers they are (Open MPI refuses). */
  RUN(i8, MPI_CHAR, INT_OPS, 0);
  RUN(i32, MPI_WCHAR, INT_OPS, 0);
#endif
  RUN(i8, MPI_SIGNED_CHAR, INT_OPS, 0);
  RUN(i8, MPI_INT8_T, INT_OPS, 0);
  RUN(u8, MPI_UNSIGNED_CHAR, INT_OPS, 0);
  RUN(u8, MPI_UINT8_T, INT_OPS, 2);
  RUN(u8, MPI_BYTE, BIT_OPS, 2);
  RUN(u8, MPI_C_BOOL, LOGICAL_OPS, 1);
  RUN(i16, MPI_SHORT, INT_OPS, 0);
  RUN(i16, MPI_INT16_T, INT_OPS, 0);
  RUN(u16, MPI_UNSIGNED_SHORT, INT_OPS, 0);
  RUN(u16, MPI_UINT16_T, INT_OPS, 2);
  RUN(i32, MPI_INT, INT_OPS, 0);
  RUN(l, MPI_LONG, INT_OPS, 0);
  RUN(i32, MPI_INT32_T, INT_OPS, 0);
  RUN(aint, MPI_AINT, INT_OPS, 0);
  RUN(u32, MPI_UNSIGNED, INT_OPS, 0);
#ifdef OPEN_MPI
  /* Open MPI 4.1.4 gets MPI_MIN/MPI_MAX wrong on MPI_UNSIGNED_LONG (compared
   * as signed) and MPI_OFFSET (MIN gives the larger): left out there. */
  static const MPI_Op NO_MINMAX[] = {MPI_SUM, MPI_PROD, MPI_LAND, MPI_LOR, MPI_LXOR, MPI_BAND, MPI_BOR, MPI_BXOR};
  RUN(ul, MPI_UNSIGNED_LONG, NO_MINMAX, 0);
#else
  RUN(ul, MPI_UNSIGNED_LONG, INT_OPS, 0);
#endif
  RUN(u32, MPI_UINT32_T, INT_OPS, 2);
  RUN(i64, MPI_LONG_LONG_INT, INT_OPS, 0);
  RUN(i64, MPI_INT64_T, INT_OPS, 0);
#ifdef OPEN_MPI
  RUN(i64, MPI_OFFSET, NO_MINMAX, 0);
#else
  RUN(i64, MPI_OFFSET, INT_OPS, 0);
#endif
  RUN(i64, MPI_COUNT, INT_OPS, 0);
  RUN(u64, MPI_UNSIGNED_LONG_LONG, INT_OPS, 0);
  RUN(u64, MPI_UINT64_T, INT_OPS, 2);
  RUN(f32, MPI_FLOAT, FLOAT_OPS, 0);
  RUN(f64, MPI_DOUBLE, FLOAT_OPS, 0);

  /* Complex SUM: element-wise on the parts. */
  {
    double complex a[5], b[5];
    for (int i = 0; i < 5; i++) a[i] = i + 0.5 * I, b[i] = -2.0 * i + (i + 1.0) * I;
    MPI_Reduce_local(a, b, 5, MPI_C_DOUBLE_COMPLEX, MPI_SUM);
    for (int i = 0; i < 5; i++) CHECK(creal(b[i]) == -1.0 * i && cimag(b[i]) == i + 1.5, "Reduce_local complex %d", i);
  }
  /* Misaligned contiguous buffers (the kernels need no alignment). */
  {
    char rin[8 * N + 8], rio[8 * N + 8];
    double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = i * 1.5, y[i] = 100 - i;
    memcpy(rin + 3, x, sizeof x), memcpy(rio + 5, y, sizeof y);
    MPI_Reduce_local(rin + 3, rio + 5, N, MPI_DOUBLE, MPI_MAX);
    memcpy(y, rio + 5, sizeof y);
    for (int i = 0; i < N; i++) CHECK(y[i] == (i * 1.5 > 100 - i ? i * 1.5 : 100 - i), "Reduce_local misaligned %d", i);
  }
#ifdef __EMSCRIPTEN__
  /* A derived datatype: vector of 3 blocks of 2 ints, stride 5; the gaps stay as they were. (a predefined op on a derived type:
   * fmi's extension, MPI 3.1 §5.9.2 lists predefined types only) */
  {
    MPI_Datatype v;
    MPI_Type_vector(3, 2, 5, MPI_INT, &v);
    MPI_Type_commit(&v);
    int a[2 * 15], b[2 * 15];
    for (int i = 0; i < 30; i++) a[i] = i, b[i] = 1000 + i;
    MPI_Reduce_local(a, b, 2, v, MPI_SUM); /* extent 12 ints: elements at 0 and 12 */
    for (int i = 0; i < 30; i++) {
      int j = i % 12, in = i < 24 && j < 12 && (j % 5) < 2 && j < 12;
      int want = in ? 1000 + 2 * i : 1000 + i;
      CHECK(b[i] == want, "Reduce_local vector: int %d is %d, want %d", i, b[i], want);
    }
    MPI_Type_free(&v);
  }
#endif
}

/* MPI_Pack/MPI_Unpack and Reduce_local on strided types (the Wasm pack
 * kernels: blocks of 4, 8, 16 and odd sizes, negative strides), against C loops. */
static void strided(void) {
  const int lens[] = {4, 8, 16, 12, 3, 1};
  for (int li = 0; li < 6; li++) {
    for (int neg = 0; neg < 2; neg++) {
      int len = lens[li], nb = 20, stride = len + 5, count = 3;
      MPI_Datatype v;
      MPI_Type_create_hvector(nb, len, neg ? -stride : stride, MPI_BYTE, &v);
      MPI_Type_commit(&v);
      MPI_Aint lb, ext;
      MPI_Type_get_extent(v, &lb, &ext);
      int span = (int)ext * count + 64;
      unsigned char *buf = malloc(span), *back = calloc(span, 1), *packed = malloc(len * nb * count), want[4096];
      for (int i = 0; i < span; i++) buf[i] = (unsigned char)(i * 31 + li);
      unsigned char *base = buf + (neg ? (nb - 1) * stride : 0), *bback = back + (neg ? (nb - 1) * stride : 0);
      int w = 0;
      for (int e = 0; e < count; e++)
        for (int b = 0; b < nb; b++)
          for (int x = 0; x < len; x++) want[w++] = base[e * ext + (neg ? -b : b) * stride + x];
      int pos = 0;
      MPI_Pack(base, count, v, packed, len * nb * count, &pos, MPI_COMM_WORLD);
      CHECK(pos == w && memcmp(packed, want, w) == 0, "Pack hvector len %d neg %d", len, neg);
      pos = 0;
      MPI_Unpack(packed, w, &pos, bback, count, v, MPI_COMM_WORLD);
      int bad = -1;
      for (int e = 0; e < count && bad < 0; e++)
        for (int b = 0; b < nb && bad < 0; b++)
          for (int x = 0; x < len; x++) {
            long at = (bback - back) + e * ext + (neg ? -b : b) * stride + x;
            if (back[at] != buf[at]) { bad = (int)at; break; }
          }
      CHECK(pos == w && bad < 0, "Unpack hvector len %d neg %d: byte %d", len, neg, bad);
      free(buf), free(back), free(packed);
      MPI_Type_free(&v);
    }
  }
#ifdef __EMSCRIPTEN__
  /* Reduce_local over a vector of doubles (every other one). (a predefined op on a derived type:
   * fmi's extension, MPI 3.1 §5.9.2 lists predefined types only) */
  {
    MPI_Datatype v;
    MPI_Type_vector(50, 1, 2, MPI_DOUBLE, &v);
    MPI_Type_commit(&v);
    double a[300], b[300];
    for (int i = 0; i < 300; i++) a[i] = i, b[i] = -3.0 * i;
    MPI_Reduce_local(a, b, 3, v, MPI_SUM); /* extent 99 doubles */
    for (int i = 0; i < 300; i++) {
      int j = i % 99, in = i < 297 && j % 2 == 0;
      CHECK(b[i] == (in ? -2.0 * i : -3.0 * i), "Reduce_local vector of doubles %d", i);
    }
    MPI_Type_free(&v);
  }
#endif
}

static void allreduce_into(void) {
  const int n = 1 << 16; /* 512 KiB of doubles: the ring on 3+ ranks */
  double *s = malloc(n * sizeof(double)), *r = malloc(n * sizeof(double));
  for (int i = 0; i < n; i++) s[i] = rank + i % 7;
  double base = size * (size - 1) / 2.0;
  MPI_Allreduce(s, r, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  int bad = -1;
  for (int i = 0; i < n; i++) if (r[i] != base + size * (i % 7)) { bad = i; break; }
  CHECK(bad < 0, "Allreduce doubles: element %d", bad);
  /* In place. */
  for (int i = 0; i < n; i++) r[i] = rank + i % 7;
  MPI_Allreduce(MPI_IN_PLACE, r, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  bad = -1;
  for (int i = 0; i < n; i++) if (r[i] != base + size * (i % 7)) { bad = i; break; }
  CHECK(bad < 0, "Allreduce in place: element %d", bad);
  /* Memory grows between calls: the next call must see the new memory. */
  char *big = malloc(64 << 20);
  CHECK(big != NULL, "malloc 64 MiB");
  if (big) big[(64 << 20) - 1] = 1;
  int small[5] = {rank, 1, -rank, 7, 0}, sres[5];
  MPI_Allreduce(small, sres, 5, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  CHECK(sres[0] == size - 1 && sres[1] == 1 && sres[2] == 0 && sres[3] == 7 && sres[4] == 0, "Allreduce after growth");
  free(big);
  /* A misaligned receive buffer: the runtime copies instead. */
  char raw[8 * 9 + 8];
  double v[9], got[9];
  for (int i = 0; i < 9; i++) v[i] = rank * i;
  MPI_Allreduce(v, raw + 3, 9, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  memcpy(got, raw + 3, sizeof got);
  for (int i = 0; i < 9; i++) CHECK(got[i] == (size - 1) * i, "Allreduce misaligned %d", i);
  /* Non-blocking: still correct (copies). */
  MPI_Request q;
  MPI_Iallreduce(s, r, n, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD, &q);
  MPI_Wait(&q, MPI_STATUS_IGNORE);
  bad = -1;
  for (int i = 0; i < n; i++) if (r[i] != i % 7) { bad = i; break; }
  CHECK(bad < 0, "Iallreduce: element %d", bad);
  free(s), free(r);
}

static void bench(void) {
  const int n = 1 << 20, reps = 20;
  {
    /* Pack 128K doubles, every other one. */
    MPI_Datatype v;
    MPI_Type_vector(1 << 17, 1, 2, MPI_DOUBLE, &v);
    MPI_Type_commit(&v);
    double *src = malloc((1 << 18) * sizeof(double)), *dst = malloc((1 << 17) * sizeof(double));
    for (int i = 0; i < 1 << 18; i++) src[i] = i;
    int pos = 0;
    MPI_Pack(src, 1, v, dst, (1 << 17) * 8, &pos, MPI_COMM_WORLD);
    double p0 = MPI_Wtime();
    for (int k = 0; k < reps; k++) pos = 0, MPI_Pack(src, 1, v, dst, (1 << 17) * 8, &pos, MPI_COMM_WORLD);
    double p1 = MPI_Wtime();
    if (rank == 0) printf("Pack vector of 128K doubles (stride 2): %.3f ms\n", (p1 - p0) / reps * 1e3);
    free(src), free(dst);
    MPI_Type_free(&v);
  }
  double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
  for (int i = 0; i < n; i++) a[i] = i, b[i] = 1;
  MPI_Reduce_local(a, b, n, MPI_DOUBLE, MPI_SUM);
  double t0 = MPI_Wtime();
  for (int k = 0; k < reps; k++) MPI_Reduce_local(a, b, n, MPI_DOUBLE, MPI_SUM);
  double t1 = MPI_Wtime();
  const int m = (1 << 20) / 8; /* 1 MiB */
  MPI_Allreduce(a, b, m, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  double t2 = MPI_Wtime();
  for (int k = 0; k < reps; k++) MPI_Allreduce(a, b, m, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double t3 = MPI_Wtime();
  if (rank == 0) {
    printf("Reduce_local 1M doubles: %.3f ms\n", (t1 - t0) / reps * 1e3);
    printf("Allreduce 1 MiB on %d ranks: %.3f ms\n", size, (t3 - t2) / reps * 1e3);
  }
  free(a), free(b);
  MPI_Finalize();
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc > 1 && strcmp(argv[1], "bench") == 0) return bench(), 0;
  reduce_local_all();
  strided();
  allreduce_into();
  return finish("reduce");
}
