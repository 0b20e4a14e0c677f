/* MPI 3.1 chapter 4, datatypes, what types.c and derived.c leave out, from
 * the text. Sizes are compared with what this C compiler lays out (sizeof),
 * never with literals, so the program holds on wasm32 and x86_64 alike:
 * - §3.2.2, §5.9.4: each predefined type's size and extent are its C type's
 *   (the (value, int) pairs as the struct §5.9.4 defines them);
 * - §4.1.5, §4.1.7, §4.1.8: size/extent/true extent of resized types with
 *   a negative lower bound, of contiguous copies of them, of empty types;
 *   the _x forms; Aint_add/Aint_diff;
 * - §4.1.12: MPI_BOTTOM with absolute addresses on both sides;
 * - §4.1.13: envelope and contents of each constructor; named types;
 * - §4.1.11: Get_count/Get_elements of a message that ends mid-element;
 * - §4.1.3 subarray in Fortran order; §4.2: packing in several calls;
 * - §6.8: the names of predefined types. */
#include "check.h"
#include <complex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static int rank, size, next, prev;

typedef struct { float v; int i; } float_int;
typedef struct { double v; int i; } double_int;
typedef struct { long v; int i; } long_int;
typedef struct { short v; int i; } short_int;
typedef struct { int v; int i; } two_int;
typedef struct { long double v; int i; } long_double_int;

static void one(const char *name, MPI_Datatype t, int want_size, MPI_Aint want_extent) {
  int sz = -1;
  MPI_Aint lb = -1, ext = -1;
  MPI_Count szx = -1, lbx = -1, extx = -1;
  MPI_Type_size(t, &sz);
  MPI_Type_get_extent(t, &lb, &ext);
  MPI_Type_size_x(t, &szx);
  MPI_Type_get_extent_x(t, &lbx, &extx);
  CHECK(sz == want_size && lb == 0 && ext == want_extent, "%s: size %d lb %ld extent %ld, want %d 0 %ld", name, sz, (long)lb, (long)ext, want_size, (long)want_extent);
  CHECK(szx == sz && lbx == 0 && extx == ext, "%s: the _x forms", name);
  int ni, na, nd, comb = -1;
  MPI_Type_get_envelope(t, &ni, &na, &nd, &comb);
  CHECK(comb == MPI_COMBINER_NAMED && ni == 0 && na == 0 && nd == 0, "%s: a named type", name);
}

#define BASIC(T, CT) one(#T, T, (int)sizeof(CT), (MPI_Aint)sizeof(CT))
#define PAIR(T, ST, VT) one(#T, T, (int)(sizeof(VT) + sizeof(int)), (MPI_Aint)sizeof(ST))

static void predefined(void) {
  BASIC(MPI_CHAR, char); BASIC(MPI_SIGNED_CHAR, signed char); BASIC(MPI_UNSIGNED_CHAR, unsigned char);
  BASIC(MPI_SHORT, short); BASIC(MPI_UNSIGNED_SHORT, unsigned short);
  BASIC(MPI_INT, int); BASIC(MPI_UNSIGNED, unsigned); BASIC(MPI_LONG, long); BASIC(MPI_UNSIGNED_LONG, unsigned long);
  BASIC(MPI_LONG_LONG_INT, long long); BASIC(MPI_LONG_LONG, long long); BASIC(MPI_UNSIGNED_LONG_LONG, unsigned long long);
  BASIC(MPI_FLOAT, float); BASIC(MPI_DOUBLE, double); BASIC(MPI_LONG_DOUBLE, long double);
  BASIC(MPI_WCHAR, wchar_t); BASIC(MPI_C_BOOL, _Bool);
  BASIC(MPI_INT8_T, int8_t); BASIC(MPI_INT16_T, int16_t); BASIC(MPI_INT32_T, int32_t); BASIC(MPI_INT64_T, int64_t);
  BASIC(MPI_UINT8_T, uint8_t); BASIC(MPI_UINT16_T, uint16_t); BASIC(MPI_UINT32_T, uint32_t); BASIC(MPI_UINT64_T, uint64_t);
  BASIC(MPI_C_COMPLEX, float _Complex); BASIC(MPI_C_FLOAT_COMPLEX, float _Complex);
  BASIC(MPI_C_DOUBLE_COMPLEX, double _Complex); BASIC(MPI_C_LONG_DOUBLE_COMPLEX, long double _Complex);
  BASIC(MPI_AINT, MPI_Aint); BASIC(MPI_OFFSET, MPI_Offset); BASIC(MPI_COUNT, MPI_Count);
  BASIC(MPI_BYTE, unsigned char); BASIC(MPI_PACKED, unsigned char);
  PAIR(MPI_FLOAT_INT, float_int, float); PAIR(MPI_DOUBLE_INT, double_int, double);
  PAIR(MPI_LONG_INT, long_int, long); PAIR(MPI_SHORT_INT, short_int, short);
  PAIR(MPI_2INT, two_int, int); PAIR(MPI_LONG_DOUBLE_INT, long_double_int, long double);

  char name[MPI_MAX_OBJECT_NAME];
  int len = -1;
  MPI_Type_get_name(MPI_DOUBLE, name, &len);
  CHECK(strcmp(name, "MPI_DOUBLE") == 0 && len == (int)strlen(name), "name of MPI_DOUBLE: %s", name);
  MPI_Type_get_name(MPI_LONG_DOUBLE_INT, name, &len);
  CHECK(strcmp(name, "MPI_LONG_DOUBLE_INT") == 0, "name of MPI_LONG_DOUBLE_INT: %s", name);
  MPI_Datatype v;
  MPI_Type_vector(2, 1, 2, MPI_INT, &v);
  MPI_Type_set_name(v, "every other int");
  MPI_Type_get_name(v, name, &len);
  CHECK(strcmp(name, "every other int") == 0 && len == 15, "Type_set_name: %s", name);
  MPI_Type_free(&v);
}

/* §4.1.7: resized to lb -8, extent 24 around an int at 0: contiguous copies are 24 apart. */
static void bounds(void) {
  MPI_Datatype r, c3, empty;
  MPI_Type_create_resized(MPI_INT, -8, 24, &r);
  MPI_Type_contiguous(3, r, &c3);
  MPI_Type_commit(&c3);
  MPI_Aint lb, ext, tlb, text;
  int sz;
  MPI_Type_get_extent(c3, &lb, &ext);
  MPI_Type_get_true_extent(c3, &tlb, &text);
  MPI_Type_size(c3, &sz);
  CHECK(lb == -8 && ext == 72, "contiguous of a resized type: lb %ld extent %ld", (long)lb, (long)ext);
  CHECK(tlb == 0 && text == 48 + (MPI_Aint)sizeof(int), "true extent %ld %ld", (long)tlb, (long)text);
  CHECK(sz == 3 * (int)sizeof(int), "size %d", sz);
  /* Two of them around the ring: ints 0, 6 and 12 of 36, twice (count 2: 72 bytes apart). */
  int out[36], in[36];
  for (int k = 0; k < 36; k++) out[k] = rank * 100 + k, in[k] = -1;
  MPI_Sendrecv(out + 2, 2, c3, next, 1, in + 2, 2, c3, prev, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  int bad = -1;
  for (int k = 0; k < 36 && bad < 0; k++) {
    int want = (k - 2) >= 0 && (k - 2) % 6 == 0 && k - 2 < 36 ? prev * 100 + k : -1;
    if (in[k] != want) bad = k;
  }
  CHECK(bad < 0, "resized elements land 24 bytes apart: int %d", bad);
  MPI_Type_free(&r);
  MPI_Type_free(&c3);

  /* An empty type: size 0, extent 0; a message of it is empty. */
  MPI_Type_contiguous(0, MPI_INT, &empty);
  MPI_Type_commit(&empty);
  MPI_Type_size(empty, &sz);
  MPI_Type_get_extent(empty, &lb, &ext);
  CHECK(sz == 0 && ext == 0, "empty type: size %d extent %ld", sz, (long)ext);
  MPI_Status st;
  int count = -1;
  MPI_Sendrecv(out, 5, empty, next, 2, in, 5, empty, prev, 2, MPI_COMM_WORLD, &st);
  MPI_Get_count(&st, MPI_INT, &count);
  CHECK(count == 0, "a message of empty elements: %d ints", count);
  MPI_Type_free(&empty);

  /* Aint arithmetic (§4.1.5). */
  double arr[4];
  MPI_Aint a0, a3;
  MPI_Get_address(&arr[0], &a0);
  MPI_Get_address(&arr[3], &a3);
  CHECK(MPI_Aint_diff(a3, a0) == 3 * (MPI_Aint)sizeof(double), "Aint_diff");
  CHECK(MPI_Aint_add(a0, 3 * sizeof(double)) == a3, "Aint_add");
}

/* §4.1.12: a struct of absolute addresses, sent from and received into MPI_BOTTOM. */
static void bottom(void) {
  int i = rank, gi = -1;
  double d = rank + 0.5, gd = -1;
  int bl[2] = {1, 1};
  MPI_Aint at[2], gat[2];
  MPI_Datatype ts[2] = {MPI_INT, MPI_DOUBLE}, s, g;
  MPI_Get_address(&i, &at[0]);
  MPI_Get_address(&d, &at[1]);
  MPI_Get_address(&gi, &gat[0]);
  MPI_Get_address(&gd, &gat[1]);
  MPI_Type_create_struct(2, bl, at, ts, &s);
  MPI_Type_create_struct(2, bl, gat, ts, &g);
  MPI_Type_commit(&s);
  MPI_Type_commit(&g);
  MPI_Sendrecv(MPI_BOTTOM, 1, s, next, 3, MPI_BOTTOM, 1, g, prev, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  CHECK(gi == prev && gd == prev + 0.5, "MPI_BOTTOM: %d %f", gi, gd);
  MPI_Type_free(&s);
  MPI_Type_free(&g);
}

/* §4.1.13: what each constructor was called with comes back. */
static void contents(void) {
  MPI_Datatype v, iv, st, sub;
  MPI_Type_vector(3, 2, 5, MPI_DOUBLE, &v);
  int ints[8], n_i, n_a, n_d, comb;
  MPI_Aint aints[8];
  MPI_Datatype types[4];
  MPI_Type_get_envelope(v, &n_i, &n_a, &n_d, &comb);
  CHECK(comb == MPI_COMBINER_VECTOR && n_i == 3 && n_a == 0 && n_d == 1, "vector envelope");
  MPI_Type_get_contents(v, n_i, n_a, n_d, ints, aints, types);
  CHECK(ints[0] == 3 && ints[1] == 2 && ints[2] == 5 && types[0] == MPI_DOUBLE, "vector contents");

  int bl[2] = {1, 2}, dis[2] = {4, 0};
  MPI_Type_indexed(2, bl, dis, v, &iv);
  MPI_Type_get_envelope(iv, &n_i, &n_a, &n_d, &comb);
  CHECK(comb == MPI_COMBINER_INDEXED && n_i == 5 && n_d == 1, "indexed envelope");
  MPI_Type_get_contents(iv, n_i, n_a, n_d, ints, aints, types);
  CHECK(ints[0] == 2 && ints[1] == 1 && ints[2] == 2 && ints[3] == 4 && ints[4] == 0, "indexed contents");
  /* A derived type in the contents is a new handle to it, freed by the caller. */
  MPI_Type_get_envelope(types[0], &n_i, &n_a, &n_d, &comb);
  CHECK(comb == MPI_COMBINER_VECTOR, "the inner type is the vector");
  MPI_Type_free(&types[0]);

  int sbl[2] = {1, 3};
  MPI_Aint sdis[2] = {0, 16};
  MPI_Datatype sts[2] = {MPI_CHAR, MPI_FLOAT};
  MPI_Type_create_struct(2, sbl, sdis, sts, &st);
  MPI_Type_get_envelope(st, &n_i, &n_a, &n_d, &comb);
  CHECK(comb == MPI_COMBINER_STRUCT && n_i == 3 && n_a == 2 && n_d == 2, "struct envelope");
  MPI_Type_get_contents(st, n_i, n_a, n_d, ints, aints, types);
  CHECK(ints[0] == 2 && ints[2] == 3 && aints[1] == 16 && types[0] == MPI_CHAR && types[1] == MPI_FLOAT, "struct contents");

  int sizes[2] = {4, 6}, subs[2] = {2, 3}, starts[2] = {1, 2};
  MPI_Type_create_subarray(2, sizes, subs, starts, MPI_ORDER_FORTRAN, MPI_INT, &sub);
  MPI_Type_get_envelope(sub, &n_i, &n_a, &n_d, &comb);
  CHECK(comb == MPI_COMBINER_SUBARRAY && n_i == 8 && n_d == 1, "subarray envelope");
  MPI_Type_get_contents(sub, n_i, n_a, n_d, ints, aints, types);
  CHECK(ints[0] == 2 && ints[1] == 4 && ints[3] == 2 && ints[5] == 1 && ints[7] == MPI_ORDER_FORTRAN, "subarray contents");
  /* Fortran order: the first dimension varies fastest. a(4,6), rows 1-2, columns 2-4. */
  MPI_Type_commit(&sub);
  MPI_Aint lb, ext;
  MPI_Type_get_extent(sub, &lb, &ext);
  CHECK(lb == 0 && ext == 24 * (MPI_Aint)sizeof(int), "subarray extent is the whole array: %ld", (long)ext);
  int a[24], packed[6], pos = 0;
  for (int k = 0; k < 24; k++) a[k] = k;
  MPI_Pack(a, 1, sub, packed, sizeof packed, &pos, MPI_COMM_WORLD);
  int want[6] = {1 + 4 * 2, 2 + 4 * 2, 1 + 4 * 3, 2 + 4 * 3, 1 + 4 * 4, 2 + 4 * 4};
  CHECK(pos == 6 * (int)sizeof(int) && memcmp(packed, want, sizeof want) == 0, "Fortran-order subarray packs column by column");
  MPI_Type_free(&v);
  MPI_Type_free(&iv);
  MPI_Type_free(&st);
  MPI_Type_free(&sub);
}

/* §4.1.11: 5 ints received as pairs of ints: 2 whole pairs and half of one. */
static void partial(void) {
  MPI_Datatype pair;
  MPI_Type_contiguous(2, MPI_INT, &pair);
  MPI_Type_commit(&pair);
  int out[5] = {1, 2, 3, 4, 5}, in[6] = {0};
  MPI_Status st;
  MPI_Sendrecv(out, 5, MPI_INT, next, 4, in, 3, pair, prev, 4, MPI_COMM_WORLD, &st);
  int count = 0, elements = 0;
  MPI_Count ex = 0;
  MPI_Get_count(&st, pair, &count);
  MPI_Get_elements(&st, pair, &elements);
  MPI_Get_elements_x(&st, pair, &ex);
  CHECK(count == MPI_UNDEFINED && elements == 5 && ex == 5, "count %d elements %d", count, elements);
  CHECK(in[4] == 5 && in[5] == 0, "the half pair is received");
  MPI_Type_free(&pair);

  /* §4.2: packing in pieces: an int, 3 doubles, a char string; one MPI_PACKED message. */
  int n = rank, m = -1, psz_i, psz_d, psz_c;
  double ds[3] = {rank, rank * 2, rank * 3}, dr[3];
  char s[6] = "hello", sr[6] = "";
  MPI_Pack_size(1, MPI_INT, MPI_COMM_WORLD, &psz_i);
  MPI_Pack_size(3, MPI_DOUBLE, MPI_COMM_WORLD, &psz_d);
  MPI_Pack_size(6, MPI_CHAR, MPI_COMM_WORLD, &psz_c);
  int cap = psz_i + psz_d + psz_c, pos = 0;
  char *buf = malloc(cap), *rbuf = malloc(cap);
  MPI_Pack(&n, 1, MPI_INT, buf, cap, &pos, MPI_COMM_WORLD);
  MPI_Pack(ds, 3, MPI_DOUBLE, buf, cap, &pos, MPI_COMM_WORLD);
  MPI_Pack(s, 6, MPI_CHAR, buf, cap, &pos, MPI_COMM_WORLD);
  CHECK(pos <= cap, "Pack_size is an upper bound: %d > %d", pos, cap);
  MPI_Sendrecv(buf, pos, MPI_PACKED, next, 5, rbuf, cap, MPI_PACKED, prev, 5, MPI_COMM_WORLD, &st);
  int got = -1;
  MPI_Get_count(&st, MPI_PACKED, &got);
  CHECK(got == pos, "MPI_PACKED count %d, packed %d", got, pos);
  int rpos = 0;
  MPI_Unpack(rbuf, got, &rpos, &m, 1, MPI_INT, MPI_COMM_WORLD);
  MPI_Unpack(rbuf, got, &rpos, dr, 3, MPI_DOUBLE, MPI_COMM_WORLD);
  MPI_Unpack(rbuf, got, &rpos, sr, 6, MPI_CHAR, MPI_COMM_WORLD);
  CHECK(m == prev && dr[2] == prev * 3 && strcmp(sr, "hello") == 0 && rpos == got, "Unpack in pieces");
  free(buf);
  free(rbuf);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  next = (rank + 1) % size, prev = (rank + size - 1) % size;
  predefined();
  bounds();
  bottom();
  contents();
  partial();
  return finish("ch4-types");
}
