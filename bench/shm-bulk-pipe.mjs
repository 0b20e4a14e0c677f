// The floor of a large message between two thread ranks: its payload
// crosses from one core to the other through a shared staging area, two
// copies, no fmi around them (issue 13's 4 MiB >= memcpy / 2).
//   npm run build && node bench/shm-bulk-pipe.mjs
//
// Modes, each 4 MiB (FMI_BENCH_BYTES) per message, copies by copyBytes
// (channels/shm/copy-bytes.ts, one memcpy), from and to plain arrays:
//   apart   two threads at once, each copying its own payload into its own
//           SharedArrayBuffer (the memory bandwidth of both cores, nothing shared)
//   serial  one thread copies into the staging area, then out of it
//   pipe    one thread copies into the staging area a chunk at a time,
//           publishing each; the other copies each out as it lands (what
//           bulk.ts does), for each chunk size (FMI_BENCH_CHUNKS, default
//           64k,128k,256k,512k,1m) and staging area size (FMI_BENCH_AREAS,
//           default 1m,4m: a smaller area is a ring the writer waits on)
// Both threads spin on the positions (no Atomics.wait): what is left is the
// copies and the hand-off of cache lines between the cores, which the
// ping-pong's half round trip cannot beat. FMI_BENCH_ROUNDS messages per row
// (default 300), FMI_BENCH_REPEAT passes over the rows (default 2).
// stdout: {bench:"shm-bulk-pipe", mode, bytes, chunk, area, p50_us, min_us, gb_s, load}

import { loadavg } from 'node:os';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { parseSize, workerResult } from './lib/common.mjs';

const dist = new URL('../dist/channels/shm/copy-bytes.js', import.meta.url).href;
const BYTES = parseSize(process.env.FMI_BENCH_BYTES ?? '4m');
const HEAD = 0;
const TAIL = 1;
const GO = 2;
const DONE = 3;

if (isMainThread) await main();
else parentPort.postMessage(await side(workerData));

/** "64k,1m,4096" in bytes. */
function sizes(v, d) {
  return (v ?? d).split(',').map((s) => parseSize(s.trim()));
}

async function main() {
  const chunks = sizes(process.env.FMI_BENCH_CHUNKS, '64k,128k,256k,512k,1m');
  const areas = sizes(process.env.FMI_BENCH_AREAS, '1m,4m');
  const rounds = Number(process.env.FMI_BENCH_ROUNDS ?? 300);
  const repeat = Number(process.env.FMI_BENCH_REPEAT ?? 2);
  const rows = [['apart', 0, BYTES], ['serial', 0, BYTES]];
  for (const area of areas) for (const chunk of chunks) if (chunk <= area / 2 || area >= BYTES) rows.push(['pipe', chunk, area]);
  for (let r = 0; r < repeat; r++) {
    for (const [mode, chunk, area] of rows) {
      const ctl = new Int32Array(new SharedArrayBuffer(64));
      const stage = new SharedArrayBuffer(area);
      const roles = mode === 'serial' ? ['serial'] : mode === 'apart' ? ['apart', 'apart'] : ['writer', 'reader'];
      const out = await Promise.all(roles.map((role) => workerResult(new URL(import.meta.url), { role, ctl, stage, chunk, rounds })));
      const t = out[0].sort((a, b) => a - b);
      const p50 = t[t.length >> 1];
      const row = {
        bench: 'shm-bulk-pipe', mode, bytes: BYTES, chunk, area,
        p50_us: +p50.toFixed(1), min_us: +t[0].toFixed(1), gb_s: +(BYTES / p50 / 1000).toFixed(1),
        load: +loadavg()[0].toFixed(2),
      };
      process.stdout.write(JSON.stringify(row) + '\n');
    }
  }
}


/** One thread's part; the times (us) of its messages, the first 20 left out (warm-up). */
async function side({ role, ctl, stage, chunk, rounds }) {
  const { copyBytes } = await import(dist);
  const area = new Uint8Array(stage);
  const src = new Uint8Array(BYTES).fill(7);
  const dst = new Uint8Array(BYTES);
  const times = [];
  const warm = 20;
  for (let r = 1; r <= rounds + warm; r++) {
    const t0 = performance.now();
    if (role === 'apart') copyBytes(area, 0, src);
    else if (role === 'serial') {
      copyBytes(area, 0, src);
      copyBytes(dst, 0, area);
    } else if (role === 'writer') write(r);
    else read(r);
    times.push((performance.now() - t0) * 1000);
  }
  return times.slice(warm);

  // Positions count bytes (modulo 2^31 is far off: rounds x BYTES stays below it for the defaults).
  function write(r) {
    let head = Atomics.load(ctl, HEAD);
    Atomics.store(ctl, GO, r);
    for (let off = 0; off < BYTES; off += chunk) {
      const n = Math.min(chunk, BYTES - off);
      while (head + n - Atomics.load(ctl, TAIL) > area.byteLength);
      copyBytes(area, head % area.byteLength, src.subarray(off, off + n));
      head += n;
      Atomics.store(ctl, HEAD, head);
    }
    while (Atomics.load(ctl, DONE) !== r);
  }

  function read(r) {
    while (Atomics.load(ctl, GO) !== r);
    let tail = Atomics.load(ctl, TAIL);
    for (let off = 0; off < BYTES; off += chunk) {
      const n = Math.min(chunk, BYTES - off);
      while (Atomics.load(ctl, HEAD) - tail < n);
      const at = tail % area.byteLength;
      copyBytes(dst, off, area.subarray(at, at + n));
      tail += n;
      Atomics.store(ctl, TAIL, tail);
    }
    Atomics.store(ctl, DONE, r);
  }
}
