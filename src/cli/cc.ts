import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROGRAM_MARKER, readProgramInfo, type ProgramInfo } from '../mpi/program.js';

/** Where mpi.h lives (the package's native/include). */
export const MPI_INCLUDE_DIR = fileURLToPath(new URL('../../native/include', import.meta.url));
/** The Emscripten JS library that implements MPI_* for compiled programs. */
export const MPI_JS_LIBRARY = fileURLToPath(new URL('../../bindings/library_fmi.js', import.meta.url));
/** Bumped when library_fmi.js and the runtime stop being compatible with programs linked before. */
export const ABI_VERSION = 1;

/** The MPI functions that may suspend the program: read from library_fmi.js, which defines them. */
export function asyncifyImports(library = MPI_JS_LIBRARY): string[] {
  const src = readFileSync(library, 'utf8');
  const m = /\/\/ fmi:blocking-begin([\s\S]*?)\/\/ fmi:blocking-end/.exec(src);
  if (!m) throw new Error(`${library}: no fmi:blocking-begin/end markers`);
  return [...m[1]!.matchAll(/'(MPI_\w+)'/g)].map((x) => x[1]!);
}

/** True when `path` is a program linked by `fmi cc` (what `fmi run` runs as MPI ranks). */
export function isCompiledProgram(path: string): boolean {
  return readProgramInfo(path) !== undefined;
}

export interface EmccInvocation {
  command: string;
  args: string[];
  /** The .js the link writes; undefined when only compiling (-c, -S, -E). */
  output: string | undefined;
}

const COMPILE_ONLY = new Set(['-c', '-S', '-E', '-M', '-MM', '-fsyntax-only']);

/**
 * The emcc (em++) command for `fmi cc argv`: mpi.h's include path always; when
 * linking, the JS library and the settings the runtime relies on (a
 * MODULARIZE'd CommonJS loader that never exits the process, Asyncify for
 * the blocking MPI calls, growable memory). The user's flags come after
 * ours, so their -s settings win.
 */
export function emccInvocation(argv: readonly string[], cxx: boolean): EmccInvocation {
  const command = (cxx ? process.env.FMI_EMXX : process.env.FMI_EMCC) ?? (cxx ? 'em++' : 'emcc');
  const linking = !argv.some((a) => COMPILE_ONLY.has(a));
  let output: string | undefined;
  const user: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-o') {
      output = argv[++i];
      continue;
    }
    if (a.startsWith('-o') && a.length > 2) {
      output = a.slice(2);
      continue;
    }
    user.push(a);
  }
  const args = [`-I${MPI_INCLUDE_DIR}`];
  if (!linking) {
    if (output !== undefined) user.push('-o', output);
    return { command, args: [...args, ...user], output: undefined };
  }
  // NODERAWFS writes stdout and stderr straight to the process's descriptors
  // (no per-rank lines, nothing for runProgram's callbacks) and closes them
  // when the program exits, under the other ranks of the same process.
  const raw = user.find((a) => /^-sNODERAWFS(=1)?$/.test(a) || a === 'NODERAWFS=1');
  if (raw) throw new Error(`${raw} is not supported (its stdio bypasses fmi and is closed at exit): give the program host directories with fmi run --mount DIR`);
  output ??= 'a.out.js';
  if (!['.js', '.cjs'].includes(extname(output))) {
    throw new Error(`fmi cc links a .js loader with a .wasm beside it: name the output prog.js (got -o ${output})`);
  }
  const blocking = asyncifyImports();
  args.push(
    '--js-library', MPI_JS_LIBRARY,
    '-sMODULARIZE=1',
    '-sEXPORT_NAME=fmiProgram',
    '-sINVOKE_RUN=0',
    '-sEXIT_RUNTIME=1',
    '-sENVIRONMENT=node',
    '-sNODEJS_CATCH_EXIT=0',
    '-sNODEJS_CATCH_REJECTION=0',
    '-sALLOW_MEMORY_GROWTH=1',
    // wasm32 addresses 4 GiB (Emscripten's default stops at 2): a 2 GiB buffer must fit.
    // Emscripten 3.1.6's default dlmalloc gives no block of 2 GiB, nor any
    // memory past 2 GiB (3 blocks of 1 GiB fail); emmalloc gives both.
    // -sMALLOC=dlmalloc (after ours, so it wins) brings dlmalloc back.
    '-sMAXIMUM_MEMORY=4GB',
    '-sMALLOC=emmalloc',
    // For fmi run --mount (library_fmi.js's $FMI_MOUNT).
    '-lnodefs.js',
    '-sASYNCIFY=1',
    `-sASYNCIFY_IMPORTS=${JSON.stringify([...blocking, ...blocking.map((n) => `P${n}`)])}`,
    '-sASYNCIFY_STACK_SIZE=65536',
    '-sEXPORTED_FUNCTIONS=["_main","_malloc","_free"]',
    '-sDEFAULT_LIBRARY_FUNCS_TO_INCLUDE=["$FMI","$FMI_MOUNT"]',
  );
  return { command, args: [...args, ...user, '-o', output], output };
}

function emccEnv(): NodeJS.ProcessEnv {
  // Debian's emscripten needs Debian's acorn (and friends) for its JS optimizer.
  const env = { ...process.env };
  const debian = '/usr/share/nodejs';
  if (existsSync(debian) && !(env.NODE_PATH ?? '').split(':').includes(debian)) {
    env.NODE_PATH = env.NODE_PATH ? `${env.NODE_PATH}:${debian}` : debian;
  }
  return env;
}

/** The names a .wasm exports (its export section), without compiling it. */
export function wasmExportNames(bytes: Uint8Array): string[] {
  let at = 8; // magic and version
  const leb = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[at++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (at < bytes.length) {
    const id = bytes[at++]!;
    const size = leb();
    if (id !== 7) {
      at += size;
      continue;
    }
    const names: string[] = [];
    for (let n = leb(); n > 0; n--) {
      const len = leb();
      names.push(new TextDecoder().decode(bytes.subarray(at, at + len)));
      at += len + 1; // the name, then its kind
      leb(); // its index
    }
    return names;
  }
  return [];
}

/**
 * A linked program must have a main(): emcc only warns when the exported
 * _main is missing, and -w hides that, so the program would die at run time
 * ("_main is not defined"). Checked on the .wasm, so it holds at every -O.
 */
export function checkHasMain(output: string): void {
  const wasm = join(dirname(output), basename(output, extname(output)) + '.wasm');
  const names = wasmExportNames(readFileSync(wasm));
  if (!names.includes('main') && !names.includes('__main_argc_argv')) {
    throw new Error(`${output}: the program defines no main() (an MPI program run by fmi run needs one; link the object that defines it)`);
  }
}

/** Marks a linked loader as an fmi program (first line), so `fmi run` and runProgram recognise it. */
export function markProgram(output: string): void {
  const info: ProgramInfo = { abi: ABI_VERSION, wasm: basename(output, extname(output)) + '.wasm' };
  if (!existsSync(join(dirname(output), info.wasm))) throw new Error(`emcc wrote no ${info.wasm} next to ${output}`);
  const src = readFileSync(output, 'utf8');
  const body = src.startsWith(PROGRAM_MARKER) ? src.slice(src.indexOf('\n') + 1) : src;
  writeFileSync(output, `${PROGRAM_MARKER}${JSON.stringify(info)}\n${body}`);
}

/**
 * `fmi cc prog.c -o prog.js [flags]` (or `fmi c++`): compiles and links a C
 * or C++ MPI program with Emscripten for fmi. Resolves to emcc's exit code.
 */
export async function ccCommand(argv: string[], cxx: boolean): Promise<number> {
  if (argv.length === 0 || argv.includes('--help')) {
    process.stdout.write(`Usage: fmi ${cxx ? 'c++' : 'cc'} <sources and flags> -o prog.js
  Compiles and links an MPI program with ${cxx ? 'em++' : 'emcc'} against fmi's mpi.h.
  Writes prog.js and prog.wasm; run with: fmi run -n N prog.js [args]
  Other flags go to ${cxx ? 'em++' : 'emcc'} as they are (-O2 is recommended).
  Environment: ${cxx ? 'FMI_EMXX' : 'FMI_EMCC'} names the compiler (default ${cxx ? 'em++' : 'emcc'}).
`);
    return argv.length === 0 ? 2 : 0;
  }
  let inv: EmccInvocation;
  try {
    inv = emccInvocation(argv, cxx);
  } catch (err) {
    process.stderr.write(`fmi ${cxx ? 'c++' : 'cc'}: ${(err as Error).message}\n`);
    return 2;
  }
  const code = await new Promise<number>((resolve) => {
    const p = spawn(inv.command, inv.args, { stdio: 'inherit', env: emccEnv() });
    p.on('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'ENOENT' ? ' (install Emscripten: apt-get install emscripten)' : '';
      process.stderr.write(`fmi ${cxx ? 'c++' : 'cc'}: cannot run ${inv.command}: ${err.message}${hint}\n`);
      resolve(127);
    });
    p.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  if (code === 0 && inv.output) {
    try {
      checkHasMain(inv.output);
      markProgram(inv.output);
    } catch (err) {
      process.stderr.write(`fmi ${cxx ? 'c++' : 'cc'}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  return code;
}
