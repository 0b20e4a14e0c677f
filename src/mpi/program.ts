import { readFileSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve, sep } from 'node:path';
import { FmiError } from '../errors.js';
import vm from 'node:vm';
import type { Communicator } from '../comm/communicator.js';
import type { InitOptions } from '../comm/init.js';
import type { ProgramHost } from './memory.js';
import { IMPLS } from './impls.js';
import { MpiRuntime } from './runtime.js';
import type {} from './webassembly.js';

/** `fmi run --mount` hands its directories to each rank (rank-main.js) in this variable, path.delimiter between them. */
export const MOUNT_ENV = 'FMI_MOUNT';

/** Absolute paths of host directories to mount; FmiError FMI_CONFIG for one that is not a directory. */
export function mountDirs(dirs: readonly string[]): string[] {
  return dirs.map((d) => {
    const abs = resolve(d);
    let dir = false;
    try {
      dir = statSync(abs).isDirectory();
    } catch {
      // reported below
    }
    if (!dir) throw new FmiError('FMI_CONFIG', `--mount ${d}: not a directory`);
    if (abs === sep) throw new FmiError('FMI_CONFIG', `--mount ${d}: mount a directory below / (or link the program with -sNODERAWFS=1 to give it every host file)`);
    return abs;
  });
}

/** The first line `fmi cc` writes into every program it links: how `fmi run` recognises one. */
export const PROGRAM_MARKER = '// fmi-mpi-program ';

export interface ProgramInfo {
  /** ABI version of bindings/library_fmi.js the program was linked with. */
  abi: number;
  /** The .wasm file, relative to the .js. */
  wasm: string;
}

/** The marker's contents if `path` is a program linked by `fmi cc`, else undefined. */
export function readProgramInfo(path: string): ProgramInfo | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(512);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const first = buf.subarray(0, n).toString('utf8').split('\n', 1)[0]!;
    if (!first.startsWith(PROGRAM_MARKER)) return undefined;
    return JSON.parse(first.slice(PROGRAM_MARKER.length)) as ProgramInfo;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** What the Emscripten module (MODULARIZE) resolves to, as far as we use it. */
interface EmModule {
  fmiHost: ProgramHost;
  fmiRunMain(args: string[]): Promise<number>;
}
type Factory = (moduleArg: Record<string, unknown>) => Promise<EmModule>;

interface Loaded {
  factory: Factory;
  wasm: WebAssembly.Module;
}

const cache = new Map<string, Promise<Loaded>>();

/**
 * Loads a compiled program once per process: the loader is evaluated as the
 * CommonJS script Emscripten wrote (whatever the surrounding package's module
 * type), the .wasm compiled once; every run instantiates it afresh.
 */
function load(path: string): Promise<Loaded> {
  const abs = resolve(path);
  let p = cache.get(abs);
  if (!p) {
    p = (async () => {
      const info = readProgramInfo(abs);
      if (!info) throw new Error(`${path} is not a program built with \`fmi cc\``);
      const source = readFileSync(abs, 'utf8');
      const fn = vm.compileFunction(source, ['require', 'module', 'exports', '__filename', '__dirname'], { filename: abs });
      const mod = { exports: {} as unknown };
      fn(createRequire(abs), mod, mod.exports, abs, dirname(abs));
      if (typeof mod.exports !== 'function') throw new Error(`${path}: the loader exports no module factory (was it linked with fmi cc?)`);
      const wasm = await WebAssembly.compile(readFileSync(resolve(dirname(abs), info.wasm)));
      return { factory: mod.exports as Factory, wasm };
    })();
    cache.set(abs, p);
    p.catch(() => cache.delete(abs));
  }
  return p;
}

export interface RunProgramOptions {
  /**
   * The rank's world communicator; the caller keeps it open or closes it.
   * Without one, MPI_Init calls `init(init)` (rank, size, job and rendezvous
   * from the environment `fmi run` sets) and the runtime closes it at the end.
   */
  comm?: Communicator;
  init?: InitOptions;
  /** One call per line the program writes to stdout. @default process.stdout */
  stdout?: (line: string) => void;
  /** One call per line of stderr, including fmi's own fatal error reports. @default process.stderr */
  stderr?: (line: string) => void;
  /** Aborting it fails the program's pending and later MPI calls: it exits with an error. */
  signal?: AbortSignal;
  /** Called when the program calls MPI_Abort, with the exit code it will end with. */
  onAbort?: (code: number) => void;
  /** argv[0]. @default path */
  argv0?: string;
  /**
   * Host directories the program sees at their own paths (Emscripten's
   * NODEFS; the rest of its file system is in memory). When the current
   * directory lies in one, it is the program's too. @default []
   */
  mounts?: readonly string[];
}

/**
 * Runs the `main` of a C/C++ MPI program built with `fmi cc` as one rank of a
 * job, and resolves to its exit status: main's return value, the status it
 * passed to exit(), the code of a fatal MPI error (MPI_ERRORS_ARE_FATAL) or
 * of MPI_Abort. A crash (trap, abort()) resolves to 134 after a report on
 * stderr; it never throws for the program's own failures.
 */
export async function runProgram(path: string, args: readonly string[] = [], opts: RunProgramOptions = {}): Promise<number> {
  const stdout = opts.stdout ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const stderr = opts.stderr ?? ((l: string) => void process.stderr.write(`${l}\n`));
  const prog = await load(path);
  const mounts = mountDirs(opts.mounts ?? []).sort((a, b) => a.length - b.length);
  const cwd = process.cwd();
  const inMount = mounts.some((d) => cwd === d || cwd.startsWith(d + sep));
  const rt = new MpiRuntime({ impls: IMPLS, comm: opts.comm, initOptions: opts.init, signal: opts.signal, stderr, onAbort: opts.onAbort });
  let failInstantiate: (e: unknown) => void = () => {};
  const instantiated = new Promise<never>((_, reject) => (failInstantiate = reject));
  try {
    const m = await Promise.race([
      instantiated,
      prog.factory({
        thisProgram: opts.argv0 ?? path,
        arguments: [...args],
        print: stdout,
        printErr: stderr,
        preRun: mounts.length === 0 ? [] : [(m: { fmiMount?: (dirs: string[], cwd?: string) => void }) => {
          if (!m.fmiMount) throw new FmiError('FMI_CONFIG', `${path} was linked by an older fmi cc without --mount support: link it again`);
          m.fmiMount(mounts, inMount ? cwd : undefined);
        }],
        // Never let the module end this process: exit() throws its ExitStatus to fmiRunMain.
        quit: (_status: number, toThrow: unknown) => {
          throw toThrow;
        },
        instantiateWasm(imports: WebAssembly.Imports, ok: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
          WebAssembly.instantiate(prog.wasm, imports).then((inst) => ok(inst, prog.wasm), failInstantiate);
          return {};
        },
        fmi: rt,
      }),
    ]);
    rt.attach(m.fmiHost);
    try {
      return await m.fmiRunMain([...args]);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      stderr(`fmi: ${rt.rankLabel}: the program crashed: ${msg}`);
      return 134;
    }
  } finally {
    await rt.shutdown();
  }
}
