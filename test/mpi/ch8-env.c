/* MPI 3.1 chapter 8, the environment, what errors.c and handles.c leave
 * out, from the text:
 * - §8.1: Get_version is MPI_VERSION.MPI_SUBVERSION; Get_library_version
 *   and Get_processor_name fit their maximum lengths;
 * - §8.6: Wtime does not go back, Wtick is positive;
 * - §8.7: Init_thread's provided level is one of the four, Query_thread
 *   says the same, the calling thread is the main one; Initialized before
 *   and after Init, Finalized after Finalize only (checked after it);
 * - §8.2: Alloc_mem memory is usable and freed by Free_mem;
 * - §8.3: a new communicator takes its parent's error handler;
 *   MPI_COMM_SELF has its own handler;
 * - §8.5: Add_error_class/_code raise MPI_LASTUSEDCODE; codes carry their
 *   class and string;
 * - §14.2.3: Pcontrol is accepted at any level. */
#include "check.h"
#include <stdlib.h>
#include <string.h>

static int rank, size, handled = 0;

static void count_errors(MPI_Comm *c, int *code, ...) {
  (void)c, (void)code;
  handled++;
}

int main(int argc, char **argv) {
  int flag = 1, provided = -1, claimed = -1;
  MPI_Initialized(&flag);
  CHECK(!flag, "Initialized before MPI_Init_thread");
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Initialized(&flag);
  CHECK(flag, "Initialized after MPI_Init_thread");
  MPI_Finalized(&flag);
  CHECK(!flag, "Finalized before MPI_Finalize");
  CHECK(provided == MPI_THREAD_SINGLE || provided == MPI_THREAD_FUNNELED || provided == MPI_THREAD_SERIALIZED || provided == MPI_THREAD_MULTIPLE, "provided %d", provided);
  CHECK(MPI_THREAD_SINGLE < MPI_THREAD_FUNNELED && MPI_THREAD_FUNNELED < MPI_THREAD_SERIALIZED && MPI_THREAD_SERIALIZED < MPI_THREAD_MULTIPLE, "thread levels are ordered");
  MPI_Query_thread(&claimed);
  CHECK(claimed == provided, "Query_thread %d, Init_thread gave %d", claimed, provided);
  MPI_Is_thread_main(&flag);
  CHECK(flag, "Is_thread_main");

  int version = 0, subversion = -1, len = -1;
  MPI_Get_version(&version, &subversion);
  CHECK(version == MPI_VERSION && subversion == MPI_SUBVERSION && version >= 3, "Get_version %d.%d", version, subversion);
  char lib[MPI_MAX_LIBRARY_VERSION_STRING], host[MPI_MAX_PROCESSOR_NAME];
  MPI_Get_library_version(lib, &len);
  /* (Open MPI counts the terminating newline and NUL in len) */
  CHECK(len > 0 && len <= MPI_MAX_LIBRARY_VERSION_STRING && strlen(lib) > 0 && (int)strlen(lib) <= len, "Get_library_version: %d", len);
  MPI_Get_processor_name(host, &len);
  CHECK(len > 0 && len < MPI_MAX_PROCESSOR_NAME && (int)strlen(host) == len, "Get_processor_name: %d", len);

  double t0 = MPI_Wtime(), t1 = t0, tick = MPI_Wtick();
  for (int k = 0; k < 1000; k++) {
    double t = MPI_Wtime();
    CHECK(t >= t1, "MPI_Wtime went back");
    t1 = t;
  }
  CHECK(tick > 0 && tick < 1, "Wtick %g", tick);

  /* §8.2 */
  double *mem = NULL;
  MPI_Alloc_mem(1000 * sizeof(double), MPI_INFO_NULL, &mem);
  CHECK(mem != NULL, "Alloc_mem");
  for (int k = 0; k < 1000; k++) mem[k] = k;
  double sum = 0;
  MPI_Allreduce(&mem[rank % 1000], &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  CHECK(sum == size * (size - 1) / 2.0, "Alloc_mem memory in a collective");
  MPI_Free_mem(mem);

  /* §8.3: handlers are inherited by new communicators. */
  MPI_Errhandler mine, got;
  MPI_Comm_create_errhandler(count_errors, &mine);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, mine);
  MPI_Comm dup, split;
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &split);
  int v = 0, rc;
  rc = MPI_Send(&v, 1, MPI_INT, size + 5, 0, dup);
  CHECK(handled == 1 && rc != MPI_SUCCESS, "Comm_dup inherits the handler: %d calls", handled);
  rc = MPI_Send(&v, 1, MPI_INT, size + 5, 0, split);
  CHECK(handled == 2 && rc != MPI_SUCCESS, "Comm_split inherits the handler: %d calls", handled);
  MPI_Comm_get_errhandler(dup, &got);
  CHECK(got != MPI_ERRHANDLER_NULL && got != MPI_ERRORS_ARE_FATAL && got != MPI_ERRORS_RETURN, "Comm_get_errhandler of the inherited handler");
  /* (freeing got as well, as §8.3.4 asks, is ch8-errhandler.c's case) */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Errhandler_free(&mine);
  CHECK(mine == MPI_ERRHANDLER_NULL, "Errhandler_free sets MPI_ERRHANDLER_NULL");
  MPI_Comm_free(&dup);
  MPI_Comm_free(&split);
  MPI_Comm_get_errhandler(MPI_COMM_SELF, &got);
  CHECK(got == MPI_ERRORS_ARE_FATAL, "MPI_COMM_SELF keeps its own handler");
  MPI_Errhandler_free(&got);
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
  rc = MPI_Send(&v, 1, MPI_INT, 1, 0, MPI_COMM_SELF);
  int cls = -1;
  MPI_Error_class(rc, &cls);
  CHECK(cls == MPI_ERR_RANK && handled == 2, "MPI_COMM_SELF's handler, not the world's: class %d", cls);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

  /* §8.5: user error classes and codes. */
  int *last = NULL, before, myclass, code1, code2;
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_LASTUSEDCODE, &last, &flag);
  CHECK(flag && *last >= MPI_ERR_LASTCODE, "MPI_LASTUSEDCODE %d", flag ? *last : -1);
  before = flag ? *last : 0;
  MPI_Add_error_class(&myclass);
  MPI_Add_error_code(myclass, &code1);
  MPI_Add_error_code(myclass, &code2);
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_LASTUSEDCODE, &last, &flag);
  CHECK(flag && *last >= code1 && *last >= code2 && *last > before, "MPI_LASTUSEDCODE after adding: %d", *last);
  CHECK(myclass > MPI_ERR_LASTCODE && code1 != code2 && code1 != myclass, "new class %d codes %d %d", myclass, code1, code2);
  MPI_Add_error_string(code2, "second code");
  char msg[MPI_MAX_ERROR_STRING];
  MPI_Error_string(code2, msg, &len);
  MPI_Error_class(code2, &cls);
  CHECK(strcmp(msg, "second code") == 0 && cls == myclass, "code %d: class %d '%s'", code2, cls, msg);
  MPI_Comm_call_errhandler(MPI_COMM_WORLD, code1);

  /* §14.2.3 */
  CHECK(MPI_Pcontrol(0) == MPI_SUCCESS && MPI_Pcontrol(2) == MPI_SUCCESS && MPI_Pcontrol(1) == MPI_SUCCESS, "Pcontrol");

  int rcode = finish("ch8-env");
  MPI_Finalized(&flag);
  if (!flag) printf("FAIL rank %d: MPI_Finalized is false after MPI_Finalize\n", rank), rcode = 1;
  MPI_Initialized(&flag);
  if (!flag) printf("FAIL rank %d: MPI_Initialized is false after MPI_Finalize\n", rank), rcode = 1;
  return rcode;
}
