import { encode, decode, elemTypeOfKind, Kind, kindOfTyped, bytesOf } from '../codec.js';
import { FmiError } from '../errors.js';
import { elemTypeOf, kernels, typedArrayCtor, viewsOutliveGrowth, type Arena, type ElemType, type NumericArray, type WasmBlock } from '../kernels/index.js';
import { applyOp, describe, type Op } from '../ops/op.js';
import { markCallWide, raiseIfError, type CollContext } from './context.js';
import { unfilled } from '../util/fresh.js';
import { giveOperand, keepOperand, takeOperand } from './operand-pool.js';
import type { Received } from '../channels/channel.js';

/**
 * How a reduction holds, moves and combines partial results. Algorithms are
 * written against this, so the same tree runs in Wasm memory (predefined op on
 * a TypedArray: receive buffers and running results live in the kernel's
 * memory and each step runs the kernel in place) or in JS (custom ops,
 * structured values, tiny arrays).
 */
export interface ReduceEngine<A> {
  local(): A;
  /** This rank's value to send and release, never to change: the value itself where the engine can, else local(). */
  mine(): A;
  send(peer: number, a: A): Promise<void>;
  recv(peer: number): Promise<A>;
  /** left op right, where left holds lower ranks' data. Consumes both; returns the result. */
  combine(left: A, right: A): A;
  clone(a: A): A;
  release(a: A): void;
  /** The final value, as the user gets it. Consumes `a`. */
  result(a: A): unknown;
  /**
   * Releases whatever the algorithm still held when it ended (an error, a
   * timeout); receives still in flight release theirs when they settle.
   */
  dispose(): void;
}

/** Runs `fn` with an engine and always disposes of it. */
export function withEngine<T>(e: ReduceEngine<unknown>, fn: (e: ReduceEngine<unknown>) => Promise<T>): Promise<T> {
  // A ValueEngine holds nothing to dispose of: no frame and no promise of its own for it (small calls, many ranks: bench/README.md, "Issue 11").
  if (e instanceof ValueEngine) {
    try {
      return fn(e);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return disposing(e, fn);
}

async function disposing<T>(e: ReduceEngine<unknown>, fn: (e: ReduceEngine<unknown>) => Promise<T>): Promise<T> {
  try {
    return await fn(e);
  } finally {
    e.dispose();
  }
}

/** Above this many bytes a predefined reduction runs in Wasm memory. */
export const WASM_MIN_BYTES = 2048;

/**
 * `into` (a TypedArray like `value`) receives the result instead of a new
 * array: no fresh memory per call, which these VMs charge for. Without it,
 * `resultAtStart` (for calls where every rank gets the result) makes the new
 * array when the call starts rather than when it ends: a 1 MiB allreduce by
 * recursive doubling then cost its ranks about half the page faults
 * (bench/README.md, "Allreduce algorithms").
 */
export function engineFor(c: CollContext, op: Op, value: unknown, into?: NumericArray, resultAtStart = false): ReduceEngine<unknown> {
  if (op.predefined && ArrayBuffer.isView(value) && value.byteLength >= WASM_MIN_BYTES) {
    const t = elemTypeOf(value);
    if (t) return new WasmEngine(c, op, value as NumericArray, t, into ?? (resultAtStart ? unfilled(typedArrayCtor(t), (value as NumericArray).length) : undefined)) as ReduceEngine<unknown>;
  }
  return new ValueEngine(c, op, value, into);
}

/** Received values go into operand-pool's buffers for a predefined op on a non-empty TypedArray: the kind their messages have; else -1. */
function poolKindOf(op: Op, value: unknown): number {
  if (op.predefined === undefined || !ArrayBuffer.isView(value) || value.byteLength === 0) return -1;
  const t = elemTypeOf(value);
  return t === undefined ? -1 : kindOfTyped(t);
}

class ValueEngine implements ReduceEngine<unknown> {
  /** Where errors of combine happen (made on first use, once per call). */
  #where: { rank: number; op: string } | undefined;
  /** The kind of message received into operand-pool's buffers (-1: none are; undefined: not worked out yet). */
  #poolKind: number | undefined;

  constructor(
    private readonly c: CollContext,
    private readonly op: Op,
    private readonly value: unknown,
    private readonly into?: NumericArray,
  ) {}

  local(): unknown {
    return this.clone(this.value);
  }

  mine(): unknown {
    return this.value;
  }

  send(peer: number, a: unknown): Promise<void> {
    return this.c.send(peer, encode(a));
  }

  recv(peer: number): Promise<unknown> {
    // The channel gave this receive a buffer of its own (or one of operand-pool's): the value is ours to change in place.
    const kind = (this.#poolKind ??= poolKindOf(this.op, this.value));
    if (kind < 0) return this.c.recv(peer).then(this.#taken);
    const n = (this.value as NumericArray).byteLength;
    return this.c.recv(peer, takeOperand(n), n, this.#fits).then(this.#taken);
  }

  /** A message of another kind or size (an error, a rank that called differently) gets a buffer of its own. */
  readonly #fits = (kind: number, length: number): boolean => kind === this.#poolKind && length === (this.value as NumericArray).byteLength;

  /** One function per engine rather than one closure per receive. */
  readonly #taken = (r: Received): unknown => {
    raiseIfError(this.c, r);
    return decode(r.kind, r.data);
  };

  combine(left: unknown, right: unknown): unknown {
    try {
      const out = applyOp(this.op, left, right, (this.#where ??= { rank: this.c.rank, op: this.c.op }));
      // `right` is consumed: its buffer goes back to the pool if it came from there (a predefined op returns `left`).
      if (out !== right && ArrayBuffer.isView(right)) giveOperand(right);
      return out;
    } catch (err) {
      // Values of different sizes or kinds: the ranks called the reduction differently.
      const code = (err as FmiError).code;
      if (this.op.fn === undefined && (code === 'MPI_ERR_SIZE' || code === 'MPI_ERR_TYPE')) markCallWide(err as FmiError);
      throw err;
    }
  }

  clone(a: unknown): unknown {
    if (ArrayBuffer.isView(a)) return (a as NumericArray).slice();
    if (typeof a === 'number' || typeof a === 'bigint' || typeof a === 'string' || typeof a === 'boolean' || a == null) return a;
    return structuredClone(a);
  }

  release(): void {}

  dispose(): void {}

  result(a: unknown): unknown {
    // A received value that became the result is the user's now: never taken back.
    if (ArrayBuffer.isView(a)) keepOperand(a);
    if (this.into && ArrayBuffer.isView(a)) {
      (this.into as { set(x: ArrayLike<unknown>): void }).set(a as unknown as ArrayLike<unknown>);
      return this.into;
    }
    return a;
  }
}

class WasmEngine implements ReduceEngine<WasmBlock> {
  readonly #arena: Arena;
  readonly #bytes: number;
  readonly #kind: number;
  /** Blocks this engine holds, by address; those a receive may still write into. */
  readonly #live = new Map<number, WasmBlock>();
  readonly #receiving = new Set<number>();
  #disposed = false;
  /** Receives may take a view of their block (the kernel reads straight into it) rather than ask for one per chunk. */
  readonly #fixedViews: boolean;

  constructor(
    private readonly c: CollContext,
    private readonly op: Op,
    private readonly value: NumericArray,
    private readonly type: ElemType,
    private readonly into?: NumericArray,
  ) {
    this.#arena = kernels();
    this.#bytes = value.byteLength;
    this.#kind = kindOfTyped(type);
    this.#fixedViews = viewsOutliveGrowth(this.#arena);
  }

  #alloc(): WasmBlock {
    const b = this.#arena.alloc(this.#bytes);
    this.#live.set(b.ptr, b);
    return b;
  }

  #free(b: WasmBlock): void {
    if (this.#live.delete(b.ptr)) this.#arena.free(b);
  }

  dispose(): void {
    this.#disposed = true;
    for (const b of this.#live.values()) if (!this.#receiving.has(b.ptr)) this.#free(b);
  }

  local(): WasmBlock {
    const b = this.#alloc();
    this.#arena.bytes(b, this.#bytes).set(bytesOf(this.value));
    return b;
  }

  mine(): WasmBlock {
    return this.local();
  }

  send(peer: number, a: WasmBlock): Promise<void> {
    return this.c.send(peer, { kind: this.#kind, bytes: this.#arena.bytes(a, this.#bytes) });
  }

  async recv(peer: number): Promise<WasmBlock> {
    const b = this.#alloc();
    this.#receiving.add(b.ptr);
    try {
      const into = this.#fixedViews ? this.#arena.bytes(b, this.#bytes) : () => this.#arena.bytes(b, this.#bytes);
      const r = await this.c.recv(peer, into, this.#bytes);
      raiseIfError(this.c, r);
      if (r.kind !== this.#kind || r.data.byteLength !== this.#bytes) throw this.#mismatch(peer, r.kind, r.data.byteLength);
      return b;
    } catch (err) {
      this.#free(b);
      if ((err as FmiError).code === 'MPI_ERR_TRUNCATE') throw this.#mismatch(peer, this.#kind, Number.NaN);
      throw err;
    } finally {
      this.#receiving.delete(b.ptr);
      // The algorithm ended without this receive (its send failed): nobody will use the block.
      if (this.#disposed) this.#free(b);
    }
  }

  combine(left: WasmBlock, right: WasmBlock): WasmBlock {
    // Predefined ops commute, so the result can stay in `left` whichever side it is.
    this.#arena.apply(this.op.predefined!, this.type, left, right, this.value.length);
    this.#free(right);
    return left;
  }

  clone(a: WasmBlock): WasmBlock {
    const b = this.#alloc();
    this.#arena.bytes(b, this.#bytes).set(this.#arena.bytes(a, this.#bytes));
    return b;
  }

  release(a: WasmBlock): void {
    this.#free(a);
  }

  result(a: WasmBlock): NumericArray {
    const view = this.#arena.view(a, this.type, this.value.length);
    let out: NumericArray;
    if (this.into) {
      (this.into as { set(x: ArrayLike<unknown>): void }).set(view as ArrayLike<unknown>);
      out = this.into;
    } else out = view.slice();
    this.#free(a);
    return out;
  }

  /** The peer's contribution is not of this rank's type or size (an error every rank of the call must hear of). */
  #mismatch(peer: number, kind: number, bytes: number): FmiError {
    const theirs = kind === Kind.STRUCTURED ? 'a structured value' : `${elemTypeOfKind(kind) ?? 'kind ' + kind}${Number.isNaN(bytes) ? ' of a larger size' : ` of ${bytes} bytes`}`;
    return markCallWide(new FmiError(kind === this.#kind ? 'MPI_ERR_SIZE' : 'MPI_ERR_TYPE', `rank ${peer} contributed ${theirs}, this rank ${describe(this.value)}`, this.c.fields(peer)));
  }
}
