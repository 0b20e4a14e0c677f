// One rank of bench/integrity.mjs: ping-pong between ranks 0 and 1 that
// reports, per size, the half round trip (p50) and the CPU time both ranks
// spent per round trip (user + system, from process.cpuUsage). The CPU figure
// is what a check costs even on a loaded machine, where wall time is mostly
// waiting for a core. Run under `fmi run -n 2` with FMI_INTEGRITY set.

import { init } from 'fmi';
import { fillPattern, sizesFrom, summarize, warmUp } from './lib/common.mjs';

const CTRL = 1;
const DATA = 2;
const comm = await init();
const sizes = sizesFrom([8, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024]);
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

if (comm.rank === 0) await driver();
else await echo();
await comm.close();

async function driver() {
  const ctrl = new Float64Array(2);
  for (const bytes of sizes) {
    const sbuf = new Uint8Array(bytes);
    fillPattern(sbuf, bytes & 0xff);
    const rbuf = new Uint8Array(bytes);
    const rounds = async (n, samples) => {
      ctrl[0] = bytes;
      ctrl[1] = n;
      await comm.send(ctrl, 1, { tag: CTRL });
      const c0 = cpu();
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await comm.send(sbuf, 1, { tag: DATA });
        await comm.recv(1, { tag: DATA, into: rbuf });
        if (samples) samples[i] = performance.now() - t0;
      }
      const mine = cpu() - c0;
      const theirs = (await comm.recv(1, { tag: CTRL, into: new Float64Array(1) }))[0];
      return (mine + theirs) / n;
    };
    const { iters } = await warmUp(rounds, bytes === sizes[0]);
    const samples = new Float64Array(iters);
    const cpuPerRt = await rounds(iters, samples);
    if (rbuf[bytes - 1] !== sbuf[bytes - 1]) throw new Error('integrity bench: the echo differs');
    const row = { bench: 'integrity', mode: process.env.FMI_INTEGRITY || 'none', bytes, iters, ...summarize(samples, iters, 0.5), cpu_us_per_rt: Math.round(cpuPerRt) };
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
  ctrl[1] = 0;
  await comm.send(ctrl, 1, { tag: CTRL });
}

async function echo() {
  const ctrl = new Float64Array(2);
  const big = new Uint8Array(Math.max(...sizes));
  for (;;) {
    await comm.recv(0, { tag: CTRL, into: ctrl });
    const n = ctrl[1];
    if (n === 0) return;
    const c0 = cpu();
    for (let i = 0; i < n; i++) {
      const m = await comm.recv(0, { tag: DATA, into: big });
      await comm.send(m, 0, { tag: DATA });
    }
    await comm.send(Float64Array.of(cpu() - c0), 0, { tag: CTRL });
  }
}
