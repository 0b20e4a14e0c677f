import { FmiError } from '../errors.js';
import { Err, ERROR_NAMES } from './abi.js';

/** An error an MPI function reports: its error class and a message for people. */
export class MpiError extends Error {
  readonly code: number;
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MpiError';
    this.code = code;
  }
}

/** Thrown when the job is being torn down (another rank failed, or the caller aborted). */
export class JobAbortedError extends MpiError {
  constructor(message: string) {
    super(Err.OTHER, message);
    this.name = 'JobAbortedError';
  }
}

const FROM_FMI: Record<string, number> = {
  MPI_ERR_RANK: Err.RANK,
  MPI_ERR_ROOT: Err.ROOT,
  MPI_ERR_TAG: Err.TAG,
  MPI_ERR_COUNT: Err.COUNT,
  MPI_ERR_SIZE: Err.SIZE,
  MPI_ERR_TYPE: Err.TYPE,
  MPI_ERR_OP: Err.OP,
  MPI_ERR_TRUNCATE: Err.TRUNCATE,
  MPI_ERR_ARG: Err.ARG,
  MPI_ERR_COMM: Err.COMM,
  MPI_ERR_GROUP: Err.GROUP,
  FMI_TIMEOUT: Err.OTHER,
  FMI_ABORTED: Err.OTHER,
  FMI_PEER_LOST: Err.OTHER,
  FMI_CHANNEL: Err.OTHER,
  FMI_CLOSED: Err.COMM,
  FMI_CONFIG: Err.OTHER,
  FMI_PROTOCOL: Err.INTERN,
  FMI_MISMATCH: Err.OTHER,
};

/** The MPI error class of anything a call threw. */
export function toMpiError(err: unknown): MpiError {
  if (err instanceof MpiError) return err;
  if (err instanceof FmiError) return new MpiError(FROM_FMI[err.code] ?? Err.OTHER, err.message, { cause: err });
  const msg = err instanceof Error ? err.message : String(err);
  return new MpiError(Err.INTERN, `internal error: ${msg}`, { cause: err });
}

const DESCRIPTIONS: Record<number, string> = {
  [Err.SUCCESS]: 'no error',
  [Err.BUFFER]: 'invalid buffer pointer',
  [Err.COUNT]: 'invalid count argument',
  [Err.TYPE]: 'invalid datatype',
  [Err.TAG]: 'invalid tag',
  [Err.COMM]: 'invalid communicator',
  [Err.RANK]: 'invalid rank',
  [Err.ROOT]: 'invalid root',
  [Err.GROUP]: 'invalid group',
  [Err.OP]: 'invalid operation',
  [Err.TOPOLOGY]: 'invalid topology',
  [Err.DIMS]: 'invalid dimension argument',
  [Err.ARG]: 'invalid argument',
  [Err.UNKNOWN]: 'unknown error',
  [Err.TRUNCATE]: 'message truncated',
  [Err.OTHER]: 'other error',
  [Err.INTERN]: 'internal error',
  [Err.IN_STATUS]: 'error code is in status',
  [Err.PENDING]: 'pending request',
  [Err.REQUEST]: 'invalid request',
  [Err.INFO_KEY]: 'invalid info key',
  [Err.INFO_VALUE]: 'invalid info value',
  [Err.INFO_NOKEY]: 'info key not defined',
  [Err.INFO]: 'invalid info object',
  [Err.NO_MEM]: 'out of memory',
  [Err.UNSUPPORTED_OPERATION]: 'operation not supported by fmi',
  [Err.KEYVAL]: 'invalid attribute key',
  [Err.SIZE]: 'invalid size',
  [Err.NAME]: 'invalid name',
};

/** MPI_Error_string's text for a class (or a code added with MPI_Add_error_code). */
export function errorString(code: number, added?: ReadonlyMap<number, string>): string | undefined {
  const extra = added?.get(code);
  if (extra !== undefined) return extra;
  const name = ERROR_NAMES[code];
  if (name === undefined) return undefined;
  return `${name}: ${DESCRIPTIONS[code] ?? name.replace(/^MPI_(T_)?ERR_/, '').toLowerCase().replace(/_/g, ' ')}`;
}
