import { kindOfTyped } from '../codec.js';
import { FmiError } from '../errors.js';
import { kernels, typedArrayCtor, viewsOutliveGrowth, type Arena, type ElemType, type PredefinedOpName, type WasmBlock } from '../kernels/index.js';
import { raiseIfError, sendError, type CollContext } from './context.js';

/** A block of a TypedArray: `count` elements from element `offset`. */
export interface Block {
  offset: number;
  count: number;
}

/** Splits `n` elements into `parts` blocks as equal as can be. */
export function equalBlocks(n: number, parts: number): Block[] {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  const out: Block[] = [];
  let offset = 0;
  for (let i = 0; i < parts; i++) {
    const count = base + (i < extra ? 1 : 0);
    out.push({ offset, count });
    offset += count;
  }
  return out;
}

/**
 * Ring reduction over a buffer in Wasm memory, for commutative predefined
 * ops. `reduceScatter`: size - 1 steps in which each rank passes one block to
 * its right neighbour and folds the block from its left into its own copy, in
 * place; afterwards block r is complete at rank r. `allgatherInto`: size - 1
 * more steps circulate the complete blocks. Together they are the bandwidth-optimal
 * ring allreduce: each rank sends and receives 2 (size - 1) / size of the
 * buffer instead of log2(size) whole buffers.
 */
export class RingBuffer {
  readonly #arena: Arena;
  readonly #acc: WasmBlock;
  #tmp: WasmBlock | undefined;
  #sent = 0;
  /** The receive of the current step: it writes into this buffer until it settles. */
  #inflight: Promise<unknown> | undefined;
  readonly #kind: number;
  readonly #bpe: number;
  /** Receives land straight in Wasm memory (see viewsOutliveGrowth) instead of asking for a view per chunk. */
  readonly #fixed: boolean;

  constructor(
    private readonly c: CollContext,
    private readonly op: PredefinedOpName,
    private readonly type: ElemType,
    data: ArrayBufferView,
    private readonly blocks: Block[],
  ) {
    this.#arena = kernels();
    this.#bpe = typedArrayCtor(type).BYTES_PER_ELEMENT;
    this.#acc = this.#arena.alloc(data.byteLength);
    this.#arena.bytes(this.#acc, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.#kind = kindOfTyped(type);
    this.#fixed = viewsOutliveGrowth(this.#arena);
  }

  /** A receive target for `view()`: the view itself where it stays valid, else a function the channel calls per chunk. */
  #target(view: () => Uint8Array): Uint8Array | (() => Uint8Array) {
    return this.#fixed ? view() : view;
  }

  #bytes(b: Block): Uint8Array {
    const all = this.#arena.bytes(this.#acc);
    return all.subarray(b.offset * this.#bpe, (b.offset + b.count) * this.#bpe);
  }

  async reduceScatter(): Promise<void> {
    const { rank, size } = this.c;
    const right = (rank + 1) % size;
    const left = (rank - 1 + size) % size;
    const maxBytes = Math.max(...this.blocks.map((b) => b.count)) * this.#bpe;
    const tmp = (this.#tmp = this.#arena.alloc(Math.max(16, maxBytes)));
    for (let s = 0; s < size - 1; s++) {
      const sendBlock = this.blocks[(rank - s - 1 + size) % size]!;
      const recvBlock = this.blocks[(rank - s - 2 + 2 * size) % size]!;
      const want = recvBlock.count * this.#bpe;
      const incoming = this.c.recv(left, this.#target(() => this.#arena.bytes(tmp, want)), want);
      incoming.catch(() => {}); // awaited below; a failed send must not leave it unhandled
      this.#inflight = incoming;
      this.#sent++;
      await this.c.send(right, { kind: this.#kind, bytes: this.#bytes(sendBlock) });
      const r = await incoming;
      this.#inflight = undefined;
      raiseIfError(this.c, r);
      if (r.kind !== this.#kind || r.data.byteLength !== want) {
        throw new FmiError('MPI_ERR_SIZE', `rank ${left} contributed a different type or size`, this.c.fields(left));
      }
      const at: WasmBlock = { ptr: this.#acc.ptr + recvBlock.offset * this.#bpe, byteLength: want };
      this.#arena.apply(this.op, this.type, at, tmp, recvBlock.count);
    }
  }

  /**
   * The allgather, straight into `out` (the caller's result: a JS array or
   * `into`), so the result is written once: this rank's complete block is
   * copied there, the others arrive there from the socket and are sent on
   * from there.
   */
  async allgatherInto(out: Uint8Array): Promise<void> {
    const { rank, size } = this.c;
    const right = (rank + 1) % size;
    const left = (rank - 1 + size) % size;
    const range = (b: Block) => out.subarray(b.offset * this.#bpe, (b.offset + b.count) * this.#bpe);
    const own = this.blocks[rank]!;
    range(own).set(this.#bytes(own));
    for (let s = 0; s < size - 1; s++) {
      const sendBlock = this.blocks[(rank - s + size) % size]!;
      const recvBlock = this.blocks[(rank - s - 1 + size) % size]!;
      const want = recvBlock.count * this.#bpe;
      const incoming = this.c.recv(left, range(recvBlock), want);
      incoming.catch(() => {}); // awaited below; a failed send must not leave it unhandled
      this.#inflight = incoming;
      this.#sent++;
      await this.c.send(right, { kind: this.#kind, bytes: range(sendBlock) });
      const r = await incoming;
      this.#inflight = undefined;
      raiseIfError(this.c, r);
      if (r.data.byteLength !== want) throw new FmiError('MPI_ERR_SIZE', `rank ${left} sent a block of another size`, this.c.fields(left));
    }
  }

  /** A copy of block `b` (or the whole buffer) out of Wasm memory. */
  take(b?: Block): Uint8Array {
    return this.peek(b).slice();
  }

  /** Like take(), without the copy: a view valid until the arena's memory grows. */
  peek(b?: Block): Uint8Array {
    return b ? this.#bytes(b) : this.#arena.bytes(this.#acc);
  }

  /**
   * After a failure: the right neighbour still waits for `planned - sent`
   * messages from this rank; the next one it gets is this rank's error.
   */
  async failOnward(planned: number, err: unknown): Promise<void> {
    if (this.#sent < planned) await sendError(this.c, [(this.c.rank + 1) % this.c.size], err);
  }

  /** Frees the buffers; after a failure, only once a receive still in flight cannot write into them. */
  release(): void {
    const free = () => {
      this.#arena.free(this.#acc);
      if (this.#tmp) this.#arena.free(this.#tmp);
    };
    const pending = this.#inflight;
    if (pending) pending.then(free, free);
    else free();
  }
}
