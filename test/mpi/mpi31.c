/* The rest of MPI 3.1's C interface, from the standard's text:
 * - §6.7.4: attributes on datatypes (MPI_Type_create_keyval, _set_attr,
 *   _get_attr, _delete_attr, _free_keyval; MPI_TYPE_DUP_FN and
 *   MPI_TYPE_NULL_COPY_FN on MPI_Type_dup; delete callbacks on
 *   MPI_Type_free and MPI_Type_delete_attr).
 * - §4.3: MPI_Pack_external / _Unpack_external / _Pack_external_size in
 *   "external32": big-endian, each part of a complex swapped on its own;
 *   MPI_WCHAR round-trips, and in strict mode is 2 bytes (Table 13.2; Open
 *   MPI 4.1 packs sizeof(wchar_t), 4) and a character past U+FFFF is
 *   MPI_ERR_CONVERSION.
 * - §12.2: generalized requests (query_fn fills the status, free_fn runs
 *   once the request completes, cancel_fn gets whether it was completed).
 * - §4.1.11, §4.1.5: MPI_Status_set_elements_x, MPI_Type_get_extent_x,
 *   MPI_Type_get_true_extent_x.
 * - §17.2.4: handle conversions MPI_X_c2f / MPI_X_f2c round-trip.
 * - §17.1.9: MPI_Type_match_size with MPI_TYPECLASS_*.
 * - §3.2.2 / §17.2.5: the Fortran named types usable from C.
 * - §7.5.8: MPI_Cart_map and MPI_Graph_map give nnodes ranks the distinct
 *   new ranks 0..nnodes-1; the others get MPI_UNDEFINED (Open MPI gives
 *   them their old rank instead: only what both do is checked). */
#include "check.h"
#include <string.h>
#include <wchar.h>

static int rank, size;
/* argv[1] "strict": also what the standard says and Open MPI does not do (MPI_Cart_map's MPI_UNDEFINED). */
static int strict;

static int copies, deletes;

static int copy_fn(MPI_Datatype t, int key, void *extra, void *in, void *out, int *flag) {
  (void)t; (void)key; (void)extra;
  copies++;
  *(void **)out = (char *)in + 1;
  *flag = 1;
  return MPI_SUCCESS;
}

static int delete_fn(MPI_Datatype t, int key, void *val, void *extra) {
  (void)t; (void)key; (void)val;
  deletes++;
  *(int *)extra += 1;
  return MPI_SUCCESS;
}

static void type_attributes(void) {
  int k1, k2, k3, flag, extra = 0;
  void *val;
  MPI_Datatype t, d;
  MPI_Type_contiguous(2, MPI_INT, &t);
  MPI_Type_create_keyval(copy_fn, delete_fn, &k1, &extra);
  MPI_Type_create_keyval(MPI_TYPE_DUP_FN, MPI_TYPE_NULL_DELETE_FN, &k2, NULL);
  MPI_Type_create_keyval(MPI_TYPE_NULL_COPY_FN, delete_fn, &k3, &extra);
  MPI_Type_get_attr(t, k1, &val, &flag);
  CHECK(flag == 0, "an attribute before any was set");
  MPI_Type_set_attr(t, k1, (void *)100);
  MPI_Type_set_attr(t, k2, (void *)200);
  MPI_Type_set_attr(t, k3, (void *)300);
  MPI_Type_get_attr(t, k2, &val, &flag);
  CHECK(flag == 1 && val == (void *)200, "get_attr: flag %d val %p", flag, val);
  /* Setting again deletes the old value first. */
  MPI_Type_set_attr(t, k3, (void *)301);
  CHECK(deletes == 1 && extra == 1, "set over an attribute: %d deletes", deletes);

  MPI_Type_dup(t, &d);
  CHECK(copies == 1, "MPI_Type_dup ran %d copy callbacks, want 1", copies);
  MPI_Type_get_attr(d, k1, &val, &flag);
  CHECK(flag == 1 && val == (void *)101, "copied attribute: flag %d val %p", flag, val);
  MPI_Type_get_attr(d, k2, &val, &flag);
  CHECK(flag == 1 && val == (void *)200, "MPI_TYPE_DUP_FN: flag %d val %p", flag, val);
  MPI_Type_get_attr(d, k3, &val, &flag);
  CHECK(flag == 0, "MPI_TYPE_NULL_COPY_FN copied an attribute");

  MPI_Type_delete_attr(t, k3);
  CHECK(deletes == 2, "MPI_Type_delete_attr: %d deletes, want 2", deletes);
  MPI_Type_get_attr(t, k3, &val, &flag);
  CHECK(flag == 0, "deleted attribute still there");

  /* A freed keyval still attached keeps working; MPI_Type_free deletes through it. */
  MPI_Type_free_keyval(&k1);
  CHECK(k1 == MPI_KEYVAL_INVALID, "MPI_Type_free_keyval left %d", k1);
  /* (Open MPI runs t's delete callbacks only once its dup is gone too: check after both.) */
  MPI_Type_free(&t);
  CHECK(t == MPI_DATATYPE_NULL, "MPI_Type_free left the handle");
  MPI_Type_free(&d);
  CHECK(deletes == 4 && extra == 4, "MPI_Type_free of a type and its dup: %d deletes, want 4", deletes);
  /* Attributes on a predefined type. */
  MPI_Type_set_attr(MPI_INT, k2, (void *)7);
  MPI_Type_get_attr(MPI_INT, k2, &val, &flag);
  CHECK(flag == 1 && val == (void *)7, "attribute on MPI_INT: flag %d val %p", flag, val);
  MPI_Type_delete_attr(MPI_INT, k2);
  MPI_Type_free_keyval(&k2);
  MPI_Type_free_keyval(&k3);
}

static void external32(void) {
  MPI_Aint n, pos = 0;
  unsigned char buf[64];
  int i = 0x01020304;
  double d = 1.0;
  short s2[2] = {0x0102, 0x0304};
  float _Complex z = 1.0f + 2.0f * 1.0fi;
  MPI_Pack_external_size("external32", 1, MPI_INT, &n);
  CHECK(n == 4, "external32 size of MPI_INT: %ld", (long)n);
  MPI_Pack_external_size("external32", 3, MPI_DOUBLE, &n);
  CHECK(n == 24, "external32 size of 3 MPI_DOUBLE: %ld", (long)n);
  MPI_Pack_external("external32", &i, 1, MPI_INT, buf, sizeof buf, &pos);
  MPI_Pack_external("external32", &d, 1, MPI_DOUBLE, buf, sizeof buf, &pos);
  MPI_Pack_external("external32", s2, 2, MPI_SHORT, buf, sizeof buf, &pos);
  MPI_Pack_external("external32", &z, 1, MPI_C_FLOAT_COMPLEX, buf, sizeof buf, &pos);
  CHECK(pos == 4 + 8 + 4 + 8, "position after packing: %ld", (long)pos);
  static const unsigned char want[] = {1, 2, 3, 4, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4,
                                       0x3f, 0x80, 0, 0, 0x40, 0, 0, 0};
  for (unsigned k = 0; k < sizeof want; k++) CHECK(buf[k] == want[k], "external32 byte %u: 0x%02x, want 0x%02x", k, buf[k], want[k]);

  /* A derived type round-trips. */
  struct { int a; double b; } in[2] = {{1, 2.5}, {-3, 4.25}}, out[2];
  int bl[2] = {1, 1};
  MPI_Aint disp[2] = {offsetof(__typeof__(in[0]), a), offsetof(__typeof__(in[0]), b)};
  MPI_Datatype types[2] = {MPI_INT, MPI_DOUBLE}, st;
  MPI_Type_create_struct(2, bl, disp, types, &st);
  MPI_Type_commit(&st);
  MPI_Pack_external_size("external32", 2, st, &n);
  CHECK(n == 24, "external32 size of 2 {int, double}: %ld", (long)n);
  pos = 0;
  MPI_Pack_external("external32", in, 2, st, buf, sizeof buf, &pos);
  CHECK(buf[3] == 1 && buf[12] == 0xff && buf[15] == 0xfd, "external32 of the struct: %02x %02x %02x", buf[3], buf[12], buf[15]);
  memset(out, 0, sizeof out);
  pos = 0;
  MPI_Unpack_external("external32", buf, n, &pos, out, 2, st);
  CHECK(pos == n, "unpack position %ld", (long)pos);
  CHECK(out[0].a == 1 && out[0].b == 2.5 && out[1].a == -3 && out[1].b == 4.25, "unpacked {%d %g} {%d %g}", out[0].a, out[0].b, out[1].a, out[1].b);
  MPI_Type_free(&st);

  /* Wide characters: Unicode, big-endian. */
  wchar_t w[3] = {L'A', 0x263a, 0xfffe}, wout[3] = {0};
  MPI_Pack_external_size("external32", 3, MPI_WCHAR, &n);
  pos = 0;
  MPI_Pack_external("external32", w, 3, MPI_WCHAR, buf, sizeof buf, &pos);
  CHECK(pos == n, "MPI_WCHAR packed %ld bytes, Pack_external_size says %ld", (long)pos, (long)n);
  pos = 0;
  MPI_Unpack_external("external32", buf, n, &pos, wout, 3, MPI_WCHAR);
  CHECK(pos == n && memcmp(w, wout, sizeof w) == 0, "MPI_WCHAR round trip: %x %x %x", (unsigned)wout[0], (unsigned)wout[1], (unsigned)wout[2]);
  if (strict) {
    static const unsigned char wwant[] = {0, 0x41, 0x26, 0x3a, 0xff, 0xfe};
    CHECK(n == 6, "external32 size of 3 MPI_WCHAR: %ld, want 6", (long)n);
    for (unsigned k = 0; k < sizeof wwant; k++) CHECK(buf[k] == wwant[k], "MPI_WCHAR byte %u: 0x%02x, want 0x%02x", k, buf[k], wwant[k]);
    wchar_t gothic = 0x10348;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    pos = 0;
    int rc = MPI_Pack_external("external32", &gothic, 1, MPI_WCHAR, buf, sizeof buf, &pos), cls = -1;
    MPI_Error_class(rc, &cls);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    CHECK(cls == MPI_ERR_CONVERSION && pos == 0, "U+10348 as MPI_WCHAR: class %d, position %ld", cls, (long)pos);
  }
}

struct greq { int queried, freed, cancelled; };

static int query_fn(void *extra, MPI_Status *status) {
  struct greq *g = extra;
  g->queried++;
  status->MPI_SOURCE = 3;
  status->MPI_TAG = 9;
  MPI_Status_set_elements(status, MPI_INT, 5);
  MPI_Status_set_cancelled(status, g->cancelled);
  return MPI_SUCCESS;
}

static int free_fn(void *extra) {
  ((struct greq *)extra)->freed++;
  return MPI_SUCCESS;
}

static int cancel_fn(void *extra, int complete) {
  ((struct greq *)extra)->cancelled = 1 + complete;
  return MPI_SUCCESS;
}

static void generalized_requests(void) {
  struct greq g = {0, 0, 0};
  MPI_Request r;
  MPI_Status st;
  int flag, count;
  MPI_Grequest_start(query_fn, free_fn, cancel_fn, &g, &r);
  MPI_Test(&r, &flag, MPI_STATUS_IGNORE);
  CHECK(flag == 0, "a generalized request is done before MPI_Grequest_complete");
  MPI_Grequest_complete(r);
  MPI_Wait(&r, &st);
  CHECK(r == MPI_REQUEST_NULL, "MPI_Wait left the request");
  CHECK(g.queried == 1 && g.freed == 1, "query ran %d times, free %d times", g.queried, g.freed);
  MPI_Get_count(&st, MPI_INT, &count);
  CHECK(st.MPI_SOURCE == 3 && st.MPI_TAG == 9 && count == 5, "status: source %d tag %d count %d", st.MPI_SOURCE, st.MPI_TAG, count);

  struct greq h = {0, 0, 0};
  MPI_Grequest_start(query_fn, free_fn, cancel_fn, &h, &r);
  MPI_Cancel(&r);
  CHECK(h.cancelled == 1, "cancel_fn before completion got complete=%d", h.cancelled - 1);
  MPI_Grequest_complete(r);
  flag = 0;
  while (!flag) MPI_Test(&r, &flag, &st);
  MPI_Test_cancelled(&st, &flag);
  CHECK(flag == 1 && h.freed == 1, "cancelled flag %d, freed %d", flag, h.freed);
}

static void count_functions(void) {
  MPI_Datatype v;
  MPI_Aint lb, ext, tlb, text;
  MPI_Count lbx, extx, tlbx, textx, n;
  MPI_Status st;
  MPI_Type_vector(3, 2, 5, MPI_DOUBLE, &v);
  MPI_Type_create_resized(v, -8, 200, &v);
  MPI_Type_commit(&v);
  MPI_Type_get_extent(v, &lb, &ext);
  MPI_Type_get_true_extent(v, &tlb, &text);
  MPI_Type_get_extent_x(v, &lbx, &extx);
  MPI_Type_get_true_extent_x(v, &tlbx, &textx);
  CHECK(lbx == -8 && extx == 200 && lbx == lb && extx == ext, "extent_x %lld %lld", (long long)lbx, (long long)extx);
  CHECK(tlbx == tlb && textx == text && textx == 12 * 8, "true_extent_x %lld %lld", (long long)tlbx, (long long)textx);
  MPI_Status_set_elements_x(&st, MPI_DOUBLE, (MPI_Count)12);
  MPI_Get_elements_x(&st, MPI_DOUBLE, &n);
  CHECK(n == 12, "MPI_Status_set_elements_x then MPI_Get_elements_x: %lld", (long long)n);
  MPI_Type_free(&v);
}

static void conversions(void) {
  MPI_Fint f[16]; /* a Fortran status (MPI_STATUS_SIZE integers: not a C constant in MPI 3.1) */
  MPI_Status a, b;
  CHECK(MPI_Message_f2c(MPI_Message_c2f(MPI_MESSAGE_NULL)) == MPI_MESSAGE_NULL, "message");
  CHECK(MPI_Message_f2c(MPI_Message_c2f(MPI_MESSAGE_NO_PROC)) == MPI_MESSAGE_NO_PROC, "message no proc");
  CHECK(MPI_Group_f2c(MPI_Group_c2f(MPI_GROUP_EMPTY)) == MPI_GROUP_EMPTY, "group");
  CHECK(MPI_Info_f2c(MPI_Info_c2f(MPI_INFO_NULL)) == MPI_INFO_NULL, "info");
  CHECK(MPI_Errhandler_f2c(MPI_Errhandler_c2f(MPI_ERRORS_RETURN)) == MPI_ERRORS_RETURN, "errhandler");
  CHECK(MPI_Comm_f2c(MPI_Comm_c2f(MPI_COMM_WORLD)) == MPI_COMM_WORLD, "comm");
  CHECK(MPI_Type_f2c(MPI_Type_c2f(MPI_DOUBLE)) == MPI_DOUBLE, "datatype");
  CHECK(MPI_Op_f2c(MPI_Op_c2f(MPI_SUM)) == MPI_SUM, "op");
  CHECK(MPI_Win_f2c(MPI_Win_c2f(MPI_WIN_NULL)) == MPI_WIN_NULL, "win");
  CHECK(MPI_File_f2c(MPI_File_c2f(MPI_FILE_NULL)) == MPI_FILE_NULL, "file");
  a.MPI_SOURCE = 4;
  a.MPI_TAG = 17;
  a.MPI_ERROR = MPI_ERR_TAG;
  MPI_Status_c2f(&a, f);
  MPI_Status_f2c(f, &b);
  CHECK(b.MPI_SOURCE == 4 && b.MPI_TAG == 17 && b.MPI_ERROR == MPI_ERR_TAG, "status round trip");
}

static void match_size(void) {
  static const struct { int cls, bytes; } want[] = {
    {MPI_TYPECLASS_INTEGER, 1}, {MPI_TYPECLASS_INTEGER, 2}, {MPI_TYPECLASS_INTEGER, 4}, {MPI_TYPECLASS_INTEGER, 8},
    {MPI_TYPECLASS_REAL, 4}, {MPI_TYPECLASS_REAL, 8}, {MPI_TYPECLASS_COMPLEX, 8}, {MPI_TYPECLASS_COMPLEX, 16},
  };
  for (unsigned k = 0; k < sizeof want / sizeof want[0]; k++) {
    MPI_Datatype t = MPI_DATATYPE_NULL;
    int got = -1;
    MPI_Type_match_size(want[k].cls, want[k].bytes, &t);
    if (t != MPI_DATATYPE_NULL) MPI_Type_size(t, &got);
    CHECK(got == want[k].bytes, "MPI_Type_match_size(%d, %d) has %d bytes", want[k].cls, want[k].bytes, got);
  }
}

static void fortran_types(void) {
  static const struct { MPI_Datatype t; int bytes; const char *name; } sizes[] = {
    {MPI_CHARACTER, 1, "MPI_CHARACTER"}, {MPI_LOGICAL, 4, "MPI_LOGICAL"}, {MPI_INTEGER, 4, "MPI_INTEGER"},
    {MPI_REAL, 4, "MPI_REAL"}, {MPI_DOUBLE_PRECISION, 8, "MPI_DOUBLE_PRECISION"}, {MPI_COMPLEX, 8, "MPI_COMPLEX"},
    {MPI_DOUBLE_COMPLEX, 16, "MPI_DOUBLE_COMPLEX"}, {MPI_INTEGER4, 4, "MPI_INTEGER4"}, {MPI_INTEGER8, 8, "MPI_INTEGER8"},
    {MPI_REAL8, 8, "MPI_REAL8"}, {MPI_2INTEGER, 8, "MPI_2INTEGER"}, {MPI_2DOUBLE_PRECISION, 16, "MPI_2DOUBLE_PRECISION"},
  };
  for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    int got = -1;
    MPI_Type_size(sizes[k].t, &got);
    CHECK(got == sizes[k].bytes, "%s has %d bytes, want %d", sizes[k].name, got, sizes[k].bytes);
  }
  int i = rank + 1, isum = 0;
  float r = 0.5f * (rank + 1), rsum = 0;
  double d = rank, dmax = -1;
  int l = rank != 0, land = -1, lor = -1;
  MPI_Allreduce(&i, &isum, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&r, &rsum, 1, MPI_REAL, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&d, &dmax, 1, MPI_DOUBLE_PRECISION, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&l, &land, 1, MPI_LOGICAL, MPI_LAND, MPI_COMM_WORLD);
  MPI_Allreduce(&l, &lor, 1, MPI_LOGICAL, MPI_LOR, MPI_COMM_WORLD);
  CHECK(isum == size * (size + 1) / 2, "MPI_INTEGER sum %d", isum);
  CHECK(rsum == 0.25f * size * (size + 1), "MPI_REAL sum %g", rsum);
  CHECK(dmax == size - 1, "MPI_DOUBLE_PRECISION max %g", dmax);
  CHECK(!land && !lor == (size == 1), "MPI_LOGICAL land %d lor %d", land, lor);
  int pair[2] = {(rank + 1) % size, rank}, best[2];
  MPI_Allreduce(pair, best, 1, MPI_2INTEGER, MPI_MAXLOC, MPI_COMM_WORLD);
  CHECK(best[0] == size - 1 && best[1] == (size + size - 2) % size, "MPI_2INTEGER maxloc %d at %d", best[0], best[1]);
  char word[8] = "abcdefg", got[8] = "";
  MPI_Sendrecv(word, 8, MPI_CHARACTER, (rank + 1) % size, 4, got, 8, MPI_CHARACTER, (rank + size - 1) % size, 4,
               MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  CHECK(strcmp(got, "abcdefg") == 0, "MPI_CHARACTER sendrecv got %s", got);
}

/* Every new rank below n exactly once; the others MPI_UNDEFINED (fmi) or n and up (Open MPI). */
static void check_map(const char *what, int newrank, int n) {
  int ranks[64], seen = 0, bad = 0;
  MPI_Allgather(&newrank, 1, MPI_INT, ranks, 1, MPI_INT, MPI_COMM_WORLD);
  for (int k = 0; k < size; k++) {
    if (ranks[k] >= 0 && ranks[k] < n) {
      if (seen & (1 << ranks[k])) bad++;
      seen |= 1 << ranks[k];
    } else if (ranks[k] != MPI_UNDEFINED && !(ranks[k] >= n && ranks[k] < size)) bad++;
  }
  CHECK(seen == (1 << n) - 1 && bad == 0, "%s: new ranks below %d seen 0x%x, %d bad", what, n, seen, bad);
  if (strict) CHECK(rank < n || newrank == MPI_UNDEFINED, "%s: rank %d is past the %d nodes but got %d", what, rank, n, newrank);
}

static void topology_maps(void) {
  int dims[2] = {1, size > 1 ? size - 1 : 1}, periods[2] = {0, 0}, newrank;
  MPI_Cart_map(MPI_COMM_WORLD, 2, dims, periods, &newrank);
  check_map("MPI_Cart_map", newrank, dims[0] * dims[1]);
  int index[2] = {1, 2}, edges[2] = {1, 0};
  int nodes = size >= 2 ? 2 : 1;
  if (nodes == 1) index[0] = 0, index[1] = 0;
  MPI_Graph_map(MPI_COMM_WORLD, nodes, index, edges, &newrank);
  check_map("MPI_Graph_map", newrank, nodes);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  strict = argc > 1 && strcmp(argv[1], "strict") == 0;
  type_attributes();
  external32();
  generalized_requests();
  count_functions();
  conversions();
  match_size();
  fortran_types();
  topology_maps();
  return finish("mpi31");
}
