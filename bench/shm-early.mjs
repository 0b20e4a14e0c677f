// Large messages that arrive before their receive (an "early" message), between
// two thread ranks over shared memory.
//   npm run build && node dist/cli/main.js run -n 2 --threads --no-prefix bench/shm-early.mjs
//   (A/B: FMI_BENCH_BASE=DIR node DIR/dist/cli/main.js run -n 2 --threads --no-prefix bench/shm-early.mjs)
//
// Rank 0 sends a message and then a 1-byte "go"; rank 1 receives "go" first
// (so the message is early: it came before its receive), then the message
// into a buffer of its own, and answers with 1 byte. One sample: rank 0's
// round (send, go, answer). rank 1 also times its receive of the early message
// (`recv_p50_us`): where the payload waited in the staging area it is copied
// once then, else it was copied out to a pooled buffer on arrival and is
// copied again.
//
// Environment: FMI_BENCH_QUICK, FMI_BENCH_MS, FMI_BENCH_SIZES (default
// 64k..4m), FMI_BENCH_BASE=DIR (an earlier fmi checkout, built: this script
// then imports DIR's fmi, and must be launched by DIR's CLI, as above).
// stdout (rank 0): one JSON line per size {bench:"shm-early", ...,
// p50_us (round), recv_p50_us}.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KiB, MiB, fillPattern, mbPerS, sizesFrom, summarize, warmUp } from './lib/common.mjs';

const base = process.env.FMI_BENCH_BASE;
const { init } = await import(base ? pathToFileURL(join(base, 'dist', 'index.js')).href : 'fmi');
const [DATA, GO, ACK, CTRL] = [1, 2, 3, 4];

const comm = await init();
if (comm.size !== 2) throw new Error(`shm-early: needs exactly 2 ranks, got ${comm.size}`);
const sizes = sizesFrom([64 * KiB, 256 * KiB, MiB, 4 * MiB]);
const one = new Uint8Array(1);
const ctrl = new Float64Array(2);

for (const bytes of sizes) {
  const buf = new Uint8Array(bytes);
  fillPattern(buf, bytes & 0xff);
  if (comm.rank === 0) {
    const rounds = async (n, samples) => {
      ctrl[0] = n;
      ctrl[1] = samples ? 1 : 0;
      await comm.send(ctrl, 1, { tag: CTRL });
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await comm.send(buf, 1, { tag: DATA });
        await comm.send(one, 1, { tag: GO });
        await comm.recv(1, { tag: ACK, into: one });
        if (samples) samples[i] = performance.now() - t0;
      }
    };
    const { iters } = await warmUp(rounds, bytes === sizes[0]);
    const samples = new Float64Array(iters);
    await rounds(iters, samples);
    const recv = await comm.recv(1, { tag: CTRL, into: new Float64Array(1) });
    const s = summarize(samples, iters);
    // emit() keeps the common fields only.
    process.stdout.write(JSON.stringify({ bench: 'shm-early', impl: 'fmi', channel: comm.channels[0], ranks: 2, bytes, iters, ...s, mb_s: mbPerS(bytes, s.p50_us), recv_p50_us: Math.round(recv[0] * 1000) / 1000, variant: base ? 'base' : 'u8' }) + '\n');
  } else {
    const into = new Uint8Array(bytes);
    for (;;) {
      await comm.recv(0, { tag: CTRL, into: ctrl });
      const n = ctrl[0];
      const samples = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        await comm.recv(0, { tag: GO, into: one });
        const t0 = performance.now();
        await comm.recv(0, { tag: DATA, into });
        samples[i] = performance.now() - t0;
        await comm.send(one, 0, { tag: ACK });
      }
      if (into[bytes - 1] !== buf[bytes - 1] || into[0] !== buf[0]) throw new Error(`shm-early: ${bytes} bytes arrived wrong`);
      // The measured batch: rank 0 waits for its median.
      if (ctrl[1] === 1) {
        await comm.send(Float64Array.of(summarize(samples, n).p50_us), 0, { tag: CTRL });
        break;
      }
    }
  }
}
await comm.close();
