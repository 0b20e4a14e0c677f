import { FmiError } from '../errors.js';
import { elemTypeOf, reduceJs, reduceScalar, supports, type NumericArray, type PredefinedOpName } from '../kernels/index.js';

export type ReduceFn<T = any> = (a: T, b: T) => T;

export interface OpProperties {
  /** a op b === b op a. Non-commutative ops are evaluated strictly in rank order. @default false */
  commutative?: boolean;
  /** (a op b) op c === a op (b op c). Non-associative ops are evaluated left to right, one rank after another. @default true */
  associative?: boolean;
}

/**
 * A reduction operation: one of MPI's predefined ops (run by the Wasm kernels
 * on TypedArrays) or a function of two values.
 */
export class Op {
  readonly name: string;
  readonly commutative: boolean;
  readonly associative: boolean;
  /** Set for MPI's predefined ops. */
  readonly predefined: PredefinedOpName | undefined;
  readonly fn: ReduceFn | undefined;

  private constructor(name: string, predefined: PredefinedOpName | undefined, fn: ReduceFn | undefined, p: Required<OpProperties>) {
    this.name = name;
    this.predefined = predefined;
    this.fn = fn;
    this.commutative = p.commutative;
    this.associative = p.associative;
    Object.freeze(this);
  }

  static readonly SUM = new Op('SUM', 'SUM', undefined, { commutative: true, associative: true });
  static readonly PROD = new Op('PROD', 'PROD', undefined, { commutative: true, associative: true });
  static readonly MIN = new Op('MIN', 'MIN', undefined, { commutative: true, associative: true });
  static readonly MAX = new Op('MAX', 'MAX', undefined, { commutative: true, associative: true });
  static readonly LAND = new Op('LAND', 'LAND', undefined, { commutative: true, associative: true });
  static readonly LOR = new Op('LOR', 'LOR', undefined, { commutative: true, associative: true });
  static readonly LXOR = new Op('LXOR', 'LXOR', undefined, { commutative: true, associative: true });
  static readonly BAND = new Op('BAND', 'BAND', undefined, { commutative: true, associative: true });
  static readonly BOR = new Op('BOR', 'BOR', undefined, { commutative: true, associative: true });
  static readonly BXOR = new Op('BXOR', 'BXOR', undefined, { commutative: true, associative: true });

  /**
   * A user op: `fn(a, b)` returns a op b, where a comes from lower ranks. It
   * may return a new value or a modified `a`.
   */
  static create<T>(fn: ReduceFn<T>, props: OpProperties = {}): Op {
    if (typeof fn !== 'function') throw new FmiError('MPI_ERR_OP', 'Op.create needs a function');
    return new Op(fn.name || 'custom', undefined, fn, { commutative: props.commutative ?? false, associative: props.associative ?? true });
  }
}

/** Throws MPI_ERR_OP unless `op` is defined for values like `v`. */
export function checkOpFor(op: unknown, v: unknown, fields: { rank: number; op: string }): asserts op is Op {
  if (!(op instanceof Op)) throw new FmiError('MPI_ERR_OP', `not an Op: ${String(op)}`, fields);
  if (!op.predefined) return;
  if (ArrayBuffer.isView(v)) {
    const t = elemTypeOf(v);
    if (t === undefined || !supports(op.predefined, t)) {
      throw new FmiError('MPI_ERR_OP', `${op.name} is not defined for ${v.constructor.name}`, fields);
    }
    return;
  }
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (typeof v === 'number' && (op.predefined.startsWith('B') || op.predefined.startsWith('L')) && !Number.isInteger(v)) {
      throw new FmiError('MPI_ERR_OP', `${op.name} is not defined for non-integer numbers`, fields);
    }
    return;
  }
  if (Array.isArray(v) && v.every((x) => typeof x === 'number' || typeof x === 'bigint')) return;
  throw new FmiError('MPI_ERR_OP', `${op.name} is not defined for ${describe(v)}; use Op.create for structured values`, fields);
}

/**
 * a op b for values in JS (structured values, custom ops, small arrays).
 * `a` belongs to the caller and may be changed in place.
 */
export function applyOp(op: Op, a: unknown, b: unknown, fields: { rank: number; op: string; peer?: number }): unknown {
  if (op.fn) {
    try {
      return op.fn(a, b);
    } catch (cause) {
      throw new FmiError('MPI_ERR_OP', `op ${op.name} threw: ${(cause as Error)?.message ?? String(cause)}`, { ...fields, cause });
    }
  }
  const name = op.predefined!;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    if (a.constructor !== b.constructor || (a as NumericArray).length !== (b as NumericArray).length) {
      throw sizeMismatch(a, b, fields);
    }
    reduceJs(name, a as NumericArray, b as NumericArray);
    return a;
  }
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'bigint' && typeof b === 'bigint')) {
    return reduceScalar(name, a, b);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) throw sizeMismatch(a, b, fields);
    for (let i = 0; i < a.length; i++) a[i] = applyOp(op, a[i], b[i], fields);
    return a;
  }
  throw new FmiError('MPI_ERR_TYPE', `ranks contribute different kinds of values (${describe(a)} and ${describe(b)})`, fields);
}

function sizeMismatch(a: unknown, b: unknown, fields: { rank: number; op: string; peer?: number }): FmiError {
  return new FmiError('MPI_ERR_SIZE', `ranks contribute values of different sizes (${describe(a)} and ${describe(b)})`, fields);
}

export function describe(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as NumericArray).length ?? v.byteLength})`;
  if (Array.isArray(v)) return `Array(${v.length})`;
  if (v === null) return 'null';
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}
