/* MPI_ERRORS_RETURN: errors come back as codes, with classes and strings;
 * a user error handler is called; an unsupported function reports
 * MPI_ERR_UNSUPPORTED_OPERATION instead of crashing. */
#include "check.h"
#include <string.h>

static int handled = 0, handled_code = 0;
static void handler(MPI_Comm *comm, int *code, ...) {
  (void)comm;
  handled++;
  handled_code = *code;
}

int main(int argc, char **argv) {
  int rank, size, rc, cls, len;
  char msg[MPI_MAX_ERROR_STRING];
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Errhandler eh;
  MPI_Comm_get_errhandler(MPI_COMM_WORLD, &eh);
  CHECK(eh == MPI_ERRORS_ARE_FATAL, "the default is MPI_ERRORS_ARE_FATAL");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

  int v = 1;
  rc = MPI_Send(&v, 1, MPI_INT, size + 3, 0, MPI_COMM_WORLD);
  MPI_Error_class(rc, &cls);
  CHECK(cls == MPI_ERR_RANK, "send to a bad rank: class %d", cls);
  MPI_Error_string(rc, msg, &len);
  CHECK(len > 0 && strstr(msg, "MPI_ERR_RANK") != NULL, "Error_string: %s", msg);
  rc = MPI_Send(&v, 1, MPI_INT, 0, -5, MPI_COMM_WORLD);
  CHECK(rc == MPI_ERR_TAG, "negative tag: %d", rc);
  rc = MPI_Send(&v, -1, MPI_INT, 0, 0, MPI_COMM_WORLD);
  CHECK(rc == MPI_ERR_COUNT, "negative count: %d", rc);
  rc = MPI_Send(&v, 1, MPI_DATATYPE_NULL, 0, 0, MPI_COMM_WORLD);
  CHECK(rc == MPI_ERR_TYPE, "null datatype: %d", rc);
  rc = MPI_Barrier(MPI_COMM_NULL);
  CHECK(rc == MPI_ERR_COMM, "null communicator: %d", rc);
  rc = MPI_Bcast(&v, 1, MPI_INT, size, MPI_COMM_WORLD);
  CHECK(rc == MPI_ERR_ROOT, "bad root: %d", rc);
  double d = 1.5, e;
  rc = MPI_Allreduce(&d, &e, 1, MPI_DOUBLE, MPI_BXOR, MPI_COMM_WORLD);
  CHECK(rc == MPI_ERR_OP, "BXOR on doubles: %d", rc);
  MPI_Datatype uncommitted;
  MPI_Type_contiguous(2, MPI_INT, &uncommitted);
  rc = MPI_Send(&v, 1, uncommitted, 0, 0, MPI_COMM_WORLD);
  CHECK(rc == MPI_ERR_TYPE, "uncommitted datatype: %d", rc);
  MPI_Type_free(&uncommitted);

  /* truncation: 4 ints into room for 2 */
  int four[4] = {1, 2, 3, 4}, two[2];
  MPI_Request rq;
  MPI_Isend(four, 4, MPI_INT, rank, 9, MPI_COMM_WORLD, &rq);
  MPI_Status st;
  rc = MPI_Recv(two, 2, MPI_INT, rank, 9, MPI_COMM_WORLD, &st);
  CHECK(rc == MPI_ERR_TRUNCATE, "truncation: %d", rc);
  MPI_Wait(&rq, MPI_STATUS_IGNORE);

  /* Error_class/Error_string of every class MPI 3.1 §8.4 names (Table 8.1):
   * a class is its own class, has a string, and is at most MPI_ERR_LASTCODE. */
  static const int classes[] = {
    MPI_SUCCESS, MPI_ERR_BUFFER, MPI_ERR_COUNT, MPI_ERR_TYPE,
    MPI_ERR_TAG, MPI_ERR_COMM, MPI_ERR_RANK, MPI_ERR_ROOT,
    MPI_ERR_GROUP, MPI_ERR_OP, MPI_ERR_TOPOLOGY, MPI_ERR_DIMS,
    MPI_ERR_ARG, MPI_ERR_UNKNOWN, MPI_ERR_TRUNCATE, MPI_ERR_OTHER,
    MPI_ERR_INTERN, MPI_ERR_IN_STATUS, MPI_ERR_PENDING, MPI_ERR_REQUEST,
    MPI_ERR_ACCESS, MPI_ERR_AMODE, MPI_ERR_BAD_FILE, MPI_ERR_CONVERSION,
    MPI_ERR_DUP_DATAREP, MPI_ERR_FILE_EXISTS, MPI_ERR_FILE_IN_USE, MPI_ERR_FILE,
    MPI_ERR_INFO, MPI_ERR_INFO_KEY, MPI_ERR_INFO_VALUE, MPI_ERR_INFO_NOKEY,
    MPI_ERR_IO, MPI_ERR_NAME, MPI_ERR_NO_MEM, MPI_ERR_NOT_SAME,
    MPI_ERR_NO_SPACE, MPI_ERR_NO_SUCH_FILE, MPI_ERR_PORT, MPI_ERR_QUOTA,
    MPI_ERR_READ_ONLY, MPI_ERR_SERVICE, MPI_ERR_SPAWN, MPI_ERR_UNSUPPORTED_DATAREP,
    MPI_ERR_UNSUPPORTED_OPERATION, MPI_ERR_WIN, MPI_ERR_BASE, MPI_ERR_LOCKTYPE,
    MPI_ERR_KEYVAL, MPI_ERR_RMA_CONFLICT, MPI_ERR_RMA_SYNC, MPI_ERR_SIZE,
    MPI_ERR_DISP, MPI_ERR_ASSERT, MPI_ERR_RMA_RANGE, MPI_ERR_RMA_ATTACH,
    MPI_ERR_RMA_SHARED, MPI_ERR_RMA_FLAVOR,
  };
  for (int k = 0; k < (int)(sizeof classes / sizeof classes[0]); k++) {
    int c = classes[k];
    rc = MPI_Error_string(c, msg, &len);
    MPI_Error_class(c, &cls);
    CHECK(rc == MPI_SUCCESS && cls == c && len > 0 && c <= MPI_ERR_LASTCODE, "class %d", c);
  }
  int mycls, mycode;
  MPI_Add_error_class(&mycls);
  MPI_Add_error_code(mycls, &mycode);
  MPI_Add_error_string(mycode, "my own error");
  MPI_Error_string(mycode, msg, &len);
  MPI_Error_class(mycode, &cls);
  CHECK(strcmp(msg, "my own error") == 0 && cls == mycls, "added error code");

  /* an unsupported function returns its error instead of ending the program */
  MPI_Comm parent = MPI_COMM_WORLD;
#ifdef __EMSCRIPTEN__
  MPI_Comm children;
  rc = MPI_Comm_spawn("worker", MPI_ARGV_NULL, 1, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &children, MPI_ERRCODES_IGNORE);
  /* a code of that class, whose string names the call */
  MPI_Error_class(rc, &cls);
  MPI_Error_string(rc, msg, &len);
  CHECK(cls == MPI_ERR_UNSUPPORTED_OPERATION && strstr(msg, "MPI_Comm_spawn"), "unsupported function: %d %s", rc, msg);
#endif
  /* §10.3.2: a process not started by MPI_Comm_spawn has no parent. */
  MPI_Comm_get_parent(&parent);
  CHECK(parent == MPI_COMM_NULL, "no rank of this job has a parent");

  /* a user error handler */
  MPI_Errhandler mine;
  MPI_Comm dup;
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  MPI_Comm_get_errhandler(dup, &eh);
  CHECK(eh == MPI_ERRORS_RETURN, "dup inherits the error handler");
  MPI_Comm_create_errhandler(handler, &mine);
  MPI_Comm_set_errhandler(dup, mine);
  rc = MPI_Send(&v, 1, MPI_INT, -7, 0, dup);
  CHECK(handled == 1 && handled_code == rc && rc == MPI_ERR_RANK, "user handler called %d times with %d", handled, handled_code);
  MPI_Comm_call_errhandler(dup, MPI_ERR_OTHER);
  CHECK(handled == 2 && handled_code == MPI_ERR_OTHER, "Comm_call_errhandler");
  MPI_Errhandler_free(&mine);
  MPI_Comm_free(&dup);

  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  return finish("errors");
}
