// Which core should copy a large message between two thread ranks? A bare
// probe (no fmi): two worker threads play the 4 MiB ping-pong of
// bench/pingpong.mjs over one shared Wasm memory (rank 0 sends S0 and
// receives into R0; rank 1 receives into R1 and sends R1 back), each copy
// one Wasm memory.copy (what the shm channel uses for sharedArray() arrays),
// and each plan moves the bytes another way:
//   staged   rank 0 S0 -> area -> R1 rank 1, 128 KiB chunks, both copy at once (the shm channel today); back the same way
//   recv     the receiver copies once, out of the sender's array (the reverted lending): rank 1 S0 -> R1, rank 0 R1 -> R0
//   send     the sender copies once, into the receiver's array: rank 0 S0 -> R1, rank 1 R1 -> R0
//   rank0    rank 0 does both copies (it sends into R1, then receives out of it): rank 1's core touches no payload
//   split    each copy in halves at once, rank 0 the first half of each, rank 1 the second
//   cross    as split, but each rank the other half on the way back
//   fresh    as recv, rank 1 into the next of 6 destinations (lines no core touched lately) and rank 0 out of it
//   recv64k  as recv, each copy in 64 KiB memory.copy calls; recv-rev the same from the end down
//   claim    each copy in 256 KiB chunks that both ranks claim from one counter (a split that needs no partner: what one rank finds unclaimed it copies)
//   offer    the receiver offers the sender (asleep in Atomics.wait) the first half, copies the second, then the first too
//            unless the sender woke and took it (then it waits for it): a split that a late or absent sender cannot stall
//   recv-spin as recv, the rank not copying spins instead of Atomics.wait (its core stays awake)
//   echo-w   rank 1 writes R1 only (memory.fill), rank 0 reads it (R1 -> R0): writing lines the other core read
//   echo-r   rank 1 reads R1 (R1 -> T1, its own), rank 0 writes R1 (memory.fill): reading lines the other core wrote
// Per copy: wall (performance.now) and the process's CPU (process.cpuUsage; both ranks' where both copy),
// median, p10 and min; and the half round trip (rank 0's round / 2).
//   npm run build && node bench/shm-copy-lines.mjs
// Environment: FMI_BENCH_ROUNDS (default 300), FMI_BENCH_PLANS (comma list),
// FMI_BENCH_BYTES (default 4 MiB), FMI_BENCH_REPEAT (default 1: plans run this many times, interleaved).
// stdout: one JSON line per plan and part {bench:"shm-copy-lines", plan, step, rank, ...};
// stderr: a table.

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadLine } from './lib/common.mjs';

const MiB = 1024 * 1024;
const N = Number(process.env.FMI_BENCH_BYTES ?? 4 * MiB);
const ROUNDS = Number(process.env.FMI_BENCH_ROUNDS ?? 300);
const CTL = 65536;
const STAGE_CHUNK = 128 * 1024;
const FRESH = 6;
// Buffers, byte offsets in the memory.
const S0 = CTL;
const R0 = S0 + N;
const R1 = R0 + N;
const A01 = R1 + N;
const A10 = A01 + N;
const T1 = A10 + N;
const F = T1 + N;
const PAGES = (F + FRESH * N) / 65536;

// (module (import "m" "m" (memory 0 65536 shared))
//   (func (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy)
//   (func (export "fill") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill))
const WASM = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 3, 127, 127, 127, 0, 2, 11, 1, 1, 109, 1, 109, 2, 3, 0, 128, 128, 4,
  3, 3, 2, 0, 0, 7, 15, 2, 4, 99, 111, 112, 121, 0, 0, 4, 102, 105, 108, 108, 0, 1, 10, 26, 2, 12, 0, 32, 0, 32,
  1, 32, 2, 252, 10, 0, 0, 11, 11, 0, 32, 0, 32, 1, 32, 2, 252, 11, 0, 11,
];

const half = N / 2;
const cp = (src, dst, off = 0, len = N) => ({ op: 'copy', src: src + off, dst: dst + off, len });
/** Plans: steps of [rank 0's part, rank 1's part]; a part is a list of operations. */
const PLANS = {
  staged: [[[{ op: 'in', src: S0, area: A01 }], [{ op: 'out', area: A01, dst: R1 }]], [[{ op: 'out', area: A10, dst: R0 }], [{ op: 'in', src: R1, area: A10 }]]],
  recv: [[[], [cp(S0, R1)]], [[cp(R1, R0)], []]],
  send: [[[cp(S0, R1)], []], [[], [cp(R1, R0)]]],
  rank0: [[[cp(S0, R1)], []], [[cp(R1, R0)], []]],
  split: [[[cp(S0, R1, 0, half)], [cp(S0, R1, half, half)]], [[cp(R1, R0, 0, half)], [cp(R1, R0, half, half)]]],
  cross: [[[cp(S0, R1, 0, half)], [cp(S0, R1, half, half)]], [[cp(R1, R0, half, half)], [cp(R1, R0, 0, half)]]],
  fresh: [[[], [{ op: 'fresh-in', src: S0 }]], [[{ op: 'fresh-out', dst: R0 }], []]],
  recv64k: [[[], [{ ...cp(S0, R1), chunk: 65536 }]], [[{ ...cp(R1, R0), chunk: 65536 }], []]],
  'recv-rev': [[[], [{ ...cp(S0, R1), chunk: -65536 }]], [[{ ...cp(R1, R0), chunk: -65536 }], []]],
  claim: [[[{ op: 'claim', src: S0, dst: R1 }], [{ op: 'claim', src: S0, dst: R1 }]], [[{ op: 'claim', src: R1, dst: R0 }], [{ op: 'claim', src: R1, dst: R0 }]]],
  offer: [[[{ op: 'offer-send', src: S0, dst: R1 }], [{ op: 'offer-recv', src: S0, dst: R1 }]], [[{ op: 'offer-recv', src: R1, dst: R0 }], [{ op: 'offer-send', src: R1, dst: R0 }]]],
  'recv-spin': Object.assign([[[], [cp(S0, R1)]], [[cp(R1, R0)], []]], { spin: true }),
  'echo-w': [[[], [{ op: 'fill', dst: R1, len: N }]], [[cp(R1, R0)], []]],
  'echo-r': [[[], [cp(R1, T1)]], [[{ op: 'fill', dst: R1, len: N }], []]],
};

if (isMainThread) {
  const names = (process.env.FMI_BENCH_PLANS ?? Object.keys(PLANS).join(',')).split(',');
  const repeat = Number(process.env.FMI_BENCH_REPEAT ?? 1);
  process.stderr.write(`shm-copy-lines: ${N} bytes, ${ROUNDS} rounds, load ${loadLine()}\n`);
  process.stderr.write(`${'plan'.padEnd(9)} ${'half rt'.padStart(8)} | step rank: wall p50/p10/min us, cpu p50/p10 us\n`);
  for (let r = 0; r < repeat; r++) {
    for (const name of names) {
      const plan = PLANS[name];
      if (!plan) throw new Error(`shm-copy-lines: no plan ${name}`);
      const memory = new WebAssembly.Memory({ initial: PAGES, maximum: 65536, shared: true });
      const results = await Promise.all([0, 1].map((rank) => run(memory, name, rank)));
      const cells = [];
      for (const [rank, res] of results.entries()) {
        for (const [step, part] of res.parts.entries()) {
          if (!part) continue;
          const w = stats(part.wall);
          const c = stats(part.cpu);
          process.stdout.write(JSON.stringify({ bench: 'shm-copy-lines', plan: name, bytes: N, step, rank, wall_p50_us: w.p50, wall_p10_us: w.p10, wall_min_us: w.min, cpu_p50_us: c.p50, cpu_p10_us: c.p10, half_rt_p50_us: results[0].half }) + '\n');
          cells.push(`${step} r${rank}: ${w.p50}/${w.p10}/${w.min}, cpu ${c.p50}/${c.p10}`);
        }
      }
      const taken = results[0].offers.taken + results[1].offers.taken;
      const self = results[0].offers.self + results[1].offers.self;
      const note = taken + self > 0 ? ` | the sender took ${taken} of ${taken + self} offers` : '';
      process.stderr.write(`${name.padEnd(9)} ${String(results[0].half).padStart(8)} | ${cells.join(' | ')}${note}\n`);
    }
  }
  const memcpy = memcpyUs();
  process.stdout.write(JSON.stringify({ bench: 'shm-copy-lines', plan: 'memcpy', bytes: N, best_us: memcpy }) + '\n');
  process.stderr.write(`one thread's memory.copy of its own ${N} bytes, best of 20: ${memcpy} us (goal: half round trip <= ${2 * memcpy} us); load now ${loadLine()}\n`);
} else {
  parentPort.postMessage(worker(workerData));
}

/** This thread's memory.copy between two buffers of its own (warm), best of 20, us: issue 13's memcpy. */
function memcpyUs() {
  const memory = new WebAssembly.Memory({ initial: (2 * N) / 65536 + 1, maximum: 65536, shared: true });
  const { copy } = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(WASM)), { m: { m: memory } }).exports;
  let best = Infinity;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    copy(N, 0, N);
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round(best * 1000);
}

function run(memory, plan, rank) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { memory, plan, rank } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]);
  return { p50: at(0.5), p10: at(0.1), min: Math.round(s[0]) };
}

/** The process's CPU time so far, us (Node 20 has no thread's; schedstat moves at scheduler ticks only): the other worker waits meanwhile, but where both copy at once (staged, split, cross) it counts both. */
function cpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function worker({ memory, plan, rank }) {
  const { copy, fill } = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(WASM)), { m: { m: memory } }).exports;
  const ctl = new Int32Array(memory.buffer, 0, 64);
  const TURN = 0;
  const DONE = 1;
  const HEAD = [2, 3]; // staging heads, 0->1 and 1->0
  const CLAIM = 4;
  const OFFER = 5;
  const offers = { taken: 0, self: 0 };
  const CLAIM_CHUNK = 256 * 1024;
  const steps = PLANS[plan];
  if (rank === 0) {
    new Uint8Array(memory.buffer).fill(7, S0, S0 + N);
    for (let i = 0; i < N; i += 4096) new Uint8Array(memory.buffer)[S0 + i] = i & 0xff;
  }
  let fresh = 0;
  const exec = (o) => {
    switch (o.op) {
      case 'copy':
        if (!o.chunk) copy(o.dst, o.src, o.len);
        else if (o.chunk > 0) for (let at = 0; at < o.len; at += o.chunk) copy(o.dst + at, o.src + at, Math.min(o.chunk, o.len - at));
        else for (let at = o.len + o.chunk; at > o.chunk; at += o.chunk) copy(o.dst + Math.max(at, 0), o.src + Math.max(at, 0), Math.min(-o.chunk, o.len - Math.max(at, 0)));
        return;
      case 'claim':
        for (let i; (i = Atomics.add(ctl, CLAIM, 1)) * CLAIM_CHUNK < N; ) copy(o.dst + i * CLAIM_CHUNK, o.src + i * CLAIM_CHUNK, Math.min(CLAIM_CHUNK, N - i * CLAIM_CHUNK));
        return;
      case 'offer-recv':
        Atomics.store(ctl, OFFER, 1);
        Atomics.notify(ctl, OFFER);
        copy(o.dst + half, o.src + half, half);
        if (Atomics.compareExchange(ctl, OFFER, 1, 3) === 1) {
          copy(o.dst, o.src, half);
          offers.self++;
        } else for (let v; (v = Atomics.load(ctl, OFFER)) !== 4; ) Atomics.wait(ctl, OFFER, v, 1);
        return;
      case 'offer-send':
        for (let v; (v = Atomics.load(ctl, OFFER)) === 0; ) Atomics.wait(ctl, OFFER, v, 5);
        if (Atomics.compareExchange(ctl, OFFER, 1, 2) === 1) {
          copy(o.dst, o.src, half);
          Atomics.store(ctl, OFFER, 4);
          Atomics.notify(ctl, OFFER);
          offers.taken++;
        }
        return;
      case 'fill':
        fill(o.dst, 9, o.len);
        return;
      case 'fresh-in':
        fresh = (fresh + 1) % FRESH;
        copy(F + fresh * N, o.src, N);
        return;
      case 'fresh-out':
        fresh = (fresh + 1) % FRESH;
        copy(o.dst, F + fresh * N, N);
        return;
      case 'in': {
        const h = o.area === A01 ? HEAD[0] : HEAD[1];
        for (let at = 0; at < N; at += STAGE_CHUNK) {
          copy(o.area + at, o.src + at, Math.min(STAGE_CHUNK, N - at));
          Atomics.store(ctl, h, at + STAGE_CHUNK);
          Atomics.notify(ctl, h);
        }
        return;
      }
      case 'out': {
        const h = o.area === A01 ? HEAD[0] : HEAD[1];
        let at = 0;
        while (at < N) {
          const head = Atomics.load(ctl, h);
          if (head <= at) {
            Atomics.wait(ctl, h, head, 1);
            continue;
          }
          const end = Math.min(head, N);
          copy(o.dst + at, o.area + at, end - at);
          at = end;
        }
        return;
      }
    }
  };
  const parts = steps.map((s) => (s[rank].length > 0 ? { wall: [], cpu: [] } : null));
  const rounds = [];
  const warm = Math.max(20, ROUNDS >> 3);
  let turn = 0;
  for (let round = 0; round < warm + ROUNDS; round++) {
    const r0 = performance.now();
    for (const [k, s] of steps.entries()) {
      for (let v; (v = Atomics.load(ctl, TURN)) < turn; ) if (!steps.spin) Atomics.wait(ctl, TURN, v, 5);
      const ops = s[rank];
      const workers = (s[0].length > 0 ? 1 : 0) + (s[1].length > 0 ? 1 : 0);
      if (ops.length > 0) {
        const c0 = cpuUs();
        const t0 = performance.now();
        for (const o of ops) exec(o);
        const t1 = performance.now();
        const c1 = cpuUs();
        if (round >= warm) {
          parts[k].wall.push((t1 - t0) * 1000);
          parts[k].cpu.push(c1 - c0);
        }
        if (Atomics.add(ctl, DONE, 1) + 1 === workers) {
          Atomics.store(ctl, DONE, 0);
          Atomics.store(ctl, HEAD[0], 0);
          Atomics.store(ctl, HEAD[1], 0);
          Atomics.store(ctl, CLAIM, 0);
          Atomics.store(ctl, OFFER, 0);
          Atomics.store(ctl, TURN, turn + 1);
          Atomics.notify(ctl, TURN);
        }
      }
      turn++;
    }
    if (round >= warm) rounds.push((performance.now() - r0) * 500);
  }
  rounds.sort((a, b) => a - b);
  return { parts, half: Math.round(rounds[rounds.length >> 1]), offers };
}
