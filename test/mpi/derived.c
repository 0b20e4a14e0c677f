/* Sending, receiving and collectives through derived datatypes, checked
 * against plain C loops over each type's byte blocks. Types of many blocks
 * take the Wasm pack kernels (assembly/pack.ts), small ones the JS path:
 * indexed, hindexed with negative displacements, struct, subarray, vector,
 * hvector with a negative stride, resized types with a negative lower bound,
 * MPI_SHORT_INT; blocking and non-blocking point to point, Sendrecv,
 * collectives, MPI_Pack/MPI_Unpack, short messages (ending inside an element
 * or a block), truncated receives, MPI_Get_count/MPI_Get_elements. */
#include "check.h"
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

/** A datatype and what C knows of it: `nb` byte blocks (off, len) per element, elements `ext` apart. */
typedef struct {
  const char *name;
  MPI_Datatype t;
  int count;
  int nb;
  int *off;
  int *len;
  MPI_Aint ext;
  int basics; /* basic elements per element (MPI_Get_elements) */
  int last;   /* bytes of the last basic element of an element */
} layout;

static int rank, size, next, prev;

static layout make(const char *name, MPI_Datatype t, int count, int nb, int basics, int last) {
  layout l = {name, t, count, nb, calloc(nb, sizeof(int)), calloc(nb, sizeof(int)), 0, basics, last};
  return l;
}

static int packed_size(const layout *l) {
  int n = 0;
  for (int b = 0; b < l->nb; b++) n += l->len[b];
  return n * l->count;
}

/** Lowest and highest byte offsets (from the buffer pointer) count elements touch. */
static void span(const layout *l, int count, long *lo, long *hi) {
  *lo = 0;
  *hi = 0;
  for (int e = 0; e < count; e++)
    for (int b = 0; b < l->nb; b++) {
      long a = (long)e * l->ext + l->off[b];
      if (a < *lo) *lo = a;
      if (a + l->len[b] > *hi) *hi = a + l->len[b];
    }
}

/** A buffer for count elements of l: the pointer to pass to MPI (`base`), and the allocation behind it. */
typedef struct {
  char *mem;
  char *base;
  long bytes;
} buffer;

static buffer alloc_for(const layout *l, int count) {
  long lo, hi;
  span(l, count, &lo, &hi);
  buffer b;
  b.bytes = hi - lo + 64;
  b.mem = malloc(b.bytes);
  b.base = b.mem + 32 - lo;
  return b;
}

static void fill(buffer *b, int seed) {
  for (long i = 0; i < b->bytes; i++) b->mem[i] = (char)(seed * 31 + i * 7 + (i >> 8));
}

static void ref_pack(const layout *l, const char *base, int count, char *out) {
  for (int e = 0; e < count; e++)
    for (int b = 0; b < l->nb; b++) {
      memcpy(out, base + (long)e * l->ext + l->off[b], l->len[b]);
      out += l->len[b];
    }
}

/** Unpacks the first `bytes` packed bytes, as MPI fills a receive buffer from a shorter message. */
static void ref_unpack(const layout *l, const char *in, int bytes, char *base, int count) {
  for (int e = 0; e < count && bytes > 0; e++)
    for (int b = 0; b < l->nb && bytes > 0; b++) {
      int n = l->len[b] < bytes ? l->len[b] : bytes;
      memcpy(base + (long)e * l->ext + l->off[b], in, n);
      in += n;
      bytes -= n;
    }
}

/** What a receive of `bytes` packed bytes (sent by rank `from`) must leave in a buffer filled with `seed`. */
static buffer expected(const layout *l, int count, int from, int bytes, int seed) {
  buffer src = alloc_for(l, count), want = alloc_for(l, count);
  fill(&src, from);
  fill(&want, seed);
  char *packed = malloc(packed_size(l) / l->count * count + 1);
  ref_pack(l, src.base, count, packed);
  ref_unpack(l, packed, bytes, want.base, count);
  free(packed);
  free(src.mem);
  return want;
}

static int same(const buffer *a, const buffer *b) {
  return a->bytes == b->bytes && memcmp(a->mem, b->mem, a->bytes) == 0;
}

/* Point to point: derived -> bytes, bytes -> derived, derived -> derived, blocking and not. */
static void p2p(const layout *l) {
  int n = packed_size(l), c = l->count;
  buffer mine = alloc_for(l, c), got = alloc_for(l, c);
  fill(&mine, rank);
  char *packed = malloc(n + 16), *want = malloc(n + 16);
  MPI_Status st;
  int k;

  /* A send of the type around the ring (non-blocking: MPI 3.1 §3.5 calls a
   * ring of blocking sends unsafe, it may need buffering) */
  MPI_Request sq;
  MPI_Isend(mine.base, c, l->t, next, 1, MPI_COMM_WORLD, &sq);
  MPI_Recv(packed, n, MPI_BYTE, prev, 1, MPI_COMM_WORLD, &st);
  MPI_Wait(&sq, MPI_STATUS_IGNORE);
  buffer theirs = alloc_for(l, c);
  fill(&theirs, prev);
  ref_pack(l, theirs.base, c, want);
  CHECK(memcmp(packed, want, n) == 0, "%s: MPI_Send packs the blocks", l->name);

  /* MPI_Recv into the type */
  ref_pack(l, mine.base, c, packed);
  MPI_Isend(packed, n, MPI_BYTE, next, 2, MPI_COMM_WORLD, &sq);
  fill(&got, 99);
  MPI_Recv(got.base, c, l->t, prev, 2, MPI_COMM_WORLD, &st);
  MPI_Wait(&sq, MPI_STATUS_IGNORE);
  buffer w = expected(l, c, prev, n, 99);
  CHECK(same(&got, &w), "%s: MPI_Recv unpacks into the blocks, gaps untouched", l->name);
  MPI_Get_count(&st, l->t, &k);
  CHECK(k == c, "%s: Get_count %d, want %d", l->name, k, c);
  MPI_Get_elements(&st, l->t, &k);
  CHECK(k == c * l->basics, "%s: Get_elements %d, want %d", l->name, k, c * l->basics);
  free(w.mem);

  /* Sendrecv, the type on both sides */
  fill(&got, 98);
  MPI_Sendrecv(mine.base, c, l->t, next, 3, got.base, c, l->t, prev, 3, MPI_COMM_WORLD, &st);
  w = expected(l, c, prev, n, 98);
  CHECK(same(&got, &w), "%s: Sendrecv", l->name);
  free(w.mem);

  /* Sendrecv, packed bytes into the type (a dense send view lent before the receive unpacks) */
  fill(&got, 97);
  MPI_Sendrecv(packed, n, MPI_BYTE, next, 4, got.base, c, l->t, prev, 4, MPI_COMM_WORLD, &st);
  w = expected(l, c, prev, n, 97);
  CHECK(same(&got, &w), "%s: Sendrecv bytes into the type", l->name);
  free(w.mem);

  /* Isend / Irecv */
  MPI_Request r[2];
  fill(&got, 96);
  MPI_Irecv(got.base, c, l->t, prev, 5, MPI_COMM_WORLD, &r[0]);
  MPI_Isend(mine.base, c, l->t, next, 5, MPI_COMM_WORLD, &r[1]);
  MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
  w = expected(l, c, prev, n, 96);
  CHECK(same(&got, &w), "%s: Isend/Irecv", l->name);
  free(w.mem);

  /* MPI_Pack / MPI_Unpack */
  int pos = 0;
  MPI_Pack(mine.base, c, l->t, packed, n + 16, &pos, MPI_COMM_WORLD);
  ref_pack(l, mine.base, c, want);
  CHECK(pos == n && memcmp(packed, want, n) == 0, "%s: MPI_Pack", l->name);
  fill(&got, 95);
  pos = 0;
  MPI_Unpack(packed, n, &pos, got.base, c, l->t, MPI_COMM_WORLD);
  w = expected(l, c, rank, n, 95);
  CHECK(pos == n && same(&got, &w), "%s: MPI_Unpack", l->name);
  free(w.mem);

  free(theirs.mem);
  free(mine.mem);
  free(got.mem);
  free(packed);
  free(want);
}

/* Shorter messages than the buffer (ending inside an element, on a basic
 * element or inside one), and longer ones (MPI_ERR_TRUNCATE). */
static void short_and_truncated(const layout *l) {
  int n = packed_size(l), c = l->count;
  buffer mine = alloc_for(l, c), got = alloc_for(l, c);
  fill(&mine, rank);
  char *packed = malloc(n + 16);
  ref_pack(l, mine.base, c, packed);
  MPI_Status st;
  MPI_Request sq;
  int k;
  for (int blocking = 0; blocking < 2; blocking++) {
    /* ends on the last basic element's boundary */
    int bytes = n - l->last;
    fill(&got, 90);
    MPI_Isend(packed, bytes, MPI_BYTE, next, 10, MPI_COMM_WORLD, &sq);
    if (blocking) {
      MPI_Recv(got.base, c, l->t, prev, 10, MPI_COMM_WORLD, &st);
    } else {
      MPI_Request r;
      MPI_Irecv(got.base, c, l->t, prev, 10, MPI_COMM_WORLD, &r);
      MPI_Wait(&r, &st);
    }
    MPI_Wait(&sq, MPI_STATUS_IGNORE);
    buffer w = expected(l, c, prev, bytes, 90);
    CHECK(same(&got, &w), "%s: short message (%s)", l->name, blocking ? "Recv" : "Irecv");
    free(w.mem);
    MPI_Get_count(&st, l->t, &k);
    CHECK(k == MPI_UNDEFINED, "%s: Get_count of a partial element: %d", l->name, k);
    MPI_Get_elements(&st, l->t, &k);
    CHECK(k == c * l->basics - 1, "%s: Get_elements of a short message: %d, want %d", l->name, k, c * l->basics - 1);

    /* ends inside a basic element (and so inside a block) */
    bytes = n - 1;
    fill(&got, 91);
    MPI_Isend(packed, bytes, MPI_BYTE, next, 11, MPI_COMM_WORLD, &sq);
    MPI_Recv(got.base, c, l->t, prev, 11, MPI_COMM_WORLD, &st);
    MPI_Wait(&sq, MPI_STATUS_IGNORE);
    w = expected(l, c, prev, bytes, 91);
    CHECK(same(&got, &w), "%s: message ending inside a block", l->name);
    free(w.mem);
    MPI_Get_elements(&st, l->t, &k);
    CHECK(k == MPI_UNDEFINED, "%s: Get_elements inside a basic element: %d", l->name, k);

    /* one byte more than fits */
    int err, tag = 12 + blocking;
    char *big = malloc(n + 1);
    memcpy(big, packed, n);
    big[n] = 1;
    MPI_Isend(big, n + 1, MPI_BYTE, next, tag, MPI_COMM_WORLD, &sq);
    if (blocking) {
      err = MPI_Recv(got.base, c, l->t, prev, tag, MPI_COMM_WORLD, &st);
    } else {
      MPI_Request r;
      MPI_Irecv(got.base, c, l->t, prev, tag, MPI_COMM_WORLD, &r);
      err = MPI_Wait(&r, &st);
    }
    MPI_Wait(&sq, MPI_STATUS_IGNORE);
    int cls = MPI_SUCCESS;
    MPI_Error_class(err, &cls);
    CHECK(cls == MPI_ERR_TRUNCATE, "%s: %s of one byte too many: error class %d", l->name, blocking ? "Recv" : "Irecv", cls);
    free(big);
  }
  free(mine.mem);
  free(got.mem);
  free(packed);
}

/* Bcast, Allgather and Alltoall through the type. */
static void collectives(const layout *l) {
  int n = packed_size(l), c = l->count;
  buffer b = alloc_for(l, c);
  fill(&b, rank == 0 ? 0 : 50 + rank);
  MPI_Bcast(b.base, c, l->t, 0, MPI_COMM_WORLD);
  buffer w = expected(l, c, 0, n, rank == 0 ? 0 : 50 + rank);
  CHECK(same(&b, &w), "%s: Bcast", l->name);
  free(w.mem);
  free(b.mem);

  /* Allgather: size blocks of c elements, each from its rank */
  buffer mine = alloc_for(l, c), all = alloc_for(l, c * size);
  fill(&mine, rank);
  fill(&all, 77);
  MPI_Allgather(mine.base, c, l->t, all.base, c, l->t, MPI_COMM_WORLD);
  buffer want = alloc_for(l, c * size);
  fill(&want, 77);
  for (int r = 0; r < size; r++) {
    buffer src = alloc_for(l, c);
    fill(&src, r);
    char *p = malloc(n);
    ref_pack(l, src.base, c, p);
    ref_unpack(l, p, n, want.base + (long)r * c * l->ext, c);
    free(p);
    free(src.mem);
  }
  CHECK(same(&all, &want), "%s: Allgather", l->name);

  /* Alltoall: the same data back (each rank sends block r to rank r) */
  buffer out = alloc_for(l, c * size);
  fill(&out, 78);
  MPI_Alltoall(all.base, c, l->t, out.base, c, l->t, MPI_COMM_WORLD);
  buffer want2 = alloc_for(l, c * size);
  fill(&want2, 78);
  for (int r = 0; r < size; r++) {
    /* rank r sent me its block `rank`, which is what rank `rank` contributed to r's Allgather */
    char *p = malloc(n);
    ref_pack(l, mine.base, c, p);
    ref_unpack(l, p, n, want2.base + (long)r * c * l->ext, c);
    free(p);
  }
  CHECK(same(&out, &want2), "%s: Alltoall", l->name);
  free(mine.mem);
  free(all.mem);
  free(want.mem);
  free(out.mem);
  free(want2.mem);
}

static void run(layout *l) {
  MPI_Type_commit(&l->t);
  int sz;
  MPI_Aint lb, ext;
  MPI_Type_size(l->t, &sz);
  MPI_Type_get_extent(l->t, &lb, &ext);
  CHECK(sz * l->count == packed_size(l) && ext == l->ext, "%s: size %d extent %ld, want %d %ld", l->name, sz, (long)ext, packed_size(l) / l->count, (long)l->ext);
  p2p(l);
  short_and_truncated(l);
  collectives(l);
  if (l->t != MPI_SHORT_INT) MPI_Type_free(&l->t);
  free(l->off);
  free(l->len);
}

typedef struct { char c; double d; int n[2]; } rec;

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  next = (rank + 1) % size;
  prev = (rank + size - 1) % size;

  /* indexed ints, irregular: 300 blocks of 1-3 ints (the kernel), and 3 blocks (JS) */
  for (int big = 0; big < 2; big++) {
    int nb = big ? 300 : 3, at = 0;
    int *bl = malloc(nb * sizeof(int)), *dis = malloc(nb * sizeof(int));
    layout l = make(big ? "indexed 300" : "indexed 3", MPI_DATATYPE_NULL, 2, nb, 0, 4);
    for (int i = 0; i < nb; i++) {
      bl[i] = 1 + i % 3;
      dis[i] = at;
      l.off[i] = 4 * at;
      l.len[i] = 4 * bl[i];
      l.basics += bl[i];
      at += bl[i] + 1 + i % 4;
    }
    l.ext = 4 * (dis[nb - 1] + bl[nb - 1]);
    MPI_Type_indexed(nb, bl, dis, MPI_INT, &l.t);
    run(&l);
    free(bl);
    free(dis);
  }

  /* hindexed doubles at descending, partly negative displacements: 100 blocks */
  {
    int nb = 100;
    int *bl = malloc(nb * sizeof(int));
    MPI_Aint *dis = malloc(nb * sizeof(MPI_Aint));
    layout l = make("hindexed negative", MPI_DATATYPE_NULL, 3, nb, nb, 8);
    for (int i = 0; i < nb; i++) {
      bl[i] = 1;
      dis[i] = 800 - 24 * i - (i % 2) * 4;
      l.off[i] = (int)dis[i];
      l.len[i] = 8;
    }
    /* lb is the lowest displacement, ub the highest end (800 + 8) */
    l.ext = 808 - dis[nb - 1];
    MPI_Type_create_hindexed(nb, bl, dis, MPI_DOUBLE, &l.t);
#ifndef __EMSCRIPTEN__
    /* Doubles at addresses 4 mod 8: whether the extent is padded to their
     * alignment is the implementation's (§4.1.6; fmi pads structs only, Open
     * MPI says 2784): the extent is set here, so the layout is the same. */
    MPI_Datatype raw = l.t;
    MPI_Type_create_resized(raw, dis[nb - 1], l.ext, &l.t);
    MPI_Type_free(&raw);
#endif
    run(&l);
    free(bl);
    free(dis);
  }

  /* struct { char c; double d; int n[2]; }: 200 records (600 blocks) and 2 */
  for (int big = 0; big < 2; big++) {
    int bl[3] = {1, 1, 2};
    MPI_Aint dis[3] = {offsetof(rec, c), offsetof(rec, d), offsetof(rec, n)};
    MPI_Datatype tys[3] = {MPI_CHAR, MPI_DOUBLE, MPI_INT};
    layout l = make(big ? "struct x200" : "struct x2", MPI_DATATYPE_NULL, big ? 200 : 2, 3, 4, 4);
    l.off[0] = 0, l.len[0] = 1, l.off[1] = 8, l.len[1] = 8, l.off[2] = 16, l.len[2] = 8;
    l.ext = sizeof(rec);
    MPI_Type_create_struct(3, bl, dis, tys, &l.t);
    run(&l);
  }

  /* resized struct with a negative displacement and lower bound: a double at
   * -16 and an int at 4, elements 32 bytes apart; 40 elements (80 blocks) */
  {
    int bl[2] = {1, 1};
    MPI_Aint dis[2] = {-16, 4};
    MPI_Datatype tys[2] = {MPI_DOUBLE, MPI_INT}, s;
    MPI_Type_create_struct(2, bl, dis, tys, &s);
    layout l = make("resized negative lb", MPI_DATATYPE_NULL, 40, 2, 2, 4);
    l.off[0] = -16, l.len[0] = 8, l.off[1] = 4, l.len[1] = 4;
    l.ext = 32;
    MPI_Type_create_resized(s, -16, 32, &l.t);
    MPI_Type_free(&s);
    run(&l);
  }

  /* subarray: a 3x4x5 block at (1,2,3) of a 6x7x8 array of doubles (12 rows
   * of 40 bytes, not evenly strided), 2 arrays; and a 2x2 of 4x4 ints in
   * Fortran order (2 blocks) */
  {
    int sizes[3] = {6, 7, 8}, subs[3] = {3, 4, 5}, starts[3] = {1, 2, 3};
    layout l = make("subarray 3-D", MPI_DATATYPE_NULL, 2, 12, 60, 8);
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 4; j++) {
        l.off[i * 4 + j] = 8 * (((1 + i) * 7 + 2 + j) * 8 + 3);
        l.len[i * 4 + j] = 40;
      }
    l.ext = 6 * 7 * 8 * 8;
    MPI_Type_create_subarray(3, sizes, subs, starts, MPI_ORDER_C, MPI_DOUBLE, &l.t);
    run(&l);
    int fs[2] = {4, 4}, fsub[2] = {2, 2}, fst[2] = {1, 1};
    layout f = make("subarray Fortran 2x2", MPI_DATATYPE_NULL, 3, 2, 4, 4);
    f.off[0] = 4 * 5, f.len[0] = 8, f.off[1] = 4 * 9, f.len[1] = 8;
    f.ext = 64;
    MPI_Type_create_subarray(2, fs, fsub, fst, MPI_ORDER_FORTRAN, MPI_INT, &f.t);
    run(&f);
  }

  /* vector (the strided kernel) and an hvector with a negative stride */
  {
    layout l = make("vector 50x2/3", MPI_DATATYPE_NULL, 2, 50, 100, 4);
    for (int i = 0; i < 50; i++) l.off[i] = 12 * i, l.len[i] = 8;
    l.ext = 12 * 49 + 8;
    MPI_Type_vector(50, 2, 3, MPI_INT, &l.t);
    run(&l);
    layout h = make("hvector stride -16", MPI_DATATYPE_NULL, 2, 64, 64, 8);
    for (int i = 0; i < 64; i++) h.off[i] = -16 * i, h.len[i] = 8;
    h.ext = 16 * 63 + 8;
    MPI_Type_create_hvector(64, 1, -16, MPI_DOUBLE, &h.t);
    run(&h);
  }

#ifdef __EMSCRIPTEN__
  /* MPI_SHORT_INT (value at 0, int at 4: 2 blocks), 100 of them: a predefined
   * type's table. Its MPI_Get_elements counts 2 per pair here (§5.9.4 defines
   * it as a struct of two); Open MPI counts 1: fmi only. */
  {
    layout l = make("MPI_SHORT_INT x100", MPI_SHORT_INT, 100, 2, 2, 4);
    l.off[0] = 0, l.len[0] = 2, l.off[1] = 4, l.len[1] = 4;
    l.ext = 8;
    run(&l);
  }
#endif

  /* A receive whose scratch space and block table (fresh, 2 MiB + 1 MiB)
   * grow the memory in MPI_Sendrecv, whose dense send is a view of it: they
   * must be allocated before the view is lent. */
  {
    int nb = 256 * 1024;
    int *bl = malloc(nb * sizeof(int)), *dis = malloc(nb * sizeof(int));
    for (int i = 0; i < nb; i++) bl[i] = 1, dis[i] = 2 * i + (i & 1);
    MPI_Datatype t;
    MPI_Type_indexed(nb, bl, dis, MPI_INT, &t);
    MPI_Type_commit(&t);
    int *packed = malloc(nb * sizeof(int)), *got = malloc(2 * nb * sizeof(int) + 8);
    for (int i = 0; i < nb; i++) packed[i] = rank * 1000000 + i;
    for (int i = 0; i < 2 * nb + 2; i++) got[i] = -1;
#ifdef __EMSCRIPTEN__
    /* Use up the memory above the break, so the runtime's mallocs must grow it. */
    size_t top = (size_t)sbrk(0), end = (size_t)__builtin_wasm_memory_size(0) * 65536;
    void *filler = end - top > 65536 ? malloc(end - top - 65536) : NULL;
    size_t pages = __builtin_wasm_memory_size(0);
    MPI_Sendrecv(packed, nb, MPI_INT, next, 50, got, 1, t, prev, 50, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    CHECK(__builtin_wasm_memory_size(0) > pages, "the memory did not grow (%zu pages): this case tests nothing", pages);
#else
    MPI_Sendrecv(packed, nb, MPI_INT, next, 50, got, 1, t, prev, 50, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
#endif
    int bad = 0;
    for (int i = 0; i < nb; i++) bad += got[dis[i]] != prev * 1000000 + i;
    CHECK(bad == 0 && got[1] == -1 && got[2 * nb + 1] == -1, "Sendrecv into a type whose tables grow the memory: %d wrong", bad);
#ifdef __EMSCRIPTEN__
    free(filler);
#endif
    MPI_Type_free(&t);
    free(bl);
    free(dis);
    free(packed);
    free(got);
  }

#ifdef __EMSCRIPTEN__
  /* Allreduce over an indexed type of ints (packed, reduced, unpacked): a
   * predefined op on a derived type is fmi's extension (MPI 3.1 §5.9.2 lists
   * predefined types only; Open MPI refuses it). */
  {
    int bl[20], dis[20];
    for (int i = 0; i < 20; i++) bl[i] = 1 + i % 2, dis[i] = 3 * i;
    MPI_Datatype t;
    MPI_Type_indexed(20, bl, dis, MPI_INT, &t);
    MPI_Type_commit(&t);
    int in[2 * 60], out[2 * 60];
    for (int i = 0; i < 120; i++) in[i] = rank + i, out[i] = -1;
    MPI_Aint lb, ext;
    MPI_Type_get_extent(t, &lb, &ext);
    MPI_Allreduce(in, out, 2, t, MPI_SUM, MPI_COMM_WORLD);
    int bad = 0;
    for (int e = 0; e < 2; e++)
      for (int i = 0; i < 20; i++)
        for (int j = 0; j < bl[i]; j++) {
          int at = e * (int)(ext / 4) + dis[i] + j;
          if (out[at] != size * at + size * (size - 1) / 2) bad++;
        }
    CHECK(bad == 0 && out[2] == -1, "Allreduce over an indexed type: %d wrong", bad);
    MPI_Type_free(&t);
  }
#endif
  return finish("derived");
}
