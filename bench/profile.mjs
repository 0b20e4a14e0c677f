// Runs a benchmark script's ranks under `node --cpu-prof` (which NODE_OPTIONS
// does not allow, so `fmi run` cannot pass it), then prints where the time
// went per rank: self time by function with file:line, and the hottest fmi
// frames by total (inclusive) time.
//   node bench/profile.mjs [-n 2] [--dir /tmp/fmi-prof] bench/pingpong.mjs [args]
// Combine with FMI_BENCH_SIZES / FMI_BENCH_MS to profile one size for longer.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RendezvousServer } from '../dist/index.js';
import { summarizeProfile } from './lib/cpuprofile.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { n: { type: 'string', short: 'n', default: '2' }, dir: { type: 'string', default: `/tmp/fmi-prof-${process.pid}` }, top: { type: 'string', default: '25' } },
});
const [script, ...args] = positionals;
if (!script) {
  process.stderr.write('usage: node bench/profile.mjs [-n N] [--dir DIR] [--top K] script.mjs [args]\n');
  process.exit(2);
}
const ranks = Number(values.n);
const dir = resolve(values.dir);
mkdirSync(dir, { recursive: true });

const server = new RendezvousServer({ host: '127.0.0.1', port: 0 });
const addr = await server.listen();
const job = randomUUID();
const codes = await Promise.all(
  Array.from({ length: ranks }, (_, rank) => {
    const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `rank${rank}.cpuprofile`, script, ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, FMI_RANK: String(rank), FMI_SIZE: String(ranks), FMI_JOB: job, FMI_RENDEZVOUS: `${addr.host}:${addr.port}` },
    });
    return new Promise((res) => child.on('exit', (code) => res(code)));
  }),
);
await server.close();
if (codes.some((c) => c !== 0)) process.stderr.write(`profile: rank exit codes ${codes.join(', ')}\n`);

for (const f of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
  process.stderr.write(`\n### ${join(dir, f)}\n`);
  process.stderr.write(summarizeProfile(join(dir, f), Number(values.top)) + '\n');
}
