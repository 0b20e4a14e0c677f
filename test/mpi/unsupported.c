/* Functions fmi does not support link, and fail naming themselves: with
 * MPI_ERRORS_RETURN, one call per family returns a code of class
 * MPI_ERR_UNSUPPORTED_OPERATION whose string names the call; the tool
 * interface works with no variables; then, with the default
 * MPI_ERRORS_ARE_FATAL, MPI_Comm_spawn ends the job loudly. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void expect_unsupported(int rc, const char *name) {
  int cls = -1, len = 0;
  char msg[MPI_MAX_ERROR_STRING] = "";
  MPI_Error_class(rc, &cls);
  MPI_Error_string(rc, msg, &len);
  if (cls == MPI_ERR_UNSUPPORTED_OPERATION && strstr(msg, name)) {
    printf("unsupported %s: %s\n", name, msg);
  } else {
    printf("FAIL %s: rc %d class %d string \"%s\"\n", name, rc, cls, msg);
    failures++;
  }
}

#define EXPECT(cond, ...) do { if (!(cond)) { printf("FAIL " __VA_ARGS__); printf("\n"); failures++; } } while (0)

static void tools(void) {
  int provided = -1, n = -1, idx = -1, rc;
  char name[64];
  int len = sizeof name, verbosity, bind, scope;
  MPI_Datatype type;
  MPI_T_enum en;
  MPI_T_pvar_session session = MPI_T_PVAR_SESSION_NULL;
  EXPECT(MPI_T_cvar_get_num(&n) == MPI_T_ERR_NOT_INITIALIZED, "MPI_T before MPI_T_init_thread");
  EXPECT(MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) == MPI_SUCCESS && provided == MPI_THREAD_SINGLE, "MPI_T_init_thread");
  EXPECT(MPI_T_cvar_get_num(&n) == MPI_SUCCESS && n == 0, "MPI_T_cvar_get_num %d", n);
  n = -1;
  EXPECT(MPI_T_pvar_get_num(&n) == MPI_SUCCESS && n == 0, "MPI_T_pvar_get_num %d", n);
  n = -1;
  EXPECT(MPI_T_category_get_num(&n) == MPI_SUCCESS && n == 0, "MPI_T_category_get_num %d", n);
  rc = MPI_T_cvar_get_info(0, name, &len, &verbosity, &type, &en, name, &len, &bind, &scope);
  EXPECT(rc == MPI_T_ERR_INVALID_INDEX, "MPI_T_cvar_get_info(0) %d", rc);
  rc = MPI_T_cvar_get_index("no_such_variable", &idx);
  EXPECT(rc == MPI_T_ERR_INVALID_NAME, "MPI_T_cvar_get_index %d", rc);
  EXPECT(MPI_T_pvar_session_create(&session) == MPI_SUCCESS && session != MPI_T_PVAR_SESSION_NULL, "MPI_T_pvar_session_create");
  EXPECT(MPI_T_pvar_start(session, MPI_T_PVAR_ALL_HANDLES) == MPI_SUCCESS, "MPI_T_pvar_start(all handles)");
  EXPECT(MPI_T_pvar_session_free(&session) == MPI_SUCCESS && session == MPI_T_PVAR_SESSION_NULL, "MPI_T_pvar_session_free");
  EXPECT(MPI_T_finalize() == MPI_SUCCESS, "MPI_T_finalize");
  EXPECT(MPI_T_finalize() == MPI_T_ERR_NOT_INITIALIZED, "MPI_T_finalize twice");
  rc = MPI_Error_string(MPI_T_ERR_INVALID_INDEX, name, &len);
  EXPECT(rc == MPI_SUCCESS && strstr(name, "MPI_T_ERR_INVALID_INDEX"), "MPI_Error_string(MPI_T_ERR_INVALID_INDEX) \"%s\"", name);
}

int main(int argc, char **argv) {
  int rank, buf[16] = {0}, rc, rc2;
  char port[MPI_MAX_PORT_NAME];
  MPI_Win win = MPI_WIN_NULL;
  MPI_File fh = MPI_FILE_NULL;
  MPI_Datatype f90 = MPI_DATATYPE_NULL;
  MPI_Comm children;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);

  rc = MPI_Win_create(buf, sizeof buf, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win);
  expect_unsupported(rc, "MPI_Win_create");
  expect_unsupported(MPI_Put(buf, 1, MPI_INT, 0, 0, 1, MPI_INT, win), "MPI_Put");
  expect_unsupported(MPI_File_open(MPI_COMM_WORLD, "data", MPI_MODE_RDONLY, MPI_INFO_NULL, &fh), "MPI_File_open");
  expect_unsupported(MPI_Open_port(MPI_INFO_NULL, port), "MPI_Open_port");
  expect_unsupported(MPI_Type_create_f90_integer(9, &f90), "MPI_Type_create_f90_integer");
  /* The profiling entry point is the same function. */
  rc2 = PMPI_Win_create(buf, sizeof buf, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win);
  expect_unsupported(rc2, "MPI_Win_create");
  EXPECT(rc2 == rc, "one code per function: %d then %d", rc, rc2);
  tools();
  printf("%s unsupported: families on rank %d\n", failures ? "FAIL" : "PASS", rank);
  /* Every rank has reported before one of them ends the job. */
  MPI_Barrier(MPI_COMM_WORLD);

  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  MPI_Comm_spawn("worker", MPI_ARGV_NULL, 2, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &children, MPI_ERRCODES_IGNORE);
  printf("FAIL unsupported: went on\n");
  MPI_Finalize();
  return 0;
}
