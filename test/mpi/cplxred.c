/* Reductions MPI 3.1 §5.9.2 defines that fmi's kernels do not run:
 * - MPI_SUM and MPI_PROD on MPI_C_FLOAT_COMPLEX, MPI_C_DOUBLE_COMPLEX and
 *   MPI_C_LONG_DOUBLE_COMPLEX (a complex product, not two real ones);
 * - MPI_SUM, MPI_PROD, MPI_MAX, MPI_MIN on MPI_LONG_DOUBLE;
 * - MPI_MINLOC and MPI_MAXLOC on MPI_LONG_DOUBLE_INT (§5.9.4).
 * Values are small integers and powers of two, exact in every precision,
 * except in long_double_exact: there a double cannot hold them, and the
 * reduction must give what the program's own long double arithmetic gives
 * (wasm32: binary128; x86-64 under mpicc: the 80-bit format; the checks
 * hold in both). */
#include "check.h"
#include <complex.h>
#include <float.h>
#include <math.h>

static int rank, size;

/* (1+i)^n, exactly: (1+i)^2 = 2i. */
static void one_plus_i_pow(int n, double *re, double *im) {
  double r = 1, m = 0;
  for (int k = 0; k < n; k++) {
    double t = r - m;
    m = r + m;
    r = t;
  }
  *re = r;
  *im = m;
}

static void complex_ops(void) {
  double wr, wi;
  one_plus_i_pow(size, &wr, &wi);
  double sum_re = size * (size - 1) / 2.0, sum_im = 2 * sum_re;

  float _Complex fz = 1.0f + 1.0fi, fp, fs, fv = rank + 2.0f * rank * 1.0fi;
  MPI_Allreduce(&fz, &fp, 1, MPI_C_FLOAT_COMPLEX, MPI_PROD, MPI_COMM_WORLD);
  MPI_Allreduce(&fv, &fs, 1, MPI_C_FLOAT_COMPLEX, MPI_SUM, MPI_COMM_WORLD);
  CHECK(crealf(fp) == wr && cimagf(fp) == wi, "float complex prod (%g, %g), want (%g, %g)", crealf(fp), cimagf(fp), wr, wi);
  CHECK(crealf(fs) == sum_re && cimagf(fs) == sum_im, "float complex sum (%g, %g)", crealf(fs), cimagf(fs));

  double _Complex dz[2] = {1.0 + 1.0i, 0.0 + 1.0i}, dp[2], ds, dv = rank + 2.0 * rank * 1.0i;
  MPI_Allreduce(dz, dp, 2, MPI_C_DOUBLE_COMPLEX, MPI_PROD, MPI_COMM_WORLD);
  MPI_Allreduce(&dv, &ds, 1, MPI_C_DOUBLE_COMPLEX, MPI_SUM, MPI_COMM_WORLD);
  CHECK(creal(dp[0]) == wr && cimag(dp[0]) == wi, "double complex prod (%g, %g), want (%g, %g)", creal(dp[0]), cimag(dp[0]), wr, wi);
  /* i^n */
  double ir = size % 4 == 0 ? 1 : size % 4 == 2 ? -1 : 0, ii = size % 4 == 1 ? 1 : size % 4 == 3 ? -1 : 0;
  CHECK(creal(dp[1]) == ir && cimag(dp[1]) == ii, "i^%d = (%g, %g)", size, creal(dp[1]), cimag(dp[1]));
  CHECK(creal(ds) == sum_re && cimag(ds) == sum_im, "double complex sum (%g, %g)", creal(ds), cimag(ds));

  long double _Complex lz = 1.0L + 1.0Li, lp, ls, lv = rank + 2.0L * rank * 1.0Li;
  MPI_Reduce(&lz, &lp, 1, MPI_C_LONG_DOUBLE_COMPLEX, MPI_PROD, 0, MPI_COMM_WORLD);
  MPI_Reduce(&lv, &ls, 1, MPI_C_LONG_DOUBLE_COMPLEX, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    CHECK(creall(lp) == wr && cimagl(lp) == wi, "long double complex prod (%Lg, %Lg), want (%g, %g)", creall(lp), cimagl(lp), wr, wi);
    CHECK(creall(ls) == sum_re && cimagl(ls) == sum_im, "long double complex sum (%Lg, %Lg)", creall(ls), cimagl(ls));
  }
  /* In place, and through MPI_Reduce_local. */
  double _Complex a = 2.0 + 3.0i, b = 4.0 - 1.0i;
  MPI_Reduce_local(&a, &b, 1, MPI_C_DOUBLE_COMPLEX, MPI_PROD);
  CHECK(creal(b) == 11 && cimag(b) == 10, "MPI_Reduce_local prod (%g, %g), want (11, 10)", creal(b), cimag(b));
}

static void long_double_ops(void) {
  long double v = rank + 1, s, p, mx, mn;
  MPI_Allreduce(&v, &s, 1, MPI_LONG_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&v, &p, 1, MPI_LONG_DOUBLE, MPI_PROD, MPI_COMM_WORLD);
  MPI_Allreduce(&v, &mx, 1, MPI_LONG_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&v, &mn, 1, MPI_LONG_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  long double fact = 1;
  for (int k = 2; k <= size; k++) fact *= k;
  CHECK(s == size * (size + 1) / 2 && p == fact, "long double sum %Lg prod %Lg", s, p);
  CHECK(mx == size && mn == 1, "long double max %Lg min %Lg", mx, mn);
}

static void long_double_loc(void) {
  struct { long double v; int i; } in[2], out[2];
  /* Values -1/4 apart, a tie on the first, negatives on the second. */
  in[0].v = 1.0L;
  in[0].i = rank;
  in[1].v = -0.25L * ((rank + 1) % size);
  in[1].i = rank;
  MPI_Allreduce(in, out, 2, MPI_LONG_DOUBLE_INT, MPI_MINLOC, MPI_COMM_WORLD);
  CHECK(out[0].v == 1.0L && out[0].i == 0, "minloc tie: %Lg at %d, want 1 at 0", out[0].v, out[0].i);
  CHECK(out[1].v == -0.25L * (size - 1) && out[1].i == (size - 2 + size) % size, "minloc: %Lg at %d", out[1].v, out[1].i);
  MPI_Allreduce(in, out, 2, MPI_LONG_DOUBLE_INT, MPI_MAXLOC, MPI_COMM_WORLD);
  CHECK(out[0].v == 1.0L && out[0].i == 0, "maxloc tie: %Lg at %d", out[0].v, out[0].i);
  CHECK(out[1].v == 0 && out[1].i == size - 1, "maxloc: %Lg at %d, want 0 at %d", out[1].v, out[1].i, size - 1);
}

/* The same long double, whatever the bytes past the format (x86-64 pads 80 bits to 16 bytes). */
static int same_ld(long double a, long double b) {
  return a == b ? (a != 0 || signbit(a) == signbit(b)) : (isnan(a) && isnan(b));
}

static void long_double_exact(void) {
  /* Sums and products whose every partial result fits 62 bits: exact in
   * both long double formats, in any order, and not in a double. */
  const long double e = 1.0L / (1ULL << 58), one = 1.0L;
  long double v = one + (rank + 1) * e, s, want_s = 0;
  for (int r = 0; r < size; r++) want_s += one + (r + 1) * e;
  MPI_Allreduce(&v, &s, 1, MPI_LONG_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  CHECK((double)(one + e) != one + e, "the test needs long double wider than double");
  CHECK(same_ld(s, want_s), "long double sum off by %Lg", s - want_s);

  long double p = rank == 0 ? one + e / 4 : rank == 1 ? 3 : 2, got_p, want_p = 1;
  for (int r = 0; r < size; r++) want_p *= r == 0 ? one + e / 4 : r == 1 ? 3 : 2;
  MPI_Allreduce(&p, &got_p, 1, MPI_LONG_DOUBLE, MPI_PROD, MPI_COMM_WORLD);
  CHECK(same_ld(got_p, want_p), "long double prod off by %Lg", got_p - want_p);

  long double _Complex z = v + v * 1.0Li, zs, zp, want_zs = 0, want_zp = 1;
  for (int r = 0; r < size; r++) want_zs += (one + (r + 1) * e) * (1 + 1.0Li);
  for (int r = 0; r < size; r++) want_zp *= r == 0 ? one + e / 4 : r == 1 ? 3 : 2;
  MPI_Allreduce(&z, &zs, 1, MPI_C_LONG_DOUBLE_COMPLEX, MPI_SUM, MPI_COMM_WORLD);
  long double _Complex pz = p;
  MPI_Allreduce(&pz, &zp, 1, MPI_C_LONG_DOUBLE_COMPLEX, MPI_PROD, MPI_COMM_WORLD);
  CHECK(same_ld(creall(zs), creall(want_zs)) && same_ld(cimagl(zs), cimagl(want_zs)), "long double complex sum off");
  CHECK(same_ld(creall(zp), creall(want_zp)) && same_ld(cimagl(zp), 0), "long double complex prod off");

  /* Two operands, so one rounding: ties to even, overflow, subnormals and
   * signed zeros as the program's own + and * round them. */
  volatile long double a[] = {one, one + LDBL_EPSILON, LDBL_MAX, LDBL_MIN, -0.0L, 1.0L / 3, -LDBL_EPSILON, LDBL_MIN * 0.75L};
  volatile long double b[] = {LDBL_EPSILON / 2, LDBL_EPSILON / 2, LDBL_MAX, 0.75L + LDBL_EPSILON, -0.0L, -1.0L / 3, 1.0L / 7, -LDBL_MIN};
  for (int k = 0; k < 8; k++) {
    long double x = a[k], y = b[k], sum = y, prod = y;
    MPI_Reduce_local(&x, &sum, 1, MPI_LONG_DOUBLE, MPI_SUM);
    MPI_Reduce_local(&x, &prod, 1, MPI_LONG_DOUBLE, MPI_PROD);
    CHECK(same_ld(sum, x + y), "Reduce_local sum %d: %La, want %La", k, sum, x + y);
    CHECK(same_ld(prod, x * y), "Reduce_local prod %d: %La, want %La", k, prod, x * y);
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  complex_ops();
  long_double_ops();
  long_double_loc();
  long_double_exact();
  return finish("cplxred");
}
