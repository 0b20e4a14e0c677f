/* MPI 3.1 chapter 6, groups, communicators and attributes, what comm.c,
 * intercomm.c and handles.c leave out, from the text:
 * - §6.3: group constructors keep the order the text gives them (union:
 *   the first group, then the second's others; range_incl strides, negative
 *   ones too); translate_ranks maps MPI_PROC_NULL to itself and absent ranks
 *   to MPI_UNDEFINED; empty results compare MPI_IDENT to MPI_GROUP_EMPTY;
 * - §6.4: Comm_compare IDENT/CONGRUENT/SIMILAR/UNEQUAL; Comm_split orders
 *   by key then old rank, MPI_UNDEFINED gives MPI_COMM_NULL; Comm_create on
 *   ranks outside the group gives MPI_COMM_NULL; Comm_dup_with_info and the
 *   info calls; Comm_dup does not copy the name;
 * - §6.7: copy callbacks decide per attribute whether Comm_dup copies it
 *   (MPI_COMM_NULL_COPY_FN, MPI_COMM_DUP_FN, a flag of 0); setting an
 *   attribute again deletes the old value first; Comm_free deletes every
 *   attribute; the MPI-1 Keyval_create/Attr_put/Attr_get/Attr_delete. */
#include "check.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;
static int deleted[8], ndeleted = 0, copied = 0;

static int on_delete(MPI_Comm c, int key, void *val, void *extra) {
  (void)c, (void)key, (void)extra;
  if (ndeleted < 8) deleted[ndeleted] = (int)(intptr_t)val;
  ndeleted++;
  return MPI_SUCCESS;
}

/* Copies the value plus 1, or (extra != NULL) declines to copy. */
static int on_copy(MPI_Comm c, int key, void *extra, void *in, void *out, int *flag) {
  (void)c, (void)key;
  copied++;
  if (extra) {
    *flag = 0;
    return MPI_SUCCESS;
  }
  *(void **)out = (void *)((intptr_t)in + 1);
  *flag = 1;
  return MPI_SUCCESS;
}

static void groups(void) {
  MPI_Group world, evens, odds, u, r, x, empty;
  MPI_Comm_group(MPI_COMM_WORLD, &world);
  int ranges[1][3] = {{0, size - 1, 2}};
  MPI_Group_range_incl(world, 1, ranges, &evens);
  MPI_Group_difference(world, evens, &odds);
  int ne, no;
  MPI_Group_size(evens, &ne);
  MPI_Group_size(odds, &no);
  CHECK(ne == (size + 1) / 2 && no == size / 2, "evens %d odds %d", ne, no);
  /* union: the first group's ranks, then the second's others, in its order */
  MPI_Group_union(odds, world, &u);
  int gsize, w0, got;
  MPI_Group_size(u, &gsize);
  CHECK(gsize == size, "union size %d", gsize);
  if (size > 1) {
    int zero = 0;
    MPI_Group_translate_ranks(u, 1, &zero, world, &got);
    CHECK(got == 1, "union starts with the first group: rank 0 is world rank %d", got);
    MPI_Group_translate_ranks(u, 1, &no, world, &got);
    CHECK(got == 0, "then the second group's others in its order: rank %d is world %d", no, got);
  }
  /* translate: PROC_NULL to itself, absent ranks to MPI_UNDEFINED */
  int in[2] = {MPI_PROC_NULL, 0}, out[2] = {0, 0};
  if (size > 1) {
    in[1] = 1; /* world rank 1 is odd: not in evens */
    MPI_Group_translate_ranks(world, 2, in, evens, out);
    CHECK(out[0] == MPI_PROC_NULL && out[1] == MPI_UNDEFINED, "translate_ranks: %d %d", out[0], out[1]);
  }
  /* a negative stride: size-1 down to 0 */
  int back[1][3] = {{size - 1, 0, -1}};
  MPI_Group_range_incl(world, 1, back, &r);
  w0 = 0;
  MPI_Group_translate_ranks(r, 1, &w0, world, &got);
  CHECK(got == size - 1, "range with a negative stride starts at %d", got);
  int cmp;
  MPI_Group_compare(r, world, &cmp);
  CHECK(cmp == (size == 1 ? MPI_IDENT : MPI_SIMILAR), "reversed world compares %d", cmp);
  /* empty results */
  MPI_Group_intersection(evens, odds, &x);
  MPI_Group_compare(x, MPI_GROUP_EMPTY, &cmp);
  CHECK(cmp == MPI_IDENT, "empty intersection compares %d to MPI_GROUP_EMPTY", cmp);
  MPI_Group_excl(world, 0, NULL, &empty);
  MPI_Group_compare(empty, world, &cmp);
  CHECK(cmp == MPI_IDENT, "excl of nothing is the group");
  int me = -1;
  MPI_Group_rank(rank % 2 ? evens : odds, &me);
  CHECK(me == MPI_UNDEFINED, "Group_rank outside the group: %d", me);
  MPI_Group_free(&world), MPI_Group_free(&evens), MPI_Group_free(&odds);
  MPI_Group_free(&u), MPI_Group_free(&r), MPI_Group_free(&x), MPI_Group_free(&empty);
  CHECK(world == MPI_GROUP_NULL, "Group_free sets MPI_GROUP_NULL");
}

static void comms(void) {
  int cmp, n, me;
  MPI_Comm dup, rev, half, none;
  MPI_Comm_set_name(MPI_COMM_WORLD, "my world");
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  MPI_Comm_compare(dup, MPI_COMM_WORLD, &cmp);
  CHECK(cmp == MPI_CONGRUENT, "dup compares %d", cmp);
  MPI_Comm_compare(MPI_COMM_WORLD, MPI_COMM_WORLD, &cmp);
  CHECK(cmp == MPI_IDENT, "world compares %d to itself", cmp);
  char name[MPI_MAX_OBJECT_NAME];
  int len;
  MPI_Comm_get_name(dup, name, &len);
  CHECK(len == 0 && name[0] == 0, "Comm_dup does not copy the name (§6.8): '%s'", name);
  MPI_Comm_set_name(MPI_COMM_WORLD, "MPI_COMM_WORLD");
  /* split by one color, keys reversed: ranks in reverse order */
  MPI_Comm_split(MPI_COMM_WORLD, 0, size - rank, &rev);
  MPI_Comm_rank(rev, &me);
  CHECK(me == size - 1 - rank, "split by key: rank %d", me);
  MPI_Comm_compare(rev, MPI_COMM_WORLD, &cmp);
  CHECK(cmp == (size == 1 ? MPI_CONGRUENT : MPI_SIMILAR), "reversed compares %d", cmp);
  /* equal keys: old rank order; MPI_UNDEFINED: no communicator */
  MPI_Comm_split(MPI_COMM_WORLD, rank % 3 == 2 ? MPI_UNDEFINED : rank % 3, 7, &half);
  if (rank % 3 == 2) {
    CHECK(half == MPI_COMM_NULL, "MPI_UNDEFINED color gives MPI_COMM_NULL");
  } else {
    MPI_Comm_rank(half, &me);
    MPI_Comm_size(half, &n);
    CHECK(me == rank / 3 && n == (size - rank % 3 + 2) / 3, "split with equal keys: rank %d of %d", me, n);
    MPI_Comm_compare(half, MPI_COMM_WORLD, &cmp);
    CHECK(cmp == (n == size ? MPI_CONGRUENT : MPI_UNEQUAL), "a part compares %d", cmp);
    MPI_Comm_free(&half);
  }
  /* Comm_create with the group of rank 0 only */
  MPI_Group world, first;
  MPI_Comm_group(MPI_COMM_WORLD, &world);
  int zero = 0;
  MPI_Group_incl(world, 1, &zero, &first);
  MPI_Comm_create(MPI_COMM_WORLD, first, &none);
  if (rank == 0) {
    MPI_Comm_size(none, &n);
    CHECK(n == 1, "Comm_create of rank 0's group: size %d", n);
    MPI_Comm_free(&none);
  } else {
    CHECK(none == MPI_COMM_NULL, "Comm_create outside the group gives MPI_COMM_NULL");
  }
  MPI_Group_free(&first), MPI_Group_free(&world);
  /* info */
  MPI_Info info, got;
  MPI_Comm dinfo;
  MPI_Info_create(&info);
  MPI_Info_set(info, "fmi_test_hint", "yes");
  MPI_Comm_dup_with_info(MPI_COMM_WORLD, info, &dinfo);
  MPI_Comm_compare(dinfo, MPI_COMM_WORLD, &cmp);
  CHECK(cmp == MPI_CONGRUENT, "Comm_dup_with_info compares %d", cmp);
  MPI_Comm_set_info(dinfo, info);
  MPI_Comm_get_info(dinfo, &got);
  CHECK(got != MPI_INFO_NULL, "Comm_get_info gives an info object");
  int nkeys = -1;
  MPI_Info_get_nkeys(got, &nkeys);
  CHECK(nkeys >= 0, "its keys: %d", nkeys);
  MPI_Info_free(&got);
  MPI_Info_free(&info);
  int s = 0;
  MPI_Allreduce(&rank, &s, 1, MPI_INT, MPI_SUM, dinfo);
  CHECK(s == size * (size - 1) / 2, "a collective on the new communicator");
  MPI_Comm_free(&dinfo);
  MPI_Comm_free(&rev);
  MPI_Comm_free(&dup);
  CHECK(dup == MPI_COMM_NULL, "Comm_free sets MPI_COMM_NULL");
}

static void attributes(void) {
  int knull, kdup, kmine, kno, flag;
  void *val;
  MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, on_delete, &knull, NULL);
  MPI_Comm_create_keyval(MPI_COMM_DUP_FN, on_delete, &kdup, NULL);
  MPI_Comm_create_keyval(on_copy, on_delete, &kmine, NULL);
  MPI_Comm_create_keyval(on_copy, on_delete, &kno, &kno);
  MPI_Comm c;
  MPI_Comm_dup(MPI_COMM_WORLD, &c);
  MPI_Comm_set_attr(c, knull, (void *)(intptr_t)10);
  MPI_Comm_set_attr(c, kdup, (void *)(intptr_t)20);
  MPI_Comm_set_attr(c, kmine, (void *)(intptr_t)30);
  MPI_Comm_set_attr(c, kno, (void *)(intptr_t)40);
  /* setting again: the delete callback sees the old value */
  ndeleted = 0;
  MPI_Comm_set_attr(c, kdup, (void *)(intptr_t)21);
  CHECK(ndeleted == 1 && deleted[0] == 20, "setting an attribute again deletes the old value: %d calls, %d", ndeleted, deleted[0]);
  MPI_Comm d;
  copied = 0;
  MPI_Comm_dup(c, &d);
  CHECK(copied == 2, "the user copy callback ran %d times, want 2", copied);
  MPI_Comm_get_attr(d, knull, &val, &flag);
  CHECK(!flag, "MPI_COMM_NULL_COPY_FN: not copied");
  MPI_Comm_get_attr(d, kdup, &val, &flag);
  CHECK(flag && (intptr_t)val == 21, "MPI_COMM_DUP_FN: copied as is");
  MPI_Comm_get_attr(d, kmine, &val, &flag);
  CHECK(flag && (intptr_t)val == 31, "the copy callback's value: %ld", (long)(intptr_t)val);
  MPI_Comm_get_attr(d, kno, &val, &flag);
  CHECK(!flag, "a copy callback's flag 0: not copied");
  /* Comm_free deletes every attribute (order unspecified): 21 + 31 on d */
  ndeleted = 0;
  MPI_Comm_free(&d);
  CHECK(ndeleted == 2 && deleted[0] + deleted[1] == 52, "Comm_free deleted %d attributes", ndeleted);
  ndeleted = 0;
  MPI_Comm_delete_attr(c, kmine);
  CHECK(ndeleted == 1 && deleted[0] == 30, "Comm_delete_attr");
  MPI_Comm_get_attr(c, kmine, &val, &flag);
  CHECK(!flag, "a deleted attribute is gone");
  ndeleted = 0;
  MPI_Comm_free(&c);
  CHECK(ndeleted == 3, "Comm_free deleted %d attributes, want 3", ndeleted);
  MPI_Comm_free_keyval(&knull);
  MPI_Comm_free_keyval(&kdup);
  MPI_Comm_free_keyval(&kmine);
  MPI_Comm_free_keyval(&kno);
  CHECK(knull == MPI_KEYVAL_INVALID, "Comm_free_keyval sets MPI_KEYVAL_INVALID");

  /* MPI-1 names of the same (§15.2, deprecated but in MPI 3.1's C binding) */
  int old;
  MPI_Keyval_create(MPI_DUP_FN, MPI_NULL_DELETE_FN, &old, NULL);
  int x = 5;
  MPI_Attr_put(MPI_COMM_WORLD, old, &x);
  int *px = NULL;
  MPI_Attr_get(MPI_COMM_WORLD, old, &px, &flag);
  CHECK(flag && px == &x, "Attr_get");
  MPI_Comm_dup(MPI_COMM_WORLD, &c);
  px = NULL;
  MPI_Attr_get(c, old, &px, &flag);
  CHECK(flag && px == &x, "MPI_DUP_FN copies the pointer");
  MPI_Comm_free(&c);
  MPI_Attr_delete(MPI_COMM_WORLD, old);
  MPI_Attr_get(MPI_COMM_WORLD, old, &px, &flag);
  CHECK(!flag, "Attr_delete");
  MPI_Keyval_free(&old);
  CHECK(old == MPI_KEYVAL_INVALID, "Keyval_free");

  /* §8.1.2: predefined attributes of MPI_COMM_WORLD */
  int *tag_ub, *wtg;
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &tag_ub, &flag);
  CHECK(flag && *tag_ub >= 32767, "MPI_TAG_UB %d", flag ? *tag_ub : -1);
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_WTIME_IS_GLOBAL, &wtg, &flag);
  CHECK(!flag || *wtg == 0 || *wtg == 1, "MPI_WTIME_IS_GLOBAL is a boolean");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  groups();
  comms();
  attributes();
  return finish("ch6-comm");
}
