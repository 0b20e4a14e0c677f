import type { Arena, NumericArray, PredefinedOpName } from '../kernels/index.js';
import { createArena, typedArrayCtor } from '../kernels/index.js';
import { Err, IN_PLACE, STATUS_IGNORE, Status } from './abi.js';
import { extentOf, type Datatype } from './datatypes.js';
import { MpiError } from './errors.js';
import { Memory, type ProgramHost } from './memory.js';
import { planFor, type MpiOp, type Plan } from './ops.js';
import { packInto, spanOf, unpackFrom } from './pack.js';
import { ProgramPacker } from './program-pack.js';

/**
 * The program side of the runtime: its memory, the kernels over it, and the
 * conversions between the program's typed buffers and the bytes and arrays
 * fmi moves (packing, reductions, statuses). MpiRuntime extends it with the
 * handle tables, dispatch and lifecycle; the two lookups this needs from
 * those tables are abstract here.
 */
export abstract class ProgramData {
  /**
   * Non-blocking reductions with a user op in flight: their C callbacks may
   * grow memory while the program is suspended, so blocking calls must not
   * lend fmi views of the program's memory meanwhile.
   */
  callbacksPending = 0;
  #mem: Memory | undefined;
  /** fmi's kernels over the program's memory; null when the host lends no (non-shared) memory. */
  #arena: Arena | null | undefined;
  #packer: ProgramPacker | undefined;

  /** A datatype usable in communication (committed unless told otherwise). */
  abstract datatype(h: number, needCommitted?: boolean): Datatype;
  abstract op(h: number): MpiOp;

  /** Connects the runtime to the instantiated program (Module.fmiHost). */
  attach(host: ProgramHost): void {
    this.#mem = new Memory(host);
    this.#arena = undefined;
    this.#packer = new ProgramPacker(host);
  }

  /**
   * The kernels instantiated over the program's WebAssembly.Memory (one per
   * program, made on first use): `apply` combines buffers of the program in
   * place, with pointers the program handed out. The arena never allocates
   * here (the program's malloc owns its memory). Undefined when the host lends
   * no memory (or a shared one): callers fall back to JS.
   */
  arena(): Arena | undefined {
    if (this.#arena === undefined) {
      const m = this.mem.host.memory?.();
      this.#arena = m !== undefined && !(m.buffer instanceof SharedArrayBuffer) ? createArena(m) : null;
    }
    return this.#arena ?? undefined;
  }

  /** The pack kernels (assembly/pack.ts) over the program's memory, with their block tables and scratch space. */
  get packer(): ProgramPacker {
    if (!this.#packer) throw new MpiError(Err.INTERN, 'the runtime is not attached to a program');
    return this.#packer;
  }

  /**
   * Packs `count` elements of t at `src` to `dst`, both in the program's
   * memory (not overlapping): with a Wasm kernel for types of enough blocks
   * (may malloc the type's block table), in JS otherwise.
   */
  packWithin(src: number, count: number, t: Datatype, dst: number): void {
    if (this.packer.packWithin(src, count, t, dst)) return;
    const heap = this.mem.u8();
    packInto(heap, src >>> 0, count, t, heap, dst >>> 0);
  }

  /** The inverse of packWithin: all `count` elements of t from the packed bytes at src into dst. */
  unpackWithin(src: number, count: number, t: Datatype, dst: number): void {
    if (this.packer.unpackWithin(src, count, t, dst)) return;
    const heap = this.mem.u8();
    unpackFrom(heap, src >>> 0, count * t.size, heap, dst >>> 0, count, t);
  }

  /**
   * inout = in op inout over `count` elements of th, for a predefined op and
   * type (plan 'typed'), run by the kernels in the program's memory. Derived
   * types are packed into scratch space from the program's malloc, combined
   * there and unpacked. Returns false when there is no arena (the caller
   * combines in JS).
   */
  combineInPlace(plan: Plan & { kind: 'typed' }, name: PredefinedOpName, inbuf: number, inoutbuf: number, count: number, th: number): boolean {
    const arena = this.arena();
    if (arena === undefined) return false;
    const t = this.datatype(th);
    const n = this.count(count) * t.size;
    if (n === 0) return true;
    const len = n / typedArrayCtor(plan.elem).BYTES_PER_ELEMENT;
    if (t.dense !== undefined) {
      // Predefined ops are commutative element by element: inout op= in is in op inout.
      arena.apply(name, plan.elem, { ptr: (inoutbuf + t.dense) >>> 0, byteLength: n }, { ptr: (inbuf + t.dense) >>> 0, byteLength: n }, len);
      return true;
    }
    const host = this.mem.host;
    const raw = host.malloc(2 * n + 16);
    if (raw === 0) throw new MpiError(Err.NO_MEM, 'out of memory for MPI_Reduce_local scratch space');
    try {
      const a = (raw + 15) & ~15;
      const b = a + n;
      this.packWithin(inbuf, count, t, a);
      this.packWithin(inoutbuf, count, t, b);
      arena.apply(name, plan.elem, { ptr: b, byteLength: n }, { ptr: a, byteLength: n }, len);
      this.unpackWithin(b, count, t, inoutbuf);
    } finally {
      host.free(raw);
    }
    return true;
  }

  /**
   * A view of the program's receive buffer a typed reduction can write its
   * result into directly (Communicator `into`), or undefined when the result
   * must go through a copy: the type is not one dense block, the address is
   * not aligned for the element type, or something may grow memory (so
   * detach the view) while the operation is pending. Only for blocking
   * calls, made after the program is suspended (rt.later).
   */
  resultView(plan: Plan, ptr: number, count: number, th: number): NumericArray | undefined {
    if (plan.kind !== 'typed' || this.callbacksPending > 0) return undefined;
    const t = this.datatype(th);
    if (t.dense === undefined) return undefined;
    const Ctor = typedArrayCtor(plan.elem);
    const w = Ctor.BYTES_PER_ELEMENT;
    const at = (ptr + t.dense) >>> 0;
    const n = this.count(count) * t.size;
    if (at % w !== 0 || n % w !== 0) return undefined;
    return new Ctor(this.mem.u8().buffer as ArrayBuffer, at, n / w);
  }

  get mem(): Memory {
    if (!this.#mem) throw new MpiError(Err.INTERN, 'the runtime is not attached to a program');
    return this.#mem;
  }

  count(n: number, what = 'count'): number {
    if (!(n >= 0)) throw new MpiError(Err.COUNT, `${what} must be non-negative, got ${n}`);
    return n;
  }

  /**
   * The packed bytes of `count` elements of type th at ptr: a view of the
   * program's memory when the data is one dense block (unless `copy`), a new
   * buffer otherwise (packed by a kernel through scratch space when the
   * type has enough blocks: this may malloc, so call it before lending fmi
   * any view of the program's memory). Views are only good until the program
   * runs again.
   */
  read(ptr: number, count: number, th: number, copy: boolean): Uint8Array {
    const t = this.datatype(th);
    this.count(count);
    const n = count * t.size;
    if (t.dense !== undefined) return copy || this.callbacksPending > 0 ? this.mem.copy(ptr + t.dense, n) : this.mem.view(ptr + t.dense, n);
    const packed = this.packer.read(ptr, count, t);
    if (packed !== undefined) return packed;
    const out = new Uint8Array(n);
    packInto(this.mem.u8(), ptr >>> 0, count, t, out, 0);
    return out;
  }

  /**
   * Writes packed bytes into `count` elements of type th at ptr; more bytes
   * than fit is MPI_ERR_TRUNCATE. May malloc scratch space for the kernels
   * unless prepare() reserved it.
   */
  write(ptr: number, count: number, th: number, bytes: Uint8Array): void {
    const t = this.datatype(th);
    if (bytes.byteLength > count * t.size) {
      throw new MpiError(Err.TRUNCATE, `message of ${bytes.byteLength} bytes does not fit ${count} x ${t.name || 'derived datatype'} (${count * t.size} bytes)`);
    }
    if (bytes.byteLength === 0 || this.packer.write(ptr, count, t, bytes)) return;
    unpackFrom(bytes, 0, bytes.byteLength, this.mem.u8(), ptr >>> 0, count, t);
  }

  /** The reduction plan and input of `count` elements of th at ptr. */
  reduceInput(ptr: number, count: number, th: number, opH: number, copy: boolean): { plan: Plan; data: NumericArray | Uint8Array } {
    const t = this.datatype(th);
    const plan = planFor(this.op(opH), t, th, this.mem.host);
    return { plan, data: this.reduceData(plan, ptr, count, th, copy) };
  }

  reduceData(plan: Plan, ptr: number, count: number, th: number, copy: boolean): NumericArray | Uint8Array {
    this.count(count);
    if (plan.kind === 'span') {
      const t = this.datatype(th);
      const ext = extentOf(t);
      const out = new Uint8Array(count * ext);
      const s = spanOf(t, count);
      out.set(this.mem.view(ptr + t.trueLb, s.length), 0);
      return out;
    }
    const bytes = this.read(ptr, count, th, copy);
    if (plan.kind === 'bytes') return bytes;
    const Ctor = typedArrayCtor(plan.elem);
    const w = Ctor.BYTES_PER_ELEMENT;
    const aligned = bytes.byteOffset % w === 0 ? bytes : bytes.slice();
    return new Ctor(aligned.buffer as ArrayBuffer, aligned.byteOffset, aligned.byteLength / w);
  }

  /** Writes a reduction result back into `count` elements of th at ptr. */
  reduceOutput(plan: Plan, ptr: number, count: number, th: number, result: NumericArray | Uint8Array): void {
    const bytes = new Uint8Array(result.buffer, result.byteOffset, result.byteLength);
    if (plan.kind !== 'span') return this.write(ptr, count, th, bytes);
    const t = this.datatype(th);
    const ext = extentOf(t);
    const heap = this.mem.u8();
    const b = t.blocks;
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < b.length; k += 2) {
        const at = i * ext + b[k]! - t.trueLb;
        heap.set(bytes.subarray(at, at + b[k + 1]!), (ptr >>> 0) + i * ext + b[k]!);
      }
    }
  }

  isInPlace(ptr: number): boolean {
    return ptr === IN_PLACE;
  }

  /** Fills an MPI_Status (unless MPI_STATUS_IGNORE). */
  setStatus(ptr: number, source: number, tag: number, bytes: number, cancelled = false, error = 0): void {
    if (ptr === STATUS_IGNORE || ptr === 0) return;
    const m = this.mem;
    m.setI32(ptr + Status.SOURCE, source);
    m.setI32(ptr + Status.TAG, tag);
    m.setI32(ptr + Status.ERROR, error);
    m.setI32(ptr + Status.COUNT, bytes);
    m.setI32(ptr + Status.CANCELLED, cancelled ? 1 : 0);
  }
}
