// Bundles tsc's output (dist/) into dist/bundle/, what package.json's
// `exports` point at: Node then loads a handful of files for `import('fmi')`
// instead of ~77 modules, each a resolve, a read and a compile (about half of
// the import's time). Run by `npm run build` after tsc.
//
// - The entries share chunks (splitting), so 'fmi', 'fmi/mpi' and
//   'fmi/lambda' in one process share one copy of every class (instanceof
//   FmiError holds across them).
// - fmi's own dynamic imports (the Redis and S3 channels, their clean-up)
//   become chunks of their own and stay lazy; npm packages stay external.
// - dist/bundle/ sits as deep as dist/kernels/, so the kernels'
//   `new URL('../../build/kernels.wasm', import.meta.url)` finds the Wasm
//   from a chunk as it does from dist/kernels/arena.js. rank-main is an entry
//   so that fmi/mpi's RANK_MAIN ('./rank-main.js' beside it) exists.
// - dist/*.d.ts stay where tsc wrote them; `exports` takes its types there.

import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;

// Chunks from an earlier build carry other hashes: start empty.
rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: {
    index: 'dist/index.js',
    mpi: 'dist/mpi/index.js',
    'rank-main': 'dist/mpi/rank-main.js',
    lambda: 'dist/lambda/index.js',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunk-[hash]',
  // Not minified: stack traces stay readable. keepNames: FmiError subclasses
  // name themselves after their class.
  keepNames: true,
  // Chained to tsc's maps: with --enable-source-maps a stack trace names src/*.ts.
  sourcemap: true,
  logLevel: 'warning',
});
