/**
 * Errors carry a stable `code` and the fields that explain them, so callers
 * can branch on `err.code` and logs say which rank, peer and operation failed.
 */
export type FmiErrorCode =
  | 'FMI_TIMEOUT'
  | 'FMI_ABORTED'
  | 'FMI_PEER_LOST'
  | 'FMI_CHANNEL'
  | 'FMI_CLOSED'
  | 'FMI_CONFIG'
  | 'FMI_PROTOCOL'
  | 'FMI_MISMATCH'
  | 'FMI_RANK_TAKEN'
  | 'MPI_ERR_RANK'
  | 'MPI_ERR_ROOT'
  | 'MPI_ERR_TAG'
  | 'MPI_ERR_COUNT'
  | 'MPI_ERR_SIZE'
  | 'MPI_ERR_TYPE'
  | 'MPI_ERR_OP'
  | 'MPI_ERR_TRUNCATE'
  | 'MPI_ERR_ARG'
  | 'MPI_ERR_COMM'
  | 'MPI_ERR_GROUP';

export interface FmiErrorFields {
  rank?: number;
  peer?: number;
  op?: string;
  tag?: number;
  channel?: string;
  cause?: unknown;
}

export class FmiError extends Error {
  readonly code: FmiErrorCode;
  readonly rank?: number;
  readonly peer?: number;
  readonly op?: string;
  readonly tag?: number;
  readonly channel?: string;

  constructor(code: FmiErrorCode, message: string, fields: FmiErrorFields = {}) {
    super(`${code}: ${message}${describe(fields)}`, fields.cause === undefined ? undefined : { cause: fields.cause });
    // Named in words, not after new.target.name: a minified bundle (`fmi lambda package`)
    // renames classes. A subclass of the user's own keeps its class name.
    this.name = new.target === FmiError ? 'FmiError' : new.target.name;
    this.code = code;
    this.rank = fields.rank;
    this.peer = fields.peer;
    this.op = fields.op;
    this.tag = fields.tag;
    this.channel = fields.channel;
  }
}

function describe(f: FmiErrorFields): string {
  const parts: string[] = [];
  if (f.op !== undefined) parts.push(`op=${f.op}`);
  if (f.rank !== undefined) parts.push(`rank=${f.rank}`);
  if (f.peer !== undefined) parts.push(`peer=${f.peer}`);
  if (f.tag !== undefined) parts.push(`tag=${f.tag}`);
  if (f.channel !== undefined) parts.push(`channel=${f.channel}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

export class TimeoutError extends FmiError {
  constructor(message: string, fields?: FmiErrorFields) {
    super('FMI_TIMEOUT', message, fields);
    this.name = 'TimeoutError';
  }
}

export class AbortError extends FmiError {
  constructor(message: string, fields?: FmiErrorFields) {
    super('FMI_ABORTED', message, fields);
    this.name = 'AbortError';
  }
}

export class PeerLostError extends FmiError {
  constructor(message: string, fields?: FmiErrorFields) {
    super('FMI_PEER_LOST', message, fields);
    this.name = 'PeerLostError';
  }
}

export class ChannelError extends FmiError {
  constructor(message: string, fields?: FmiErrorFields) {
    super('FMI_CHANNEL', message, fields);
    this.name = 'ChannelError';
  }
}

export class TruncateError extends FmiError {
  constructor(message: string, fields?: FmiErrorFields) {
    super('MPI_ERR_TRUNCATE', message, fields);
    this.name = 'TruncateError';
  }
}

export class ClosedError extends FmiError {
  constructor(message: string, fields?: FmiErrorFields) {
    super('FMI_CLOSED', message, fields);
    this.name = 'ClosedError';
  }
}

/** Ranks called different collectives, or the same one with a different root, op, element type or count. */
export class MismatchError extends FmiError {
  constructor(message: string, fields?: FmiErrorFields) {
    super('FMI_MISMATCH', message, fields);
    this.name = 'MismatchError';
  }
}
