// Start-up of a job in fmi/lambda's path against the same job under fmi run:
// for 8, 16 and 32 ranks, the time from the launcher's start to every rank's
// first allreduce done, split into
//   invoke:    until the last rank's code started (Invoke call, process, module load)
//   init:      until the last rank finished init() (rendezvous registration)
//   allreduce: until the last rank finished its first allreduce (pairing on first use included)
// and, apart, the second (warm) allreduce: pairing is about first less second.
// The Lambda path runs in the Invoke API test double (test/lambda/invoke-double.mjs):
// one process per invocation on this machine, as fmi run starts them, so the
// difference is the launcher's and the handler's own cost.
//
//   node bench/lambda.mjs                       (FMI_BENCH_RANKS=8,16,32  FMI_BENCH_REPS=3)
//
// FMI_BENCH_PER_FUNCTION=k (k > 1) adds a mode lambda-threads-k: the same job
// as N/k invocations of k worker-thread ranks (ranksPerFunction).
//
// One JSON line per (mode, ranks) on stdout, the median over the repetitions; a table on stderr.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { invokeJob } from '../dist/lambda/index.js';
import { startInvokeDouble } from '../test/lambda/invoke-double.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(`${root}dist/lambda/index.js`)) throw new Error('run npm run build first');
const RANKS = (process.env.FMI_BENCH_RANKS ?? '8,16,32').split(',').map(Number);
const REPS = Number(process.env.FMI_BENCH_REPS ?? 3);
const PER_FUNCTION = Number(process.env.FMI_BENCH_PER_FUNCTION ?? 1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Phases, from the launcher's start t0, of one job's ranks. */
function phases(t0, ranks) {
  const last = (f) => Math.max(...ranks.map(f));
  const started = last((r) => r.startedAt) - t0;
  const inited = last((r) => r.initDoneAt) - t0;
  const done = last((r) => r.firstDoneAt) - t0;
  return { invoke_ms: started, init_ms: inited - started, allreduce_ms: done - inited, total_ms: done, warm_allreduce_ms: median(ranks.map((r) => r.secondMs)) };
}

async function lambdaJob(endpoint, n, k = 1) {
  const t0 = Date.now();
  const r = await invokeJob({ functionName: k > 1 ? 'bench-threads' : 'bench', ranks: n, ranksPerFunction: k, endpoint, region: 'us-east-1', clientConfig: { credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } } });
  if (!r.ok) throw new Error(`lambda job failed: ${JSON.stringify(r.ranks.find((o) => o.status !== 'ok'))}`);
  return phases(t0, r.ranks.map((o) => ({ ...o.result, startedAt: o.stats.startedAt, initDoneAt: o.stats.startedAt + o.stats.initMs })));
}

function fmiRunJob(n) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [`${root}dist/cli/main.js`, 'run', '-n', String(n), '--no-prefix', `${root}bench/lambda/rank.mjs`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`fmi run exited ${code}`));
      resolve(phases(t0, out.trim().split('\n').map((l) => JSON.parse(l))));
    });
  });
}

const double = await startInvokeDouble({
  functions: {
    bench: { module: `${root}bench/lambda/handler.mjs`, timeoutMs: 300_000, env: { FMI_BENCH_PER_FUNCTION: '1' } },
    'bench-threads': { module: `${root}bench/lambda/handler.mjs`, timeoutMs: 300_000, env: { FMI_BENCH_PER_FUNCTION: String(PER_FUNCTION) } },
  },
});
const rows = [];
try {
  for (const n of RANKS) {
    const modes = [['lambda-double', () => lambdaJob(double.endpoint, n)], ['fmi-run', () => fmiRunJob(n)]];
    if (PER_FUNCTION > 1) modes.splice(1, 0, [`lambda-threads-${PER_FUNCTION}`, () => lambdaJob(double.endpoint, n, PER_FUNCTION)]);
    for (const [mode, run] of modes) {
      const reps = [];
      for (let i = 0; i < REPS; i++) reps.push(await run());
      const row = { bench: 'lambda-startup', mode, ranks: n, reps: REPS };
      for (const k of Object.keys(reps[0])) row[k] = Math.round(median(reps.map((r) => r[k])) * 10) / 10;
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
} finally {
  await double.close();
}
const cols = ['mode', 'ranks', 'invoke_ms', 'init_ms', 'allreduce_ms', 'total_ms', 'warm_allreduce_ms'];
process.stderr.write(`\n${cols.join('\t')}\n${rows.map((r) => cols.map((c) => r[c]).join('\t')).join('\n')}\n`);
