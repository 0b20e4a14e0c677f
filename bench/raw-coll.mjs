// Barrier and small allreduce over bare Node TCP sockets on loopback, no fmi:
// the floor for fmi's collectives on the direct channel, as raw-pingpong.mjs
// is for its ping-pong.
//   node bench/raw-coll.mjs barrier 4
//   node bench/raw-coll.mjs allreduce 4        (FMI_BENCH_SIZES: bytes of Float64Array, at most 16 KiB)
//
// This process starts N rank processes (fork) and connects them in a full
// mesh of loopback TCP sockets (Nagle off); each rank is one Node process
// waiting in its event loop, as an fmi rank is. The message patterns, one
// result line each (`variant`):
//   star            fmi's pattern on up to 32 ranks (src/collectives/tree.ts,
//                   barrier-tree.ts, allreduce-tree.ts): every rank sends to
//                   rank 0 and waits; rank 0 takes them in rank order (folds
//                   the allreduce's values in that order), then answers
//                   ranks N-1..1
//   dissemination   barrier: log2(N) rounds, send to rank+k, wait for rank-k
//                   (fmi's barrier above 32 ranks was this before the tree)
//   rd              allreduce, power-of-two N: recursive doubling, log2(N)
//                   rounds of exchange with rank^mask
//   alltoall        one round: every rank sends to every other and waits for
//                   all (the allreduce folds the values in rank order);
//                   N(N-1) messages, one wait per rank
// Frames are a 4-byte length and the payload, parsed as lib/framer.mjs does
// (reads into a reused buffer through fmi's read-into from dist/: run `npm
// run build` first). Sends are fire-and-forget writes; a receive is a promise
// per message, awaited, as in fmi. Timing as bench/barrier.mjs and
// bench/allreduce.mjs: calls back to back, every rank times every call, a
// sample is the slowest rank's time for that call; the same warm-up and
// iteration plan (lib/plan.mjs). stdout: one JSON line per pattern and size;
// stderr: the CPU per call (user + system) summed over the ranks, a measure
// that other work on the machine moves less than wall time (compare it with
// bench/coll-probe.mjs's sum for fmi).
// FMI_BENCH_RAW_PATTERNS=star,rd picks patterns. FMI_BENCH_RAW_POLL_US=N: while
// a receive waits, keep the event loop polling up to N µs (a setImmediate
// chain, as fmi's FMI_DIRECT_POLL_US does) instead of sleeping in epoll.

import { fork } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readInto as readIntoOpen } from '../dist/channels/direct/read-into.js';
import { ALLREDUCE_SIZES, KiB, emit, isOn, itersFor, mbPerS, sizesFrom, summarize, warmUpPlan } from './lib/common.mjs';

const HEADER = 4;
const STAGE = 64 * 1024;
/** fmi's allreduce takes the star up to this size (TREE_MAX_BYTES); above, this floor would be another algorithm's. */
const MAX_BYTES = 16 * KiB;
/** Frames a peer may have sent that this rank has not taken yet (dissemination: two barriers ahead at most). */
const SLOTS = 8;
const POLL_MS = Number(process.env.FMI_BENCH_RAW_POLL_US ?? 0) / 1000;


function patternsFor(o, n) {
  const all = o === 'barrier' ? ['star', 'dissemination', 'alltoall'] : ['star', ...((n & (n - 1)) === 0 ? ['rd'] : []), 'alltoall'];
  const asked = process.env.FMI_BENCH_RAW_PATTERNS?.split(',').map((s) => s.trim());
  return asked ? all.filter((p) => asked.includes(p)) : all;
}

function sizesFor(o) {
  if (o === 'barrier') return [0];
  const sizes = sizesFrom(ALLREDUCE_SIZES).map((b) => Math.max(8, Math.floor(b / 8) * 8)).filter((b) => b <= MAX_BYTES);
  return sizes;
}

/** The launcher: N ranks, their listeners' ports to everyone, then each result from the ranks' samples. */
async function launch(o, n) {
  if (!['barrier', 'allreduce'].includes(o) || !Number.isInteger(n) || n < 2) {
    process.stderr.write('usage: node bench/raw-coll.mjs barrier|allreduce N   (N >= 2)\n');
    process.exit(2);
  }
  const me = fileURLToPath(import.meta.url);
  const kids = [];
  // Stopped (the driver's timeout): the ranks go too.
  process.once('SIGTERM', () => {
    for (const k of kids) k.kill('SIGKILL');
    process.exit(1);
  });
  for (let r = 0; r < n; r++) kids.push(fork(me, [o, String(n)], { env: { ...process.env, RAW_COLL_RANK: String(r), RAW_COLL_SIZE: String(n) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  // A rank that dies takes the job with it (no hang waiting for its messages).
  for (const k of kids) {
    k.once('exit', (code) => {
      if (code === 0) return;
      process.stderr.write(`raw-coll: a rank exited with ${code}\n`);
      for (const other of kids) other.kill('SIGKILL');
      process.exit(1);
    });
  }
  const ports = await Promise.all(kids.map((k) => new Promise((resolve) => k.once('message', (m) => resolve(m.port)))));
  for (const k of kids) k.send({ ports });
  await Promise.all(kids.map((k) => new Promise((resolve) => k.once('message', resolve))));
  for (const k of kids) k.send({ go: true });
  // Per result: every rank sends its samples; the sample is the slowest rank's per call.
  const pending = new Map();
  const cpus = new Map();
  let failed = false;
  await new Promise((resolve) => {
    let exited = 0;
    kids.forEach((k) => {
      k.on('message', (m) => {
        const key = `${m.variant}|${m.bytes}`;
        const got = pending.get(key) ?? [];
        got.push(m.samples);
        pending.set(key, got);
        const [cpu, user, vol, invol] = cpus.get(key) ?? [0, 0, 0, 0];
        cpus.set(key, [cpu + m.cpuUs, user + m.userUs, vol + m.vol, invol + m.invol]);
        if (got.length < n) return;
        pending.delete(key);
        process.stderr.write(`raw-coll ${o} ${m.variant} ${m.bytes} B: CPU per call, all ${n} ranks: ${cpus.get(key)[0].toFixed(1)} µs (user ${cpus.get(key)[1].toFixed(1)}), context switches ${cpus.get(key)[2].toFixed(1)} voluntary, ${cpus.get(key)[3].toFixed(1)} involuntary\n`);
        const slowest = Float64Array.from(got[0], (_, i) => Math.max(...got.map((s) => s[i])));
        const s = summarize(slowest, slowest.length);
        emit({ bench: o, impl: 'raw-socket', channel: 'tcp-loopback', ranks: n, bytes: m.bytes, iters: slowest.length, ...s, mb_s: m.bytes ? mbPerS(m.bytes, s.p50_us) : 0, variant: m.variant, warmup_ms: m.warmupMs });
      });
      k.on('exit', (code) => {
        if (code !== 0) failed = true;
        if (++exited === n) resolve();
      });
    });
  });
  if (failed) {
    process.stderr.write('raw-coll: a rank failed\n');
    process.exitCode = 1;
  }
}

/** One rank: listen, get everyone's port, connect the mesh (lower rank dials), then run every pattern and size. */
async function rank(r, n, o) {
  // The launcher gone (killed): nobody will read this rank's results.
  let leaving = false;
  process.on('disconnect', () => leaving || process.exit(1));
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  // A lower rank may dial before this one has the port list: its socket waits in `early`.
  const accepted = new Map();
  const early = new Map();
  server.on('connection', (s) =>
    s.once('data', (d) => {
      const take = accepted.get(d[0]);
      if (take) take(s);
      else early.set(d[0], s);
    }),
  );
  const { ports } = await new Promise((resolve) => {
    process.once('message', resolve);
    process.send({ port: server.address().port });
  });
  const socks = await Promise.all(ports.map((port, p) => {
    if (p === r) return undefined;
    if (p > r) {
      return new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port }, () => {
          s.write(Buffer.from([r]));
          resolve(s);
        });
        s.once('error', reject);
      });
    }
    return new Promise((resolve) => (early.has(p) ? resolve(early.get(p)) : accepted.set(p, resolve)));
  }));
  server.close();
  const peers = socks.map((s) => s && new Peer(s, Math.max(MAX_BYTES, 16)));
  // Only the hello byte on each socket so far: every rank has its mesh before anyone sends more.
  await new Promise((resolve) => {
    process.once('message', resolve);
    process.send({ ready: true });
  });
  for (const bytes of sizesFor(o)) {
    const len = bytes / 8;
    for (const variant of patternsFor(o, n)) {
      const call = o === 'barrier' ? BARRIER[variant] : ALLREDUCE[variant];
      const data = new Float64Array(len).fill(r + 1);
      const out = new Float64Array(len);
      const { samples, cpuUs, userUs, vol, invol, warmupMs } = await plan(peers, r, n, () => call(peers, r, n, data, out), bytes === sizesFor(o)[0] && variant === patternsFor(o, n)[0]);
      const expected = (n * (n + 1)) / 2;
      if (len > 0 && (out[0] !== expected || out[len - 1] !== expected)) throw new Error(`raw-coll ${variant}: rank ${r} got ${out[0]}, expected ${expected}`);
      // Sent before the next pattern starts (and before disconnect, which would drop a message still queued).
      await new Promise((resolve) => process.send({ variant: o === 'allreduce' ? (variant === 'star' ? 'f64,sum' : `f64,sum,${variant}`) : variant, bytes, samples: Array.from(samples), cpuUs, userUs, vol, invol, warmupMs }, resolve));
    }
  }
  // Every rank done with its last call before anyone closes.
  await BARRIER.star(peers, r, n);
  for (const p of peers) p?.socket.end();
  leaving = true;
  process.disconnect();
}

/**
 * lib/plan.mjs's runPlan over these sockets: batches of 1, 2, 4… during
 * warm-up, then one measured batch; rank 0 decides and sends each batch's
 * size to every rank (not timed). Returns this rank's samples (ms).
 */
async function plan(peers, r, n, call, first) {
  const cmd = new Float64Array(2);
  let count = 1;
  const warm = warmUpPlan(first);
  let measuring = false;
  for (;;) {
    if (r === 0) {
      cmd[0] = count;
      cmd[1] = measuring ? 1 : 0;
      for (let p = 1; p < n; p++) peers[p].send(new Uint8Array(cmd.buffer));
    } else new Uint8Array(cmd.buffer).set(await peers[0].recv());
    const c = cmd[0];
    const measured = cmd[1] === 1;
    const samples = measured ? new Float64Array(c) : undefined;
    const cpu0 = process.cpuUsage();
    const u0 = process.resourceUsage();
    const t0 = performance.now();
    for (let i = 0; i < c; i++) {
      const s = performance.now();
      await call();
      if (samples) samples[i] = performance.now() - s;
    }
    if (samples) {
      const cpu = process.cpuUsage(cpu0);
      const u1 = process.resourceUsage();
      const vol = (u1.voluntaryContextSwitches - u0.voluntaryContextSwitches) / c;
      const invol = (u1.involuntaryContextSwitches - u0.involuntaryContextSwitches) / c;
      return { samples, cpuUs: (cpu.user + cpu.system) / c, userUs: cpu.user / c, vol, invol, warmupMs: Math.round(warm.spentMs) };
    }
    const dt = performance.now() - t0;
    if (warm.over(dt, count)) {
      count = itersFor(dt / count);
      measuring = true;
    } else count *= 2;
  }
}

const EMPTY = new Uint8Array(0);

const BARRIER = {
  async star(peers, r, n) {
    if (r === 0) {
      for (let p = 1; p < n; p++) await peers[p].recv();
      for (let p = n - 1; p >= 1; p--) peers[p].send(EMPTY);
    } else {
      peers[0].send(EMPTY);
      await peers[0].recv();
    }
  },
  async alltoall(peers, r, n) {
    for (let p = 1; p < n; p++) peers[(r + p) % n].send(EMPTY);
    for (let p = 1; p < n; p++) await peers[(r - p + n) % n].recv();
  },
  async dissemination(peers, r, n) {
    for (let k = 1; k < n; k <<= 1) {
      peers[(r + k) % n].send(EMPTY);
      await peers[(r - k + n) % n].recv();
    }
  },
};

const ALLREDUCE = {
  async star(peers, r, n, data, out) {
    const bytes = new Uint8Array(out.buffer);
    if (r === 0) {
      out.set(data);
      for (let p = 1; p < n; p++) addInto(out, await peers[p].recv());
      for (let p = n - 1; p >= 1; p--) peers[p].send(bytes);
    } else {
      peers[0].send(new Uint8Array(data.buffer));
      bytes.set(await peers[0].recv());
    }
  },
  /** Everyone's value to everyone, folded in rank order: one round, n(n-1) messages. */
  async alltoall(peers, r, n, data, out) {
    const mine = new Uint8Array(data.buffer);
    for (let p = 1; p < n; p++) peers[(r + p) % n].send(mine);
    const got = [];
    for (let p = 0; p < n; p++) got.push(p === r ? undefined : peers[p].recv());
    out.fill(0);
    for (let p = 0; p < n; p++) {
      if (p === r) addInto(out, mine);
      else addInto(out, await got[p]);
    }
  },
  async rd(peers, r, n, data, out) {
    out.set(data);
    const bytes = new Uint8Array(out.buffer);
    for (let mask = 1; mask < n; mask <<= 1) {
      const peer = peers[r ^ mask];
      peer.send(bytes); // copied next to its header before out changes
      addInto(out, await peer.recv());
    }
  },
};

/** out += the f64 values in `u8` (a view of a receive slot). */
function addInto(out, u8) {
  const v = new Float64Array(u8.buffer, u8.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) out[i] += v[i];
}

/**
 * One socket to a peer: frames out through one reused buffer (a fresh one
 * while the kernel still holds it), frames in parsed into a ring of SLOTS
 * preallocated buffers; recv() returns a promise of the next frame's bytes.
 */
class Peer {
  constructor(socket, maxBytes) {
    this.socket = socket;
    socket.setNoDelay(true);
    this.wbuf = Buffer.allocUnsafeSlow(HEADER + maxBytes);
    this.slots = Array.from({ length: SLOTS }, () => new Uint8Array(maxBytes));
    this.arrived = 0;
    this.taken = 0;
    this.wake = undefined;
    this.head = Buffer.alloc(HEADER);
    this.hfill = 0;
    this.len = -1;
    this.done = 0;
    socket.on('data', (chunk) => this.#data(chunk, chunk.byteLength));
    socket.on('error', (err) => {
      process.stderr.write(`raw-coll: ${err.message}\n`);
      process.exit(1);
    });
    const stage = Buffer.allocUnsafeSlow(STAGE);
    if (!isOn(process.env.FMI_BENCH_RAW_DATA)) readIntoOpen(socket, () => stage, (k, buf) => this.#data(buf, k));
  }

  send(u8) {
    let buf = this.wbuf;
    if (this.socket.writableLength > 0) buf = Buffer.allocUnsafe(HEADER + u8.byteLength);
    buf.writeUInt32LE(u8.byteLength, 0);
    buf.set(u8, HEADER);
    this.socket.write(buf.subarray(0, HEADER + u8.byteLength));
  }

  recv() {
    if (this.arrived > this.taken) return Promise.resolve(this.#take());
    if (POLL_MS > 0) {
      const until = performance.now() + POLL_MS;
      const tick = () => {
        if (this.wake !== undefined && performance.now() < until) setImmediate(tick);
      };
      setImmediate(tick);
    }
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  #take() {
    const slot = this.slots[this.taken++ % SLOTS];
    return slot.subarray(0, slot.len);
  }

  #data(chunk, n) {
    let off = 0;
    while (off < n) {
      if (this.len < 0) {
        const take = Math.min(HEADER - this.hfill, n - off);
        chunk.copy(this.head, this.hfill, off, off + take);
        this.hfill += take;
        off += take;
        if (this.hfill < HEADER) return;
        this.hfill = 0;
        this.len = this.head.readUInt32LE(0);
        this.done = 0;
        if (this.arrived - this.taken >= SLOTS) throw new Error('raw-coll: more frames ahead than slots');
      }
      const slot = this.slots[this.arrived % SLOTS];
      const take = Math.min(this.len - this.done, n - off);
      slot.set(chunk.subarray(off, off + take), this.done);
      this.done += take;
      off += take;
      if (this.done === this.len) {
        slot.len = this.len;
        this.len = -1;
        this.arrived++;
        const w = this.wake;
        if (w) {
          this.wake = undefined;
          w(this.#take());
        }
      }
    }
  }
}

// Last: the classes and tables above are initialized by now.
const [op, nArg] = process.argv.slice(2);
if (process.env.RAW_COLL_RANK !== undefined) await rank(Number(process.env.RAW_COLL_RANK), Number(process.env.RAW_COLL_SIZE), op);
else await launch(op, Number(nArg));
