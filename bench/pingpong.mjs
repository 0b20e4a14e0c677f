// Ping-pong between rank 0 and rank 1 over fmi's direct channel.
//   node dist/cli/main.js run -n 2 --no-prefix bench/pingpong.mjs
//
// Rank 0 sends a message, rank 1 sends it back; the time of each round trip
// is one sample. Reports round trip / 2 (p50, p99) and MB/s = bytes / p50.
// stdout (rank 0): one JSON line per size, see bench/README.md.
//
// Environment: FMI_BENCH_QUICK=1, FMI_BENCH_MS (measure time per size),
// FMI_BENCH_SIZES (bytes, e.g. "8,1k,4m"), FMI_BENCH_DTYPE=u8|f64 (payload
// type, default u8), FMI_BENCH_RECV=into|alloc (receive into a preallocated
// array, the default, or let fmi allocate each message), FMI_BENCH_ALLOC=1
// (after each size, also measure what a round trip allocates on each rank:
// lib/alloc-meter.mjs; adds `alloc` to the result line), FMI_BENCH_SHARED=1
// (buffers from sharedArray(): in the node arena's memory between thread
// ranks, so the shm channel copies them with Wasm memory.copy; plain arrays
// elsewhere).

import { Op, init, sharedArray } from 'fmi';
import { ALLOC, meter, round1, windowFor } from './lib/alloc-meter.mjs';
import { PINGPONG_SIZES, emit, fillPattern, isOn, mbPerS, sizesFrom, summarize, warmUp } from './lib/common.mjs';

const CTRL = 1;
const DATA = 2;
const DTYPE = process.env.FMI_BENCH_DTYPE ?? 'u8';
const Ctor = { u8: Uint8Array, f64: Float64Array }[DTYPE];
if (!Ctor) throw new Error(`FMI_BENCH_DTYPE must be u8 or f64, got ${DTYPE}`);
const USE_INTO = (process.env.FMI_BENCH_RECV ?? 'into') !== 'alloc';
const SHARED = isOn(process.env.FMI_BENCH_SHARED);
const array = (len) => (SHARED ? sharedArray(Ctor, len) : new Ctor(len));

const comm = await init();
if (comm.size !== 2) {
  if (comm.rank === 0) process.stderr.write(`pingpong: needs exactly 2 ranks, got ${comm.size}\n`);
  await comm.close();
  process.exit(2);
}

const sizes = sizesFrom(PINGPONG_SIZES);
const maxBytes = Math.max(...sizes);

if (comm.rank === 0) await driver();
else await echo();
await comm.close();

/** Both ranks meter another window when either one's saw a GC: one that ran a window more would wait for the other's round trips forever. */
async function agree(spoiled) {
  return (await comm.allreduce(spoiled ? 1 : 0, Op.MAX)) === 1;
}

async function driver() {
  const ctrl = new Float64Array(3);
  const tell = (bytes, n, metered = 0) => {
    ctrl[0] = bytes;
    ctrl[1] = n;
    ctrl[2] = metered;
    return comm.send(ctrl, 1, { tag: CTRL });
  };
  for (const bytes of sizes) {
    const len = Math.max(1, Math.floor(bytes / Ctor.BYTES_PER_ELEMENT));
    const sbuf = array(len);
    fillPattern(new Uint8Array(sbuf.buffer, sbuf.byteOffset, sbuf.byteLength), bytes & 0xff);
    const rbuf = array(len);
    const opts = USE_INTO ? { tag: DATA, into: rbuf } : { tag: DATA };
    let last;
    const rounds = async (n, samples) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await comm.send(sbuf, 1, { tag: DATA });
        last = await comm.recv(1, opts);
        if (samples) samples[i] = performance.now() - t0;
      }
    };
    const batch = async (n, samples) => {
      await tell(sbuf.byteLength, n);
      await rounds(n, samples);
    };

    // Warm-up: doubling batches under warmUpPlan; the last batch gives the time per round trip.
    const { iters, perMs, warmupMs } = await warmUp(batch, bytes === sizes[0]);
    const samples = new Float64Array(iters);
    await batch(iters, samples);
    check(sbuf, last);
    const s = summarize(samples, iters, 0.5);
    let alloc;
    if (ALLOC) {
      // Both ranks meter the same round trips; rank 1 then sends its figures.
      const n = windowFor(perMs);
      await tell(sbuf.byteLength, n, 1);
      const mine = await meter(n, (k) => rounds(k), agree);
      const theirs = await comm.recv(1, { tag: CTRL, into: new Float64Array(5) });
      alloc = {
        window: n,
        bytes_per_rt: [round1(mine.bytes), round1(theirs[0])],
        faults_per_rt: [round1(mine.faults), round1(theirs[1])],
        gc_spoiled: mine.spoiled || theirs[2] === 1,
        ...(mine.cpuUs === undefined ? {} : {
          wall_us_per_rt: round1(mine.wallUs),
          cpu_us_per_rt: [round1(mine.cpuUs), round1(theirs[3])],
          runq_us_per_rt: [round1(mine.runqUs), round1(theirs[4])],
        }),
      };
    }
    emit({
      bench: 'pingpong', impl: 'fmi', channel: comm.channels[0], ranks: 2, bytes: sbuf.byteLength, iters, ...s,
      mb_s: mbPerS(sbuf.byteLength, s.p50_us),
      variant: `${DTYPE}${USE_INTO ? '' : ',alloc'}${SHARED ? ',shared' : ''}`,
      alloc,
      warmup_ms: Math.round(warmupMs),
    });
  }
  await tell(0, 0);
}

async function echo() {
  const ctrl = new Float64Array(3);
  const big = array(Math.max(1, Math.ceil(maxBytes / Ctor.BYTES_PER_ELEMENT)));
  const opts = USE_INTO ? { tag: DATA, into: big } : { tag: DATA };
  const echoes = async (n) => {
    for (let i = 0; i < n; i++) {
      const m = await comm.recv(0, opts);
      await comm.send(m, 0, { tag: DATA });
    }
  };
  for (;;) {
    await comm.recv(0, { tag: CTRL, into: ctrl });
    const n = ctrl[1];
    if (n === 0) return;
    if (ctrl[2] !== 1) await echoes(n);
    else {
      const m = await meter(n, echoes, agree);
      await comm.send(Float64Array.of(m.bytes, m.faults, m.spoiled ? 1 : 0, m.cpuUs ?? NaN, m.runqUs ?? NaN), 0, { tag: CTRL });
    }
  }
}

function check(sent, got) {
  const a = new Uint8Array(sent.buffer, sent.byteOffset, sent.byteLength);
  const b = new Uint8Array(got.buffer, got.byteOffset, got.byteLength);
  if (a.length !== b.length) throw new Error(`pingpong: echo of ${a.length} bytes came back as ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`pingpong: echo differs at byte ${i} of ${a.length}`);
  }
}
