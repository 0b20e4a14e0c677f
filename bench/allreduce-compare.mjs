// Allreduce algorithms side by side in one job, interleaved batch by batch,
// so every algorithm sees the same load however it drifts (a shared machine's
// load moves within seconds; separate jobs, as allreduce-algos runs them, then
// compare different loads). Not part of the driver.
//   node dist/cli/main.js run -n 4 --no-prefix bench/allreduce-compare.mjs
//
// For each size: ROUNDS rounds; in each, every algorithm in turn (the order
// rotated per round) runs BATCH calls back to back. A sample is one call's
// time at the slowest rank. Also per algorithm: the CPU time (user + system)
// all ranks together spent per call, which on an oversubscribed machine
// (4 ranks on 2 CPUs) is what the wall time follows, and which other work
// on the machine disturbs much less than wall time.
// stdout (rank 0): one JSON line per size and algorithm; stderr: a table.
//
// Environment: FMI_BENCH_SIZES (default 64k,256k,1m,4m), ALGOS (default
// recursive-doubling,rabenseifner,ring), FMI_BENCH_INTO=1 (every call writes
// into one reused buffer), ROUNDS (default 7), BATCH (calls per batch,
// default: about 40 ms of calls, at least 3).

import { init, Op } from 'fmi';
import { emit, isOn, sizesFrom, KiB, MiB } from './lib/common.mjs';

const ALGOS = (process.env.ALGOS || 'recursive-doubling,rabenseifner,ring').split(',');
const INTO = isOn(process.env.FMI_BENCH_INTO);
const ROUNDS = Number(process.env.ROUNDS || 7);
const comm = await init();
const { rank, size } = comm;

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

for (const bytes of sizesFrom([64 * KiB, 256 * KiB, MiB, 4 * MiB])) {
  const len = bytes / 8;
  const data = new Float64Array(len).fill(rank + 1);
  const into = INTO ? new Float64Array(len) : undefined;
  const call = (algorithm) => comm.allreduce(data, Op.SUM, into ? { algorithm, into } : { algorithm });
  // Warm-up (JIT, Wasm memory, socket buffers), then the batch size from the slowest algorithm.
  let slowest = 0;
  for (const a of ALGOS) {
    for (let i = 0; i < 3; i++) await call(a);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await call(a);
    slowest = Math.max(slowest, (performance.now() - t0) / 5);
  }
  const batch = (await comm.bcast(rank === 0 ? Math.max(3, Math.round(Number(process.env.BATCH) || 40 / slowest)) : undefined, 0));
  const samples = Object.fromEntries(ALGOS.map((a) => [a, new Float64Array(ROUNDS * batch)]));
  const cpu = Object.fromEntries(ALGOS.map((a) => [a, 0]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < ALGOS.length; k++) {
      const a = ALGOS[(k + round) % ALGOS.length];
      await comm.barrier();
      const c0 = cpuNow();
      for (let i = 0; i < batch; i++) {
        const s = performance.now();
        const out = await call(a);
        samples[a][round * batch + i] = performance.now() - s;
        if (out[len - 1] !== (size * (size + 1)) / 2) throw new Error(`${a}: rank ${rank} got ${out[len - 1]}`);
      }
      cpu[a] += cpuNow() - c0;
    }
  }
  const rows = [];
  for (const a of ALGOS) {
    const worst = await comm.reduce(samples[a], Op.MAX, 0);
    const cpuAll = await comm.reduce(cpu[a] / (ROUNDS * batch), Op.SUM, 0);
    if (rank === 0) {
      const s = [...worst].sort((x, y) => x - y);
      const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
      const row = { bench: 'allreduce-compare', impl: 'fmi', ranks: size, bytes, iters: s.length, p50_us: +(q(0.5) * 1000).toFixed(1), p90_us: +(q(0.9) * 1000).toFixed(1), cpu_us_per_call: +(cpuAll * 1000).toFixed(1), variant: `f64,sum,${a}${INTO ? ',into' : ''}` };
      emit(row);
      rows.push(row);
    }
  }
  if (rank === 0) {
    process.stderr.write(`\n${bytes >= MiB ? bytes / MiB + ' MiB' : bytes / KiB + ' KiB'}, ${size} ranks${INTO ? ', into' : ''}, ${ROUNDS} rounds x ${batch} calls (load ${(await import('node:os')).loadavg()[0].toFixed(1)})\n`);
    for (const r of rows) process.stderr.write(`  ${r.variant.split(',')[2].padEnd(20)} p50 ${String(r.p50_us).padStart(9)} us  p90 ${String(r.p90_us).padStart(9)} us  cpu all ranks ${String(r.cpu_us_per_call).padStart(9)} us/call\n`);
  }
}
await comm.close();
