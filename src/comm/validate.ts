import { FmiError, type FmiErrorCode } from '../errors.js';
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
