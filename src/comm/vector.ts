import { FmiError, type FmiErrorFields } from '../errors.js';
import type { NumericArray } from '../kernels/index.js';

/**
 * Counts and displacements of the "v" collectives (gatherv, scatterv,
 * allgatherv, alltoallv), checked the way MPI would: one non-negative integer
 * count per rank; displacements default to the running sum of the counts.
 */
export interface Layout {
  counts: number[];
  displs: number[];
  /** Elements the whole buffer spans. */
  extent: number;
}

export function layout(counts: unknown, displs: unknown, size: number, what: string, fields: FmiErrorFields): Layout {
  if (!Array.isArray(counts) || counts.length !== size || !counts.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new FmiError('MPI_ERR_COUNT', `${what} needs ${size} non-negative integer counts, got ${JSON.stringify(counts)}`, fields);
  }
  let d: number[];
  if (displs === undefined) {
    d = [];
    let at = 0;
    for (const n of counts as number[]) {
      d.push(at);
      at += n;
    }
  } else {
    if (!Array.isArray(displs) || displs.length !== size || !displs.every((n) => Number.isInteger(n) && n >= 0)) {
      throw new FmiError('MPI_ERR_ARG', `${what} needs ${size} non-negative integer displacements, got ${JSON.stringify(displs)}`, fields);
    }
    d = displs as number[];
  }
  let extent = 0;
  for (let i = 0; i < size; i++) extent = Math.max(extent, d[i]! + (counts as number[])[i]!);
  return { counts: counts as number[], displs: d, extent };
}

/** The r-th part of `data` under `l`. */
export function part(data: NumericArray, l: Layout, r: number): NumericArray {
  return data.subarray(l.displs[r]!, l.displs[r]! + l.counts[r]!) as NumericArray;
}

export function checkSpan(data: NumericArray, l: Layout, what: string, fields: FmiErrorFields): void {
  if (data.length < l.extent) {
    throw new FmiError('MPI_ERR_COUNT', `${what}: buffer of ${data.length} elements is shorter than counts and displacements need (${l.extent})`, fields);
  }
}
