// What the C path costs per MPI call on top of the TS API, without the
// network (issue 12): bench/mpi/glue.c through `fmi cc` on one rank against
// the same calls on a one-rank communicator through the TS API (comm.rank,
// comm.barrier, comm.allreduce of one double, comm.sendrecv of one double
// to oneself). Best batch of ROUNDS, ns per
// call; the difference is the C path's own: dispatch, Asyncify suspend and
// resume of a blocking call, the reduction glue.
//   npm run build && node bench/mpi/glue.mjs
// Environment: FMI_BENCH_CALLS (per batch, default 20000), FMI_BENCH_REPEAT
// (batches, default 7). stdout: one JSON line per call and implementation;
// stderr: a table.
// FMI_BENCH_BASE=DIR runs a second build (another checkout's root, built) too.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const CALLS = Number(process.env.FMI_BENCH_CALLS ?? 20000);
const ROUNDS = Number(process.env.FMI_BENCH_REPEAT ?? 7);
const roots = [['', join(here, '../..')], ...(process.env.FMI_BENCH_BASE ? [['base:', process.env.FMI_BENCH_BASE]] : [])];
const log = (s) => process.stderr.write(`${s}\n`);

if (process.argv[2] === 'ts') {
  // The TS side, run inside a one-rank job.
  const { init, Op } = await import(process.argv[3]);
  const comm = await init();
  const data = new Float64Array([1]);
  const into = new Float64Array(1);
  const calls = {
    rank: async () => comm.rank,
    barrier: () => comm.barrier(),
    allreduce: () => comm.allreduce(data, Op.SUM, { into }),
    sendrecv: () => comm.sendrecv(data, 0, 0, { into }),
  };
  for (const [name, f] of Object.entries(calls)) {
    let best = Infinity;
    for (let k = 0; k < ROUNDS; k++) {
      const t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await f();
      best = Math.min(best, (performance.now() - t0) / CALLS);
    }
    process.stdout.write(`${JSON.stringify({ call: name, impl: 'fmi', ns: Math.round(best * 1e6) })}\n`);
  }
  await comm.close();
  process.exit(0);
}

const rows = [];
const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-glue-'));
try {
  for (const [tag, root] of roots) {
    const cli = join(root, 'dist/cli/main.js');
    const { ccCommand } = await import(join(root, 'dist/cli/cc.js'));
    const prog = join(dir, `${tag.replace(':', '')}glue.js`);
    if ((await ccCommand([join(here, 'glue.c'), '-O2', '-o', prog], false)) !== 0) throw new Error('fmi cc failed');
    const jobs = [[prog, String(CALLS), String(ROUNDS)], [fileURLToPath(import.meta.url), 'ts', join(root, 'dist/index.js')]];
    for (const args of jobs) {
      const r = spawnSync(process.execPath, [cli, 'run', '-n', '1', '--no-prefix', ...args], { encoding: 'utf8', env: { ...process.env, FMI_BENCH_CALLS: String(CALLS), FMI_BENCH_REPEAT: String(ROUNDS) } });
      if (r.status !== 0) throw new Error(`job failed (${r.status}): ${args.join(' ')}\n${r.stderr}`);
      for (const l of r.stdout.split('\n').filter((x) => x.startsWith('{'))) {
        const row = { ...JSON.parse(l), build: tag ? tag.slice(0, -1) : 'this', load1: Math.round(loadavg()[0] * 10) / 10 };
        rows.push(row);
        process.stdout.write(`${JSON.stringify(row)}\n`);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
log(`\nns per call, best of ${ROUNDS} batches of ${CALLS} (load ${loadavg()[0].toFixed(1)})`);
log(`  ${'build'.padEnd(6)} ${'call'.padEnd(10)} ${'fmi-cc'.padStart(8)} ${'fmi'.padStart(8)} ${'cc-fmi'.padStart(8)}`);
for (const b of [...new Set(rows.map((r) => r.build))]) {
  for (const call of ['rank', 'barrier', 'allreduce', 'sendrecv']) {
    const get = (impl) => rows.find((r) => r.build === b && r.call === call && r.impl === impl)?.ns;
    const [c, f] = [get('fmi-cc'), get('fmi')];
    log(`  ${b.padEnd(6)} ${call.padEnd(10)} ${String(c).padStart(8)} ${String(f).padStart(8)} ${String(c - f).padStart(8)}`);
  }
}
