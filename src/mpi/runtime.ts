import { init, type InitOptions } from '../comm/init.js';
import type { Communicator } from '../comm/communicator.js';
import {
  COMM_SELF, COMM_WORLD, ERROR_NAMES, KEYVAL_INVALID, ERRORS_ARE_FATAL, ERRORS_RETURN, Err, GROUP_EMPTY, INFO_ENV,
} from './abi.js';
import { predefinedDatatypes, type Datatype } from './datatypes.js';
import { JobAbortedError, MpiError, toMpiError } from './errors.js';
import { unsupportedError } from './unsupported.js';
import { HandleTable } from './handles.js';
import { predefinedOps, type MpiOp } from './ops.js';
import { ProgramData } from './program-data.js';
import type { MpiRequest } from './requests.js';

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
}

/** A process topology: Cartesian, graph (MPI_Graph_create) or distributed graph. */
export type Topology =
  | { kind: 'cart'; dims: number[]; periods: boolean[] }
  | { kind: 'graph'; index: number[]; edges: number[] }
  | { kind: 'dist'; sources: number[]; sourceWeights: number[] | undefined; dests: number[]; destWeights: number[] | undefined };

export type Errhandler = { kind: 'fatal' } | { kind: 'return' } | { kind: 'user'; fn: number; /** freed by the program, kept while a communicator uses it */ freed?: boolean };

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
export class MpiRuntime extends ProgramData {
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
  readonly options: RuntimeOptions;
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
    super();
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

  /** `args`: an Array (bindings/library_fmi.js), or the `arguments` object of programs linked before it passed one. */
  call(name: string, args: ArrayLike<number> & Iterable<number>): number | Promise<number> {
    const impl = this.options.impls[name];
    this.#errComm = COMM_WORLD;
    // Once the job is being stopped, every MPI call ends the program (also polling loops of MPI_Test/Iprobe).
    if (this.signal?.aborted) return this.fail(name, undefined, COMM_WORLD);
    if (!impl) {
      return this.fail(name, unsupportedError(this, name), COMM_WORLD);
    }
    try {
      const r = impl(this, ...args);
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
    // The exit status is the error's class (a code added for it has one).
    this.pendingExit = (this.addedClasses.get(e.code) ?? e.code) || 1;
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
   * (`return await`: a promise returned from a then-callback or an async
   * function costs two more microtasks than one awaited.)
   */
  async later<T>(f: () => T | Promise<T>): Promise<T> {
    await Promise.resolve();
    return await f();
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
  override datatype(h: number, needCommitted = true): Datatype {
    const t = this.datatypes.get(h);
    if (!t) throw new MpiError(Err.TYPE, h === 0 ? 'MPI_DATATYPE_NULL is not a datatype' : `invalid datatype handle 0x${(h >>> 0).toString(16)}`);
    if (needCommitted && !t.committed) throw new MpiError(Err.TYPE, `datatype ${t.name || `0x${(h >>> 0).toString(16)}`} is not committed (call MPI_Type_commit)`);
    return t;
  }

  override op(h: number): MpiOp {
    const o = this.ops.get(h);
    if (!o) throw new MpiError(Err.OP, h === 0 ? 'MPI_OP_NULL is not an op' : `invalid op handle 0x${(h >>> 0).toString(16)}`);
    return o;
  }

  group(h: number): number[] {
    const g = this.groups.get(h);
    if (!g) throw new MpiError(Err.GROUP, h === 0 ? 'MPI_GROUP_NULL is not a group' : `invalid group handle 0x${(h >>> 0).toString(16)}`);
    return g;
  }

  /** Stops the job from inside the program (MPI_Abort). */
  abort(code: number): void {
    this.pendingExit = code & 255 || 1;
    this.options.onAbort?.(this.pendingExit);
  }
}
