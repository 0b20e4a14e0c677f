// Ping-pong on the shm channel itself (no communicator), two worker threads,
// for each wait setting: half round trip p50 and the process CPU per round
// trip, so the cost of a way of waiting shows next to its latency.
//   npm run build && node bench/shm-channel-pingpong.mjs
//
// Environment: FMI_BENCH_BLOCK_US (comma-separated blockUs values to compare,
// default "0,200,5000": 0 is the event loop only, 5000 the default), FMI_BENCH_SPIN_US (spinUs for
// every run, default 0), FMI_BENCH_SIZES (bytes, default "8,4194304"),
// FMI_BENCH_ROUNDS (round trips for 8 B; larger sizes do fewer, default
// 20000), FMI_BENCH_REPEAT (runs of each setting, interleaved, default 2),
// FMI_SHM_RING_BYTES (ring size), FMI_SHM_STAGING_BYTES (most a pair's staging
// area for large messages grows to; 0: none, large messages stream through the ring).
// stdout: {bench:"shm-channel", bytes, block_us, spin_us, rounds, p50_us, cpu_us_per_rt, load}

import { loadavg } from 'node:os';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { workerResult } from './lib/common.mjs';

const dist = new URL('../dist/channels/shm/index.js', import.meta.url).href;
const list = (v, d) => (v ?? d).split(',').map(Number);

if (isMainThread) await main();
else await side(workerData);

async function main() {
  const { createRegion } = await import(dist);
  const blocks = list(process.env.FMI_BENCH_BLOCK_US, '0,200,5000');
  const sizes = list(process.env.FMI_BENCH_SIZES, '8,4194304');
  const spinUs = Number(process.env.FMI_BENCH_SPIN_US ?? 0);
  const baseRounds = Number(process.env.FMI_BENCH_ROUNDS ?? 20000);
  const repeat = Number(process.env.FMI_BENCH_REPEAT ?? 2);
  const ringBytes = process.env.FMI_SHM_RING_BYTES ? Number(process.env.FMI_SHM_RING_BYTES) : undefined;
  const stagingBytes = process.env.FMI_SHM_STAGING_BYTES ? Number(process.env.FMI_SHM_STAGING_BYTES) : undefined;
  for (const bytes of sizes) {
    const rounds = Math.max(50, Math.min(baseRounds, Math.floor((baseRounds * 1024) / Math.max(bytes, 1024))));
    for (let r = 0; r < repeat; r++) {
      for (const blockUs of blocks) {
        const region = createRegion([0, 1], ringBytes, stagingBytes);
        const cpu0 = process.cpuUsage();
        const p50 = await Promise.all([0, 1].map((rank) => workerResult(new URL(import.meta.url), { region, rank, blockUs, spinUs, bytes, rounds })));
        const cpu = process.cpuUsage(cpu0);
        const out = {
          bench: 'shm-channel',
          bytes,
          block_us: blockUs,
          spin_us: spinUs,
          rounds,
          p50_us: +p50[0].toFixed(2),
          cpu_us_per_rt: +((cpu.user + cpu.system) / rounds).toFixed(1),
          load: +loadavg()[0].toFixed(2),
        };
        process.stdout.write(JSON.stringify(out) + '\n');
      }
    }
  }
}


async function side({ region, rank, blockUs, spinUs, bytes, rounds }) {
  const { ShmChannel } = await import(dist);
  const c = await ShmChannel.create({ job: 'bench', rank, size: 2, region, blockUs, spinUs });
  const env = { ctx: 0, tag: 1, kind: 0 };
  const buf = new Uint8Array(bytes).fill(rank + 1);
  const into = new Uint8Array(bytes);
  const warm = Math.min(200, rounds);
  const samples = new Float64Array(rounds);
  for (let i = -warm; i < rounds; i++) {
    const t0 = performance.now();
    if (rank === 0) {
      await c.send(1, env, buf);
      await c.recv({ source: 1, ctx: 0, tag: 1, into });
    } else {
      await c.recv({ source: 0, ctx: 0, tag: 1, into });
      await c.send(0, env, buf);
    }
    if (i >= 0) samples[i] = performance.now() - t0;
  }
  samples.sort();
  await c.close();
  parentPort.postMessage(samples[rounds >> 1] * 500);
}
