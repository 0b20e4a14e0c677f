#!/usr/bin/env node
// The figures issue 10 asks for in its note, counted from one run of the
// security, fault and fuzz suites:
//   node scripts/security-figures.mjs [vitest args...]
// e.g. `node scripts/security-figures.mjs test/security` for part of them.
//
// Every test case (`it`) counts once, in the group of its file (below):
// "typed" / "clean" / "refused" = the case passed, as each case asserts
// exactly that (a typed error, no process / key / object left, a refusal).
// Fuzz figures come from the fuzz engine's report lines ("fuzz T: N inputs +
// M from the corpus ..., K crashes"). Prints a table, and JSON with --json.
// Needs the built package (npm run build) and, for test/faults/s3, the S3
// server vitest's globalSetup starts.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2).filter((a) => a !== '--json');
const json = process.argv.includes('--json');

/** Which figure a test file's cases count toward. */
const GROUPS = [
  { name: 'bad inputs', verdict: 'typed', files: ['test/security/arguments', 'test/security/init-twice', 'test/security/integrity', 'test/security/integrity-storage'] },
  { name: 'attacks', verdict: 'refused', files: ['test/security/rendezvous-auth', 'test/security/direct-auth', 'test/security/secret-wire', 'test/security/launcher-secret', 'test/security/rendezvous-tls', 'test/security/server'] },
  { name: 'faults', verdict: 'clean', files: ['test/faults/'] },
  { name: 'fuzz targets', verdict: 'no crash', files: ['test/fuzz/'] },
];

const dir = mkdtempSync(join(tmpdir(), 'fmi-figures-'));
const out = join(dir, 'results.json');
const targets = args.length > 0 ? args : ['test/security', 'test/faults', 'test/fuzz'];
const t0 = performance.now();
const run = spawnSync('npx', ['vitest', 'run', ...targets, '--exclude', 'test/nat.test.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`], {
  cwd: root,
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const seconds = Math.round((performance.now() - t0) / 1000);
let results;
try {
  results = JSON.parse(readFileSync(out, 'utf8'));
} catch {
  process.stdout.write(run.stdout ?? '');
  process.stderr.write(`security-figures: vitest wrote no results (exit ${run.status})\n`);
  process.exit(2);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const figures = GROUPS.map((g) => ({ name: g.name, verdict: g.verdict, tried: 0, passed: 0, failed: [] }));
const perFile = [];
for (const file of results.testResults) {
  const rel = relative(root, file.name);
  const g = GROUPS.findIndex((x) => x.files.some((f) => rel.startsWith(f) && (f.endsWith('/') || rel.slice(f.length) === '.test.ts')));
  const cases = file.assertionResults;
  perFile.push({ file: rel, cases: cases.length, seconds: Math.round(((file.endTime ?? 0) - (file.startTime ?? 0)) / 100) / 10 });
  if (g < 0) continue;
  for (const c of cases) {
    figures[g].tried++;
    if (c.status === 'passed') figures[g].passed++;
    else figures[g].failed.push(`${rel}: ${c.title} (${c.status})`);
  }
}

// "fuzz direct-frame: 1234 inputs + 5 from the corpus in 3000 ms (seed 42), 0 crashes"
const plain = (run.stdout ?? '').replace(/\x1b\[[0-9;]*m/g, '');
const fuzz = [...plain.matchAll(/^fuzz (\S+): (\d+) inputs \+ (\d+) from the corpus in \d+ ms \(seed (\d+)\), (\d+) crashes/gm)].map((m) => ({
  target: m[1],
  inputs: Number(m[2]),
  corpus: Number(m[3]),
  seed: Number(m[4]),
  crashes: Number(m[5]),
}));
const inputs = fuzz.reduce((s, f) => s + f.inputs + f.corpus, 0);
const crashes = fuzz.reduce((s, f) => s + f.crashes, 0);

if (json) {
  process.stdout.write(`${JSON.stringify({ seconds, exit: run.status, figures, fuzz, perFile }, null, 2)}\n`);
} else {
  const lines = [`security figures (${seconds} s, vitest exit ${run.status}): ${targets.join(' ')}`];
  for (const f of figures) if (f.tried > 0) lines.push(`  ${f.name}: ${f.tried} tried / ${f.passed} ${f.verdict}`);
  lines.push(`  fuzz inputs: ${inputs} run (${fuzz.length} targets, corpus included) / ${crashes} crashes`);
  for (const f of figures) for (const x of f.failed) lines.push(`  not ${f.verdict}: ${x}`);
  lines.push('  slowest files:');
  for (const p of perFile.sort((a, b) => b.seconds - a.seconds).slice(0, 8)) lines.push(`    ${p.seconds.toFixed(1).padStart(6)} s  ${p.file} (${p.cases} cases)`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
process.exit(run.status === 0 ? 0 : 1);
