// The deployment zip of `fmi lambda package`: its size, and what loading it
// costs a cold function (a fresh node process importing the handler module),
// bundled against the same handler importing fmi from dist/ and node_modules.
//
//   npm run build && node bench/lambda-package.mjs [ENTRY]
//
// ENTRY defaults to test/fixtures/lambda-entry.mjs (imports fmi, allreduces a
// Float64Array). FMI_BENCH_ITERS cold imports per variant (default 20).
// Prints one JSON line per variant and a table.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { unzipSync } from 'fflate';
import { packageLambda } from '../dist/cli/lambda-package.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = resolve(process.argv[2] ?? `${root}test/fixtures/lambda-entry.mjs`);
const iters = Number(process.env.FMI_BENCH_ITERS ?? 20);
const work = mkdtempSync(join(tmpdir(), 'fmi-bench-pkg-'));

try {
  const t0 = performance.now();
  const r = await packageLambda({ entry, output: join(work, 'function.zip') });
  const packMs = performance.now() - t0;
  const task = join(work, 'task');
  mkdirSync(task);
  for (const [name, data] of Object.entries(unzipSync(readFileSync(r.output)))) writeFileSync(join(task, name), data);

  // A cold start imports the handler's module once: time that in a new process each time.
  const coldImport = (url, cwd) => {
    const body = `const t = performance.now(); await import(${JSON.stringify(url)}); process.stdout.write(String(performance.now() - t));`;
    return Number(execFileSync(process.execPath, ['--input-type=module', '-e', body], { cwd, env: { PATH: process.env.PATH } }));
  };
  const p50 = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const variants = [
    ['bundle', pathToFileURL(join(task, 'index.mjs')).href, task],
    ['unbundled', pathToFileURL(entry).href, root],
  ];
  const rows = [];
  for (const [variant, url, cwd] of variants) {
    const ms = Array.from({ length: iters }, () => coldImport(url, cwd));
    const row = {
      bench: 'lambda-package',
      variant,
      entry: entry.startsWith(root) ? entry.slice(root.length) : entry,
      zip_bytes: r.bytes,
      unzipped_bytes: r.files.reduce((s, f) => s + f.bytes, 0),
      files: r.files.length,
      package_ms: Math.round(packMs),
      iters,
      import_p50_ms: Number(p50(ms).toFixed(1)),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  console.log(`\nzip ${(r.bytes / 1024).toFixed(1)} KiB (${r.files.length} files, ${(rows[0].unzipped_bytes / 1024).toFixed(1)} KiB unzipped), packaged in ${Math.round(packMs)} ms`);
  for (const row of rows) console.log(`cold import of the handler, ${row.variant.padEnd(9)}: p50 ${row.import_p50_ms} ms over ${iters} processes`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
