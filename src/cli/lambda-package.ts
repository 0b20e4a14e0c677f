import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Plugin } from 'esbuild';
import { BUNDLED_IOREDIS } from '../channels/heartbeat.js';
import { FmiError } from '../errors.js';

// `fmi lambda package`: the user's handler and fmi in one ES module bundle
// (esbuild), zipped with the Wasm kernels into a deployment package for
// Lambda's Node.js 22/24 runtimes, which load index.mjs and call its
// `handler` export.

export const LAMBDA_PACKAGE_USAGE = `  fmi lambda package ENTRY [-o function.zip] [--external pkg]... [--include file]...
         [--no-minify] [--sourcemap]
      Bundle a Lambda handler (ENTRY exports handler) with fmi into a deployment
      zip: index.mjs, its lazily loaded chunks and the Wasm kernels. The
      packages Lambda's Node.js runtime has (@aws-sdk/*) stay out; --external
      leaves out more (a layer's). --include adds files the handler reads at
      run time, beside index.mjs (an fmi cc program's .js and .wasm for
      lambdaProgram). Prints the zip's size.
`;

/** The packages every Node.js Lambda runtime (18.x on) already has, imported from there instead of bundled. */
export const RUNTIME_EXTERNALS = ['@aws-sdk/*'];
/** Above this the console and the API refuse a zip upload: deploy it through S3 (SAM does). */
const DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024;
/** A fixed date for every entry, so the same inputs give the same zip (and SAM sees no change). */
const MTIME = new Date('2000-01-01T00:00:00Z');
/** -rw-r--r-- regular file: Lambda runs the code as another user, which must be able to read it. */
const UNIX_FILE = 0o100644 * 0x10000;
/** `os: 3` is Unix: the attrs above are then read as a mode. */
const UNIX = 3;

export interface PackageOptions {
  /** The handler module (.mjs, .js, .ts): it must export `handler`. */
  entry: string;
  /** Where to write the zip. @default 'function.zip' */
  output?: string;
  /** More packages to leave out of the bundle, besides RUNTIME_EXTERNALS (say a layer's). */
  external?: string[];
  /** Files to add beside index.mjs, under their own names (what the handler reads at run time: an `fmi cc` program's .js and .wasm). */
  include?: string[];
  /** @default true */
  minify?: boolean;
  /** Adds index.mjs.map and the chunks' maps (run with NODE_OPTIONS=--enable-source-maps). @default false */
  sourcemap?: boolean;
}

export interface PackageResult {
  output: string;
  /** The zip's size in bytes. */
  bytes: number;
  /** Each file in the zip and its uncompressed size. */
  files: { name: string; bytes: number }[];
}

/** Bundles and zips; throws FmiError FMI_CONFIG on bad input (no entry, no handler export, an import esbuild cannot resolve). */
export async function packageLambda(opts: PackageOptions): Promise<PackageResult> {
  const entry = resolve(opts.entry);
  if (!existsSync(entry) || !statSync(entry).isFile()) throw new FmiError('FMI_CONFIG', `lambda package: no entry file ${entry}`);
  const output = resolve(opts.output ?? 'function.zip');
  if (!existsSync(dirname(output))) throw new FmiError('FMI_CONFIG', `lambda package: no directory ${dirname(output)} for ${basename(output)}`);
  const include = (opts.include ?? []).map((f) => resolve(f));
  for (const f of include) if (!existsSync(f) || !statSync(f).isFile()) throw new FmiError('FMI_CONFIG', `lambda package: no file ${f} to include`);
  const esbuild = await import('esbuild');
  let usesIoredis = false;
  let built;
  try {
    built = await esbuild.build({
      entryPoints: { index: entry },
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      // Chunks keep fmi's dynamic imports lazy: a direct-only rank loads neither
      // ioredis nor the S3 SDK (an external import would otherwise be hoisted to
      // index.mjs and load at cold start). Flat, so every file sits beside the Wasm.
      splitting: true,
      outdir: dirname(output),
      write: false,
      outExtension: { '.js': '.mjs' },
      chunkNames: '[name]-[hash]',
      // No keepNames: fmi's error classes name themselves in words (err.name
      // survives renaming), and keepNames would wrap every named closure in an
      // Object.defineProperty (see scripts/bundle.mjs).
      minify: opts.minify ?? true,
      sourcemap: opts.sourcemap ? 'linked' : false,
      metafile: true,
      external: [...RUNTIME_EXTERNALS, ...(opts.external ?? [])],
      // CommonJS packages (ioredis) call require() for Node's builtins, which an ES module has not.
      banner: { js: "import{createRequire as __fmiCreateRequire}from'node:module';const require=__fmiCreateRequire(import.meta.url);" },
      plugins: [fmiFromHere(), ioredisBeside(() => (usesIoredis = true))],
      logLevel: 'silent',
    });
  } catch (cause) {
    const errors = (cause as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const lines = errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text));
    throw new FmiError('FMI_CONFIG', `lambda package: cannot bundle ${opts.entry}:\n  ${lines.join('\n  ') || String(cause)}`, { cause });
  }
  const outputs = built.metafile.outputs;
  // The entry's output by name: fmi's dynamic imports are entry points of split chunks too.
  const index = Object.entries(outputs).find(([path, o]) => o.entryPoint !== undefined && basename(path) === 'index.mjs');
  if (!index?.[1].exports.includes('handler')) {
    throw new FmiError('FMI_CONFIG', `lambda package: ${opts.entry} exports no \`handler\` (Lambda calls index.handler: export const handler = lambdaHandler(...))`);
  }

  const files: Record<string, Uint8Array> = {};
  for (const f of built.outputFiles) files[basename(f.path)] = f.contents;
  for (const wasm of ['kernels.wasm', 'kernels-unshared.wasm']) files[wasm] = readFileSync(kernelFile(wasm));
  if (usesIoredis) files[BUNDLED_IOREDIS] = await bundleIoredis(esbuild, opts.minify ?? true);
  for (const f of include) {
    const name = basename(f);
    if (files[name] !== undefined) throw new FmiError('FMI_CONFIG', `lambda package: --include ${f}: the package already has a ${name}`);
    files[name] = readFileSync(f);
  }
  const { zipSync } = await import('fflate');
  const zip = zipSync(
    Object.fromEntries(Object.entries(files).map(([name, data]) => [name, [data, { level: 9, mtime: MTIME, os: UNIX, attrs: UNIX_FILE }]])),
  );
  writeFileSync(output, zip);
  return { output, bytes: zip.byteLength, files: Object.entries(files).map(([name, data]) => ({ name, bytes: data.byteLength })) };
}

/** `fmi lambda package ...`: resolves to the exit code (2 for bad usage or input). */
export async function lambdaPackageCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        external: { type: 'string', multiple: true },
        include: { type: 'string', multiple: true },
        'no-minify': { type: 'boolean' },
        sourcemap: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`Usage:\n${LAMBDA_PACKAGE_USAGE}`);
    return 0;
  }
  if (positionals.length !== 1) return usage(positionals.length === 0 ? 'needs the handler file (ENTRY)' : `one ENTRY only, got ${positionals.join(' ')}`);
  const split = (v: string[] | undefined) => (v ?? []).flatMap((e) => e.split(',')).filter((e) => e !== '');
  let r: PackageResult;
  try {
    r = await packageLambda({ entry: positionals[0]!, output: values.output, external: split(values.external), include: split(values.include), minify: !values['no-minify'], sourcemap: values.sourcemap });
  } catch (err) {
    if (!(err instanceof FmiError)) throw err;
    process.stderr.write(`fmi lambda package: ${err.message}\n`);
    return 2;
  }
  const contents = r.files.map((f) => `${f.name} ${size(f.bytes)}`).join(', ');
  process.stdout.write(`${r.output}: ${size(r.bytes)} (${r.bytes} bytes): ${contents}\n`);
  if (r.bytes > DIRECT_UPLOAD_LIMIT) process.stderr.write(`fmi lambda package: warning: over 50 MB: upload it through S3 (sam deploy does)\n`);
  return 0;
}

function usage(msg: string): number {
  process.stderr.write(`fmi lambda package: ${msg}\n\nUsage:\n${LAMBDA_PACKAGE_USAGE}`);
  return 2;
}

function size(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** This package's root (dist/cli/ -> ../..; src/cli/ under vitest the same). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function kernelFile(name: string): string {
  const path = resolve(ROOT, 'build', name);
  if (!existsSync(path)) throw new FmiError('FMI_CONFIG', `lambda package: no ${path} (run npm run build:wasm)`);
  return path;
}

/**
 * 'fmi' imports resolve as usual from the entry's folder; where that finds no
 * fmi (a handler outside any project, `npx fmi` from elsewhere), they resolve
 * to the fmi that runs this command.
 */
function fmiFromHere(): Plugin {
  const again = Symbol('fmi-from-here');
  return {
    name: 'fmi-from-here',
    setup(build) {
      build.onResolve({ filter: /^fmi(\/.*)?$/ }, async (args) => {
        if (args.pluginData === again) return undefined;
        const there = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: again });
        if (there.errors.length === 0) return there;
        return build.resolve(args.path, { kind: args.kind, resolveDir: ROOT, pluginData: again });
      });
    },
  };
}

/**
 * fmi's imports of ioredis go to one CommonJS file beside the bundle
 * (BUNDLED_IOREDIS): the Redis channel's heartbeat worker require()s it by
 * path, and ioredis's named exports (Redis) reach an ES module import of it
 * only from a file Node loads as CommonJS itself (esbuild's own interop hands
 * a split chunk nothing but `default`). The user's own ioredis imports bundle as usual.
 */
function ioredisBeside(used: () => void): Plugin {
  return {
    name: 'fmi-ioredis',
    setup(build) {
      build.onResolve({ filter: /^ioredis$/ }, (args) => {
        if (!args.importer.startsWith(ROOT)) return undefined;
        used();
        return { path: `./${BUNDLED_IOREDIS}`, external: true };
      });
    },
  };
}

/** ioredis as one CommonJS file whose named exports Node's CommonJS loader can see. */
async function bundleIoredis(esbuild: typeof import('esbuild'), minify: boolean): Promise<Uint8Array> {
  const require = createRequire(import.meta.url);
  const names = Object.keys(require('ioredis') as object);
  const r = await esbuild.build({
    // Re-exported by name, so esbuild writes the annotation cjs-module-lexer reads.
    stdin: { contents: `export { ${names.join(', ')} } from 'ioredis';`, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify,
    write: false,
    logLevel: 'silent',
  });
  return r.outputFiles[0]!.contents;
}
