// Per-hop timeline of a small collective over the direct channel: every rank
// records when it starts and ends each call, when each frame send starts and
// returns (`s0`, `s1`: the write syscall runs the receiver's side of the
// loopback stack and wakes it; a long gap is this rank preempted by the rank
// it woke) and when each frame's header arrives (`r`). Rank 0 merges the
// ranks' records (one clock: same host) and prints the calls at the median
// and at the 25th percentile of the call's span (first rank in, last out).
// Not part of the driver; the numbers behind bench/README.md ("What the wall
// time of a 1 KiB allreduce on 4 ranks is made of").
//   npm run build:ts
//   OP=allreduce node dist/cli/main.js run -n 4 --no-prefix bench/coll-trace.mjs
//
// It loads dist/ unbundled and wraps two methods of its classes
// (Connection.send, Matcher.arrive): nothing in the library changes.
// Environment: OP=allreduce|barrier|bcast (default allreduce), BYTES
// (Float64Array bytes, default 1024), N (traced calls, default 2000, after
// 500 untraced), SHOW (calls printed per percentile, default 2).

const dist = new URL('../dist/', import.meta.url);
const { init, Op } = await import(new URL('index.js', dist).href);
const { Connection } = await import(new URL('channels/direct/connection.js', dist).href);
const { Matcher } = await import(new URL('channels/matcher.js', dist).href);

// Flat records (time in ms since the epoch, event, peer): no object per event.
const rec = [];
let on = false;
const now = () => performance.timeOrigin + performance.now();
const send = Connection.prototype.send;
Connection.prototype.send = function (...args) {
  if (on) rec.push(now(), 's0', this.peer);
  const p = send.apply(this, args);
  if (on) rec.push(now(), 's1', this.peer);
  return p;
};
const arrive = Matcher.prototype.arrive;
Matcher.prototype.arrive = function (source, ...rest) {
  if (on) rec.push(now(), 'r', source);
  return arrive.call(this, source, ...rest);
};

const comm = await init();
const OP = process.env.OP || 'allreduce';
const N = Number(process.env.N || 2000);
const SHOW = Number(process.env.SHOW || 2);
const data = new Float64Array(Number(process.env.BYTES || 1024) / 8).fill(comm.rank + 1);
const calls = {
  allreduce: () => comm.allreduce(data, Op.SUM),
  barrier: () => comm.barrier(),
  bcast: () => comm.bcast(comm.rank === 0 ? data : undefined, 0),
};
const run = calls[OP];
if (!run) throw new Error(`OP must be one of ${Object.keys(calls).join(', ')}`);
for (let i = 0; i < 500; i++) await run();
await comm.barrier();
on = true;
for (let i = 0; i < N; i++) {
  rec.push(now(), 'B', i);
  await run();
  rec.push(now(), 'E', i);
}
on = false;
const all = await comm.gather(rec, 0);
if (comm.rank === 0) print(all);
await comm.close();

function print(all) {
  const ev = [];
  all.forEach((r, rank) => {
    for (let i = 0; i < r.length; i += 3) ev.push({ t: r[i], e: r[i + 1], p: r[i + 2], rank });
  });
  ev.sort((a, b) => a.t - b.t);
  const first = new Map();
  const last = new Map();
  for (const x of ev) {
    if (x.e === 'B' && !first.has(x.p)) first.set(x.p, x.t);
    if (x.e === 'E') last.set(x.p, x.t);
  }
  const spans = [...first.keys()].map((i) => [last.get(i) - first.get(i), i]).sort((a, b) => a[0] - b[0]);
  const us = (ms) => (ms * 1000).toFixed(0);
  console.log(`${OP} ${data.byteLength} B on ${all.length} ranks, ${N} calls: span (first rank in, last out) p25 ${us(spans[spans.length >> 2][0])} p50 ${us(spans[spans.length >> 1][0])} us`);
  for (const q of [0.5, 0.25]) {
    for (let j = 0; j < SHOW; j++) {
      const [span, i] = spans[Math.floor(spans.length * q) + j];
      const t0 = first.get(i);
      console.log(`--- call ${i} (p${q * 100}): ${us(span)} us; one column per rank; B/E: a call begins/ends, s0/s1: a send starts/returns, r: a frame arrives`);
      for (const x of ev) {
        if (x.t < t0 || x.t > last.get(i)) continue;
        const what = x.e === 'B' || x.e === 'E' ? `${x.e}${x.p}` : x.e === 'r' ? `r<-${x.p}` : `${x.e}->${x.p}`;
        console.log(`${us(x.t - t0).padStart(6)} us  ${' '.repeat(10 * x.rank)}${what}`);
      }
    }
  }
}
