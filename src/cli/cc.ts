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
    '-sASYNCIFY=1',
    `-sASYNCIFY_IMPORTS=${JSON.stringify([...blocking, ...blocking.map((n) => `P${n}`)])}`,
    '-sASYNCIFY_STACK_SIZE=65536',
    '-sEXPORTED_FUNCTIONS=["_main","_malloc","_free"]',
    '-sDEFAULT_LIBRARY_FUNCS_TO_INCLUDE=["$FMI"]',
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
      markProgram(inv.output);
    } catch (err) {
      process.stderr.write(`fmi ${cxx ? 'c++' : 'cc'}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  return code;
}
