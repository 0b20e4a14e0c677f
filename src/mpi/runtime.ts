import { init, type InitOptions } from '../comm/init.js';
import type { Communicator } from '../comm/communicator.js';
import type { Arena, NumericArray } from '../kernels/index.js';
import { createArena, typedArrayCtor } from '../kernels/index.js';
import {
  COMM_SELF, COMM_WORLD, ERROR_NAMES, KEYVAL_INVALID, ERRORS_ARE_FATAL, ERRORS_RETURN, Err, GROUP_EMPTY, INFO_ENV, IN_PLACE,
  STATUS_IGNORE, Status,
} from './abi.js';
import { extentOf, predefinedDatatypes, type Datatype } from './datatypes.js';
import { JobAbortedError, MpiError, toMpiError } from './errors.js';
import { HandleTable } from './handles.js';
import { Memory, type ProgramHost } from './memory.js';
import { planFor, predefinedOps, type MpiOp, type Plan } from './ops.js';
import type { PredefinedOpName } from '../kernels/index.js';
import { packInto, spanOf, unpackFrom } from './pack.js';
import { ProgramPacker } from './program-pack.js';
import type { MpiRequest } from './requests.js';
import type { InterState } from './inter/state.js';

/** A communicator as C sees it. */
export interface CommEntry {
  comm: Communicator;
  /** World rank of each rank of this communicator (of its local group, on an intercommunicator). */
  group: number[];
  /** Intercommunicators: world rank of each rank of the remote group. */
  remote?: number[];
  errhandler: number;
  name: string;
  /** keyval -> attribute value (a C pointer-sized int). */
  attrs: Map<number, number>;
  topo?: Topology;
  info?: Map<string, string>;
  /** A private duplicate for neighborhood collectives, made by the first one (every rank calls them in the same order). */
  neighborComm?: Promise<Communicator>;
  /** Intercommunicators: what their collectives run on, made by the first one (inter/state.ts). */
  inter?: InterState;
}

/** A process topology: Cartesian, graph (MPI_Graph_create) or distributed graph. */
export type Topology =
  | { kind: 'cart'; dims: number[]; periods: boolean[] }
  | { kind: 'graph'; index: number[]; edges: number[] }
  | { kind: 'dist'; sources: number[]; sourceWeights: number[] | undefined; dests: number[]; destWeights: number[] | undefined };

export type Errhandler = { kind: 'fatal' } | { kind: 'return' } | { kind: 'user'; fn: number };

export interface Keyval {
  copy: number;
  del: number;
  extra: number;
  /** Freed by the program while attributes of it were still set: goes with the last one. */
  freed?: boolean;
  /** Made by MPI_Type_create_keyval (attributes on datatypes); communicators' keyvals otherwise. */
  kind?: 'type';
}

export interface RuntimeOptions {
  /**
   * The MPI functions by name (impls.ts's IMPLS). Passed in rather than
   * imported, so the function families, which take the runtime as argument,
   * and the runtime do not import each other.
   */
  impls: Readonly<Record<string, Impl>>;
  /** The rank's world communicator; without it MPI_Init calls init(initOptions) and closes it at the end. */
  comm?: Communicator;
  initOptions?: InitOptions;
  /** Aborting it fails every pending MPI call: the job is being stopped. */
  signal?: AbortSignal;
  /** Where fatal error reports go (the program's stderr). */
  stderr: (line: string) => void;
  /** Called once when the program calls MPI_Abort. */
  onAbort?: (code: number) => void;
}

/** An MPI function as the runtime implements it: i32 arguments in, an error code (or its promise) out. */
export type Impl = (rt: MpiRuntime, ...args: number[]) => number | Promise<number>;

/**
 * The state behind one program's MPI library: handle tables, the
 * communicators, error handling. bindings/library_fmi.js calls `call()` for
 * every MPI function; a returned Promise makes the program sleep (Asyncify).
 */
export class MpiRuntime {
  readonly comms = new HandleTable<CommEntry>('comm', 2);
  readonly groups = new HandleTable<number[]>('group', 1);
  readonly requests = new HandleTable<MpiRequest>('request', 1);
  readonly datatypes = new HandleTable<Datatype>('datatype', 256);
  readonly ops = new HandleTable<MpiOp>('op', 32);
  readonly errhandlers = new HandleTable<Errhandler>('errhandler', 2);
  readonly infos = new HandleTable<Map<string, string>>('info', 1);
  /** Messages taken off the queue by MPI_Mprobe/MPI_Improbe, waiting for MPI_Mrecv. */
  readonly messages = new HandleTable<{ source: number; tag: number; data: Uint8Array }>('message', 1);
  readonly keyvals = new Map<number, Keyval>();
  /** Datatype handle -> keyval -> attribute value (type-attrs.ts). */
  readonly typeAttrs = new Map<number, Map<number, number>>();
  /** Strings and classes of error classes/codes the program added. */
  readonly addedErrors = new Map<number, string>();
  readonly addedClasses = new Map<number, number>();
  nextErrorCode = Err.LASTCODE + 1;
  nextKeyval = KEYVAL_INVALID + 0x100;
  state: 'new' | 'initialized' | 'finalized' = 'new';
  threadLevel = 0;
  /** Set when the program must end (fatal error, MPI_Abort): the library calls exit() with it. */
  pendingExit: number | undefined;
  /** Pointer to the ints MPI_Comm_get_attr hands out for predefined attributes. */
  attrStore = 0;
  /** MPI_Buffer_attach'ed buffer. */
  buffer: { ptr: number; size: number } | undefined;
  world: Communicator | undefined;
  /**
   * Non-blocking reductions with a user op in flight: their C callbacks may
   * grow memory while the program is suspended, so blocking calls must not
   * lend fmi views of the program's memory meanwhile.
   */
  callbacksPending = 0;
  readonly options: RuntimeOptions;
  #mem: Memory | undefined;
  /** fmi's kernels over the program's memory; null when the host lends no (non-shared) memory. */
  #arena: Arena | null | undefined;
  #packer: ProgramPacker | undefined;
  /**
   * What the program freed while requests were pending (MPI 3.1 §4.1.9: a
   * freed datatype stays valid for operations already using it): released
   * once every one of those requests is gone, so their handle numbers are not
   * reused meanwhile.
   */
  readonly #retiring: { release: () => void; waiting: Set<MpiRequest> }[] = [];
  #ownsWorld = false;
  #errComm = COMM_WORLD;
  readonly #t0 = performance.now();

  /** Rejects when options.signal aborts. */
  readonly #stopped: Promise<never> | undefined;

  constructor(options: RuntimeOptions) {
    this.options = options;
    const signal = options.signal;
    if (signal) {
      this.#stopped = new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      this.#stopped.catch(() => {});
    }
    for (const [h, t] of predefinedDatatypes()) this.datatypes.define(h, t);
    for (const [h, o] of predefinedOps()) this.ops.define(h, o);
    this.errhandlers.define(ERRORS_ARE_FATAL, { kind: 'fatal' });
    this.errhandlers.define(ERRORS_RETURN, { kind: 'return' });
    this.groups.define(GROUP_EMPTY, []);
    this.infos.define(INFO_ENV, new Map());
  }

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

  get signal(): AbortSignal | undefined {
    return this.options.signal;
  }

  get worldRank(): number {
    return this.world?.rank ?? this.options.comm?.rank ?? this.options.initOptions?.rank ?? (Number(process.env.FMI_RANK) || 0);
  }

  /** "rank R of N" for messages, as far as it is known yet. */
  get rankLabel(): string {
    const size = this.world?.size ?? this.options.comm?.size;
    return `rank ${this.worldRank}${size === undefined ? '' : ` of ${size}`}`;
  }

  wtime(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  wtick(): number {
    return 1e-6;
  }

  // ---- dispatch and errors --------------------------------------------------

  call(name: string, args: ArrayLike<number>): number | Promise<number> {
    const impl = this.options.impls[name];
    this.#errComm = COMM_WORLD;
    // Once the job is being stopped, every MPI call ends the program (also polling loops of MPI_Test/Iprobe).
    if (this.signal?.aborted) return this.fail(name, undefined, COMM_WORLD);
    if (!impl) {
      return this.fail(name, new MpiError(Err.UNSUPPORTED_OPERATION, `${name} is not supported by fmi (yet): see docs/mpi.md`), COMM_WORLD);
    }
    try {
      const r = impl(this, ...Array.from(args));
      if (typeof r === 'number') return r;
      // The program is suspended in this call until it settles, so no other
      // call changes #errComm meanwhile: read it when the error comes. A job
      // abort ends the wait at once (cheaper than a signal on every operation).
      const waiting = this.#stopped ? Promise.race([r, this.#stopped]) : r;
      return waiting.then(undefined, (err: unknown) => this.fail(name, err, this.#errComm));
    } catch (err) {
      return this.fail(name, err, this.#errComm);
    }
  }

  /** Applies the error handler of communicator `commH` to an error of `fn`; returns the code for C. */
  fail(fn: string, err: unknown, commH: number): number {
    if (this.pendingExit !== undefined) return Err.OTHER;
    if (this.signal?.aborted) err = new JobAbortedError(`the job was stopped (${String((this.signal.reason as Error)?.message ?? this.signal.reason)})`);
    const e = toMpiError(err);
    const eh = err instanceof JobAbortedError ? { kind: 'fatal' as const } : this.errhandlers.get(this.comms.get(commH)?.errhandler ?? ERRORS_ARE_FATAL) ?? { kind: 'fatal' as const };
    if (eh.kind === 'return') return e.code;
    if (eh.kind === 'user') {
      this.callErrhandler(eh.fn, commH, e.code);
      return e.code;
    }
    const name = ERROR_NAMES[e.code] ?? `error ${e.code}`;
    const msg = e.message.startsWith('MPI_ERR') || e.message.startsWith('FMI_') ? e.message : `${name}: ${e.message}`;
    this.options.stderr(`fmi: ${this.rankLabel}: fatal error in ${fn}: ${msg}`);
    this.pendingExit = e.code || 1;
    return e.code;
  }

  callErrhandler(fn: number, commH: number, code: number): void {
    const host = this.mem.host;
    const p = host.malloc(8);
    try {
      this.mem.setI32(p, commH);
      this.mem.setI32(p + 4, code);
      host.call(fn, p, p + 4, 0);
    } finally {
      host.free(p);
    }
  }

  // ---- lifecycle ----------------------------------------------------------------

  async initialize(): Promise<void> {
    if (this.state !== 'new') throw new MpiError(Err.OTHER, this.state === 'finalized' ? 'MPI was already finalized' : 'MPI was already initialized');
    const world = this.options.comm ?? (await init(this.options.initOptions));
    this.#ownsWorld = this.options.comm === undefined;
    this.world = world;
    const self = await init({ rank: 0, size: 1, job: `${world.job}/self/${world.rank}`, env: {} });
    this.comms.define(COMM_WORLD, { comm: world, group: Array.from({ length: world.size }, (_, i) => i), errhandler: ERRORS_ARE_FATAL, name: 'MPI_COMM_WORLD', attrs: new Map() });
    this.comms.define(COMM_SELF, { comm: self, group: [world.rank], errhandler: ERRORS_ARE_FATAL, name: 'MPI_COMM_SELF', attrs: new Map() });
    this.attrStore = this.mem.host.malloc(32);
    this.state = 'initialized';
  }

  /** Releases what the runtime opened (called when the program ends, whatever way). */
  async shutdown(): Promise<void> {
    for (const [, r] of this.requests.entries()) r.cancel?.();
    const self = this.comms.get(COMM_SELF)?.comm;
    await self?.close().catch(() => {});
    if (this.#ownsWorld) await this.world?.close().catch(() => {});
  }

  // ---- handle lifetimes ---------------------------------------------------------

  /**
   * Runs `release` (which frees a handle) now, or once every request pending
   * now is completed or freed: any of them may still use the object.
   */
  retire(release: () => void): void {
    const waiting = new Set<MpiRequest>();
    for (const [, r] of this.requests.entries()) waiting.add(r);
    if (waiting.size === 0) return release();
    this.#retiring.push({ release, waiting });
  }

  /** Removes request handle h (completed or freed); releases what was retired while it was pending. */
  dropRequest(h: number): void {
    const r = this.requests.get(h);
    this.requests.remove(h);
    if (!r || this.#retiring.length === 0) return;
    for (let i = 0; i < this.#retiring.length; i++) {
      const d = this.#retiring[i]!;
      d.waiting.delete(r);
      if (d.waiting.size === 0) {
        this.#retiring.splice(i--, 1);
        d.release();
      }
    }
  }

  // ---- argument helpers for the implementations ---------------------------------

  /**
   * Runs `f` once the program is suspended. Asyncify mallocs its save area
   * when the program goes to sleep, which may grow (and so detach) the
   * memory: a blocking call that lends fmi views of the program's memory
   * must make them after that, never in the import call itself.
   */
  later<T>(f: () => T | Promise<T>): Promise<T> {
    return Promise.resolve().then(f);
  }

  /** The communicator behind handle h; its error handler applies to this call. */
  comm(h: number): CommEntry {
    if (this.state !== 'initialized') throw new MpiError(Err.OTHER, this.state === 'new' ? 'MPI is not initialized (call MPI_Init first)' : 'MPI was already finalized');
    const c = this.comms.get(h);
    if (!c) throw new MpiError(Err.COMM, h === 0 ? 'MPI_COMM_NULL is not a communicator' : `invalid communicator handle 0x${(h >>> 0).toString(16)}`);
    this.#errComm = h;
    return c;
  }

  /** The communicator whose error handler applies to the current call. */
  get currentComm(): number {
    return this.#errComm;
  }

  /** Makes `h` the communicator whose error handler applies (e.g. a request's). */
  errorsOn(h: number): void {
    this.#errComm = h;
  }

  /** A datatype usable in communication (committed). */
  datatype(h: number, needCommitted = true): Datatype {
    const t = this.datatypes.get(h);
    if (!t) throw new MpiError(Err.TYPE, h === 0 ? 'MPI_DATATYPE_NULL is not a datatype' : `invalid datatype handle 0x${(h >>> 0).toString(16)}`);
    if (needCommitted && !t.committed) throw new MpiError(Err.TYPE, `datatype ${t.name || `0x${(h >>> 0).toString(16)}`} is not committed (call MPI_Type_commit)`);
    return t;
  }

  op(h: number): MpiOp {
    const o = this.ops.get(h);
    if (!o) throw new MpiError(Err.OP, h === 0 ? 'MPI_OP_NULL is not an op' : `invalid op handle 0x${(h >>> 0).toString(16)}`);
    return o;
  }

  group(h: number): number[] {
    const g = this.groups.get(h);
    if (!g) throw new MpiError(Err.GROUP, h === 0 ? 'MPI_GROUP_NULL is not a group' : `invalid group handle 0x${(h >>> 0).toString(16)}`);
    return g;
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

  /** Stops the job from inside the program (MPI_Abort). */
  abort(code: number): void {
    this.pendingExit = code & 255 || 1;
    this.options.onAbort?.(this.pendingExit);
  }
}
