import { ELEM_TYPES, elemTypeOf, OP_NAMES, typedArrayCtor } from '../kernels/index.js';
import type { Op } from '../ops/op.js';

/** Collectives by code: the code is part of every collective message's signature. */
export const CollCode = {
  bcast: 1, gather: 2, scatter: 3, reduce: 4, allreduce: 5, scan: 6, barrier: 7, exscan: 8,
  allgather: 9, alltoall: 10, reduceScatter: 11, gatherv: 12, scatterv: 13, allgatherv: 14, alltoallv: 15,
  dup: 16, split: 17, intercomm: 18, merge: 19,
} as const;
export type CollName = keyof typeof CollCode;

const NAMES = Object.fromEntries(Object.entries(CollCode).map(([k, v]) => [v, k])) as Record<number, string>;
const OPS: readonly string[] = OP_NAMES;
const CUSTOM_OP = 15;

/** What every rank knows of a collective call, beyond its name and root. */
export interface CallShape {
  op?: Op;
  /** The rank's contribution, where every rank's has the same type and length. */
  data?: unknown;
}

/**
 * A collective call's signature, packed into the 31-bit tag its messages
 * carry (so it costs no byte and no message): receivers take any tag from
 * the peer they expect and compare. Bits: 0-4 collective, 5-8 op (0 none,
 * 1-10 predefined, 15 user-defined), 9-12 element type (0: not a
 * TypedArray), 13-14 the call's number mod 4 (a message left over from the
 * previous call does not pass), 15-30 the root, or for rootless reductions
 * the element count mod 65536.
 */
export function signatureTag(name: CollName, root: number | undefined, shape: CallShape | undefined, seq: number): number {
  const op = shape?.op;
  // `op == null`: a missing op is checked (MPI_ERR_OP) after this tag is made.
  const opCode = op == null ? 0 : op.predefined ? OPS.indexOf(op.predefined) + 1 : CUSTOM_OP;
  const data = shape && 'data' in shape ? shape.data : undefined;
  const t = ArrayBuffer.isView(data) ? elemTypeOf(data) : undefined;
  const typeCode = t === undefined ? 0 : ELEM_TYPES.indexOf(t) + 1;
  const extra = root !== undefined ? root : t !== undefined && op !== undefined ? (data as { length: number }).length : 0;
  return (CollCode[name] | (opCode << 5) | (typeCode << 9) | ((seq & 3) << 13) | ((extra & 0xffff) << 15)) >>> 0;
}

/** What a signature says, for errors: "allreduce(op MAX, Float64Array(4))"; `withCall`: and the call's number mod 4. */
export function describeSignature(tag: number, rooted: boolean, withCall = false): string {
  const name = NAMES[tag & 31] ?? `collective ${tag & 31}`;
  const opCode = (tag >>> 5) & 15;
  const typeCode = (tag >>> 9) & 15;
  const extra = (tag >>> 15) & 0xffff;
  const parts: string[] = [];
  if (rooted) parts.push(`root ${extra}`);
  if (opCode !== 0) parts.push(`op ${opCode === CUSTOM_OP ? 'user-defined' : OPS[opCode - 1]}`);
  if (typeCode !== 0) parts.push(`${typeName(typeCode)}${rooted || opCode === 0 ? '' : `(${extra})`}`);
  else if (opCode !== 0) parts.push('a value');
  return `${name}${parts.length ? `(${parts.join(', ')})` : ''}${withCall ? ` (call ${(tag >>> 13) & 3} mod 4)` : ''}`;
}

/** Whether a signature's collective takes a root (its extra bits are the root). */
export function isRooted(tag: number): boolean {
  const n = tag & 31;
  return n === CollCode.bcast || n === CollCode.gather || n === CollCode.scatter || n === CollCode.reduce || n === CollCode.gatherv || n === CollCode.scatterv;
}

function typeName(code: number): string {
  const t = ELEM_TYPES[code - 1];
  return t === undefined ? `type ${code}` : typedArrayCtor(t).name;
}

/** Whether two signatures are of different calls (one is a message left over from an earlier one). */
export const otherCall = (a: number, b: number) => ((a ^ b) & (3 << 13)) !== 0;
