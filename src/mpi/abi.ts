// The numbers C programs see: must agree with native/include/mpi.h (a test
// compares the two).

/** Handle kinds live in the high bits; index 0 of each kind is a predefined object, null is 0. */
export const HandleBase = {
  comm: 0x44000000,
  group: 0x48000000,
  datatype: 0x4c000000,
  errhandler: 0x54000000,
  op: 0x58000000,
  info: 0x5c000000,
  request: 0x2c000000,
  keyval: 0x24000000,
  message: 0x6c000000,
} as const;
export type HandleKind = keyof typeof HandleBase;

export const COMM_WORLD = 0x44000000;
export const COMM_SELF = 0x44000001;
export const GROUP_EMPTY = 0x48000000;
export const ERRORS_ARE_FATAL = 0x54000000;
export const ERRORS_RETURN = 0x54000001;
export const INFO_ENV = 0x5c000000;
export const MESSAGE_NO_PROC = 0x6c000000;
export const NULL_HANDLE = 0;

export const ANY_SOURCE = -1;
export const ANY_TAG = -1;
export const PROC_NULL = -2;
export const ROOT = -3;
export const UNDEFINED = -32766;
export const KEYVAL_INVALID = 0x24000000;

/** Pointer values with a meaning (wasm32 pointers arrive as signed i32). */
export const IN_PLACE = -1;
export const BOTTOM = 0;
export const STATUS_IGNORE = 1;

export const MAX_PROCESSOR_NAME = 256;
export const MAX_ERROR_STRING = 512;
export const MAX_OBJECT_NAME = 128;
export const MAX_LIBRARY_VERSION_STRING = 256;
export const MAX_INFO_KEY = 255;
export const MAX_INFO_VAL = 1024;

export const IDENT = 0;
export const CONGRUENT = 1;
export const SIMILAR = 2;
export const UNEQUAL = 3;

export const THREAD_SINGLE = 0;
export const THREAD_MULTIPLE = 3;

/** MPI_Type_create_darray distributions. */
export const Distribute = { BLOCK: 121, CYCLIC: 122, NONE: 123, DFLT_DARG: -49767 } as const;
export const GRAPH = 1;
export const CART = 2;
export const DIST_GRAPH = 3;
/** MPI_UNWEIGHTED and MPI_WEIGHTS_EMPTY: sentinel pointers (mpi.h). */
export const UNWEIGHTED = 2;
export const WEIGHTS_EMPTY = 3;
export const COMM_TYPE_SHARED = 1;

export const Combiner = {
  NAMED: 1, DUP: 2, CONTIGUOUS: 3, VECTOR: 4, HVECTOR: 5, INDEXED: 6, HINDEXED: 7, INDEXED_BLOCK: 8,
  HINDEXED_BLOCK: 9, STRUCT: 10, SUBARRAY: 11, DARRAY: 12, RESIZED: 16,
} as const;

export const ORDER_C = 56;
export const ORDER_FORTRAN = 57;

/** Predefined attribute keys of MPI_COMM_WORLD. */
export const Attr = {
  TAG_UB: 0x64400001,
  HOST: 0x64400003,
  IO: 0x64400005,
  WTIME_IS_GLOBAL: 0x64400007,
  UNIVERSE_SIZE: 0x64400009,
  APPNUM: 0x6440000b,
  LASTUSEDCODE: 0x6440000d,
} as const;

/** MPI_Type_match_size's type classes. */
export const TypeClass = { REAL: 1, INTEGER: 2, COMPLEX: 3 } as const;

/** MPI_COMM_DUP_FN / MPI_DUP_FN: a sentinel, never a table index. */
export const DUP_FN = -1;

/** The MPI_Status struct: five ints. */
export const Status = { SOURCE: 0, TAG: 4, ERROR: 8, COUNT: 12, CANCELLED: 16, SIZE: 20 } as const;

/** Error classes, by value (MPI_SUCCESS = 0 ... MPI_ERR_LASTCODE). */
export const ERROR_NAMES = [
  'MPI_SUCCESS', 'MPI_ERR_BUFFER', 'MPI_ERR_COUNT', 'MPI_ERR_TYPE', 'MPI_ERR_TAG', 'MPI_ERR_COMM', 'MPI_ERR_RANK',
  'MPI_ERR_ROOT', 'MPI_ERR_GROUP', 'MPI_ERR_OP', 'MPI_ERR_TOPOLOGY', 'MPI_ERR_DIMS', 'MPI_ERR_ARG', 'MPI_ERR_UNKNOWN',
  'MPI_ERR_TRUNCATE', 'MPI_ERR_OTHER', 'MPI_ERR_INTERN', 'MPI_ERR_IN_STATUS', 'MPI_ERR_PENDING', 'MPI_ERR_REQUEST',
  'MPI_ERR_ACCESS', 'MPI_ERR_AMODE', 'MPI_ERR_BAD_FILE', 'MPI_ERR_CONVERSION', 'MPI_ERR_DUP_DATAREP',
  'MPI_ERR_FILE_EXISTS', 'MPI_ERR_FILE_IN_USE', 'MPI_ERR_FILE', 'MPI_ERR_INFO', 'MPI_ERR_INFO_KEY',
  'MPI_ERR_INFO_VALUE', 'MPI_ERR_INFO_NOKEY', 'MPI_ERR_IO', 'MPI_ERR_NAME', 'MPI_ERR_NO_MEM', 'MPI_ERR_NOT_SAME',
  'MPI_ERR_NO_SPACE', 'MPI_ERR_NO_SUCH_FILE', 'MPI_ERR_PORT', 'MPI_ERR_QUOTA', 'MPI_ERR_READ_ONLY',
  'MPI_ERR_SERVICE', 'MPI_ERR_SPAWN', 'MPI_ERR_UNSUPPORTED_DATAREP', 'MPI_ERR_UNSUPPORTED_OPERATION', 'MPI_ERR_WIN',
  'MPI_ERR_BASE', 'MPI_ERR_LOCKTYPE', 'MPI_ERR_KEYVAL', 'MPI_ERR_RMA_CONFLICT', 'MPI_ERR_RMA_SYNC', 'MPI_ERR_SIZE',
  'MPI_ERR_DISP', 'MPI_ERR_ASSERT', 'MPI_ERR_RMA_RANGE', 'MPI_ERR_RMA_ATTACH', 'MPI_ERR_RMA_SHARED',
  'MPI_ERR_RMA_FLAVOR',
  // The MPI_T return codes, error classes too (MPI 3.1 §14.3.10): Err.T_INVALID_INDEX etc.
  'MPI_T_ERR_MEMORY', 'MPI_T_ERR_NOT_INITIALIZED', 'MPI_T_ERR_CANNOT_INIT', 'MPI_T_ERR_INVALID_INDEX',
  'MPI_T_ERR_INVALID_ITEM', 'MPI_T_ERR_INVALID_HANDLE', 'MPI_T_ERR_OUT_OF_HANDLES', 'MPI_T_ERR_OUT_OF_SESSIONS',
  'MPI_T_ERR_INVALID_SESSION', 'MPI_T_ERR_CVAR_SET_NOT_NOW', 'MPI_T_ERR_CVAR_SET_NEVER', 'MPI_T_ERR_PVAR_NO_STARTSTOP',
  'MPI_T_ERR_PVAR_NO_WRITE', 'MPI_T_ERR_PVAR_NO_ATOMIC', 'MPI_T_ERR_INVALID_NAME', 'MPI_T_ERR_INVALID',
  'MPI_ERR_LASTCODE',
] as const;
export type ErrorName = (typeof ERROR_NAMES)[number];

export const Err = Object.fromEntries(ERROR_NAMES.map((n, i) => [n.replace(/^MPI_(ERR_)?/, '').replace(/^T_ERR_/, 'T_'), i])) as {
  readonly [K in ErrorName as K extends `MPI_ERR_${infer R}` ? R : K extends `MPI_T_ERR_${infer T}` ? `T_${T}` : 'SUCCESS']: number;
};

/** Predefined datatypes: handle = datatype base + index. Order matches mpi.h. */
export const DATATYPE_NAMES = [
  'MPI_DATATYPE_NULL', 'MPI_CHAR', 'MPI_SIGNED_CHAR', 'MPI_UNSIGNED_CHAR', 'MPI_BYTE', 'MPI_WCHAR', 'MPI_SHORT',
  'MPI_UNSIGNED_SHORT', 'MPI_INT', 'MPI_UNSIGNED', 'MPI_LONG', 'MPI_UNSIGNED_LONG', 'MPI_LONG_LONG_INT',
  'MPI_UNSIGNED_LONG_LONG', 'MPI_FLOAT', 'MPI_DOUBLE', 'MPI_LONG_DOUBLE', 'MPI_INT8_T', 'MPI_INT16_T',
  'MPI_INT32_T', 'MPI_INT64_T', 'MPI_UINT8_T', 'MPI_UINT16_T', 'MPI_UINT32_T', 'MPI_UINT64_T', 'MPI_C_BOOL',
  'MPI_C_FLOAT_COMPLEX', 'MPI_C_DOUBLE_COMPLEX', 'MPI_C_LONG_DOUBLE_COMPLEX', 'MPI_AINT', 'MPI_OFFSET',
  'MPI_COUNT', 'MPI_PACKED', 'MPI_FLOAT_INT', 'MPI_DOUBLE_INT', 'MPI_LONG_INT', 'MPI_2INT', 'MPI_SHORT_INT',
  'MPI_LONG_DOUBLE_INT', 'MPI_CXX_BOOL', 'MPI_CXX_FLOAT_COMPLEX', 'MPI_CXX_DOUBLE_COMPLEX',
  'MPI_CXX_LONG_DOUBLE_COMPLEX',
  // The Fortran named types, usable from C (MPI 3.1 §3.2.2, §17.2.5): wasm32's sizes.
  'MPI_CHARACTER', 'MPI_LOGICAL', 'MPI_INTEGER', 'MPI_REAL', 'MPI_DOUBLE_PRECISION', 'MPI_COMPLEX',
  'MPI_DOUBLE_COMPLEX', 'MPI_INTEGER1', 'MPI_INTEGER2', 'MPI_INTEGER4', 'MPI_INTEGER8', 'MPI_REAL4', 'MPI_REAL8',
  'MPI_REAL16', 'MPI_COMPLEX8', 'MPI_COMPLEX16', 'MPI_COMPLEX32', 'MPI_2INTEGER', 'MPI_2REAL',
  'MPI_2DOUBLE_PRECISION',
] as const;

/** Predefined ops: handle = op base + index. */
export const OP_NAMES = [
  'MPI_OP_NULL', 'MPI_MAX', 'MPI_MIN', 'MPI_SUM', 'MPI_PROD', 'MPI_LAND', 'MPI_BAND', 'MPI_LOR', 'MPI_BOR',
  'MPI_LXOR', 'MPI_BXOR', 'MPI_MINLOC', 'MPI_MAXLOC', 'MPI_REPLACE', 'MPI_NO_OP',
] as const;

export const datatype = (name: (typeof DATATYPE_NAMES)[number]): number =>
  name === 'MPI_DATATYPE_NULL' ? 0 : HandleBase.datatype + DATATYPE_NAMES.indexOf(name);
export const op = (name: (typeof OP_NAMES)[number]): number => (name === 'MPI_OP_NULL' ? 0 : HandleBase.op + OP_NAMES.indexOf(name));
