import { FmiError, type FmiErrorCode, type FmiErrorFields } from '../errors.js';
import { ANY_SOURCE, ANY_TAG } from '../channels/channel.js';

/** MPI_TAG_UB: the largest tag a user may pass. */
export const TAG_UB = 0x7fffffff;

export function checkRank(code: FmiErrorCode, what: string, r: unknown, size: number, rank: number, op: string, allowAny = false): number {
  if (allowAny && r === ANY_SOURCE) return ANY_SOURCE;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r >= size) {
    throw new FmiError(code, `${what} ${String(r)} is not a rank of this communicator (size ${size})`, { rank, op, peer: typeof r === 'number' ? r : undefined });
  }
  return r;
}

export function checkTag(t: unknown, rank: number, op: string, allowAny = false): number {
  if (t === undefined) return allowAny ? ANY_TAG : 0;
  if (allowAny && t === ANY_TAG) return ANY_TAG;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > TAG_UB) {
    throw new FmiError('MPI_ERR_TAG', `tag ${String(t)} is not an integer in [0, ${TAG_UB}]`, { rank, op });
  }
  return t;
}

/** The ranks of a new communicator made by its members alone: distinct ranks here, this one among them. */
export function checkMembers(ranks: readonly number[], size: number, rank: number, op: string): void {
  if (!Array.isArray(ranks) || ranks.length === 0) throw new FmiError('MPI_ERR_GROUP', 'ranks must be a non-empty array of ranks', { rank, op });
  for (const r of ranks) checkRank('MPI_ERR_RANK', 'group member', r, size, rank, op);
  if (new Set(ranks).size !== ranks.length) throw new FmiError('MPI_ERR_GROUP', `ranks [${ranks.join(', ')}] name a rank twice`, { rank, op });
  if (!ranks.includes(rank)) throw new FmiError('MPI_ERR_GROUP', `rank ${rank} is not in [${ranks.join(', ')}]: only the members call createGroup`, { rank, op });
}

/**
 * A TypedArray or Buffer whose memory was transferred away (postMessage,
 * structuredClone with transfer, ArrayBuffer.transfer) reads as empty: sending
 * it, or receiving into it, must fail rather than send nothing.
 */
export function checkNotDetached(v: unknown, what: string, fields: FmiErrorFields): void {
  if (ArrayBuffer.isView(v) && v.byteLength === 0 && isDetached(v.buffer)) {
    throw new FmiError('MPI_ERR_ARG', `${what} is a view of a detached ArrayBuffer (its memory was transferred)`, fields);
  }
}

function isDetached(b: ArrayBufferLike): boolean {
  if (b.byteLength !== 0) return false;
  // Node 20 has no ArrayBuffer.prototype.detached; a view cannot be made on a detached buffer anywhere.
  try {
    new Uint8Array(b, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** The algorithms allreduce knows: anything else is a mistake, not 'auto'. */
const ALLREDUCE_ALGORITHMS: readonly unknown[] = ['auto', 'ring', 'rabenseifner', 'recursive-doubling'];

export function checkAllreduceAlgorithm(a: unknown, fields: FmiErrorFields): void {
  if (a !== undefined && !ALLREDUCE_ALGORITHMS.includes(a)) {
    throw new FmiError('MPI_ERR_ARG', `allreduce algorithm ${typeof a === 'string' ? JSON.stringify(a) : String(a)} is not one of ${ALLREDUCE_ALGORITHMS.join(', ')}`, fields);
  }
}
