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

import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  // Not minified: stack traces stay readable. No keepNames: it wraps every
  // named closure in __name(), an Object.defineProperty per closure made,
  // which turns the function into a dictionary-mode object (~1.7 us and a
  // few hundred bytes of garbage each at load 25, against 8 ns): 17 per rank
  // in a 1 MiB allreduce, 6 in a barrier. FmiError subclasses still name
  // themselves after their class (new.target.name): esbuild renames a class
  // only on a clash, and test/bundle.test.ts checks that none is renamed.
  keepNames: false,
  // Chained to tsc's maps: with --enable-source-maps a stack trace names src/*.ts.
  sourcemap: true,
  logLevel: 'warning',
});

// A class that names itself in its own body comes out as
// `var Op = class _Op { ... }`, and without keepNames Op.name would be '_Op'.
// Give each such class its name back, once when the module loads: a static
// block on the header's line, so the source maps' lines still match.
for (const file of readdirSync(outdir).filter((f) => f.endsWith('.js'))) {
  const path = `${outdir}/${file}`;
  const code = readFileSync(path, 'utf8');
  const named = code.replace(/(var (\w+) = class _\2(?: extends [\w.$]+)? \{)/g, '$1 static { Object.defineProperty(this, "name", { value: "$2", configurable: true }); }');
  if (named !== code) writeFileSync(path, named);
}
