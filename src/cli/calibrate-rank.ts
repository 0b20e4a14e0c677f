/**
 * One rank of `fmi calibrate`, started by it through `fmi run`'s machinery
 * (runLocal) with the channel forced (FMI_CHANNEL). Measures, with every
 * rank of the job taking part:
 *
 * - `pingpong`: ranks 0 and 1 send a message back and forth (the others
 *   wait); a sample is half a round trip. The classic point-to-point figure.
 * - `exchange`: every rank swaps a message with a partner at once (rank r
 *   with r ^ 1; with an odd size the last rank sits out), as in a round of
 *   recursive doubling; a sample is the slowest rank's time. This is what
 *   the model's message time means inside a collective: an exchange takes
 *   one message time, links being full duplex, with every rank busy.
 * - storage channels, `legs`: rank 0 writes a value and then reads it back
 *   (one PUT and one GET, the read never waiting), so each request's own
 *   time shows without any polling lag; on Redis also `legsAll`: every rank
 *   does the same at once (what the server moves in total when many transfer).
 * - `burst`: k small messages to rank 0 at once from the other ranks in
 *   turn, rank 0 takes them and answers, for a few k: each further message
 *   adds one `gap`.
 * - `fresh` (one job only): on the direct channel, an allreduce whose
 *   result is new memory against the same call received `into` an array
 *   the rank has (a barrier before each): what the model's fresh-memory
 *   term adds to an operation, measured where it is paid (freshInOps;
 *   `freshBcast`: the same for the bcast). On other channels (their results
 *   are the client's replies), every rank allocates a new array as the
 *   collectives do and writes it, against writing one it already has.
 * - `barrier`: every rank in a barrier, back to back: the model's hop
 *   of the barrier's tree is what makes its barrier take this long; with
 *   `allreduce`, in turn with an allreduce of 8 bytes (the k-nomial tree
 *   that carries data): the hop of every other collective's tree.
 * - storage channels, `allreduce`: the allreduce back to back at the
 *   plan's sizes, as a job and the model check call it (Redis's fan-in is
 *   fitted to it, fitFanIn); `fanin`: the fan-in alone after a barrier.
 *
 * Rank 0 decides how many iterations each measurement gets and writes the
 * results (JSON) to FMI_CALIBRATE_OUT; ranks print nothing on stdout.
 * FMI_CALIBRATE_PLAN (JSON, a CalibratePlan) says what to measure.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { isStoreChannel, type StoreChannel } from '../channels/channel.js';
import { openChannels } from '../comm/channel-set.js';
import { Kind } from '../codec.js';
import { Communicator } from '../comm/communicator.js';
import { ENV } from '../comm/init.js';
import { loadConfig } from '../config/load.js';
import type { ChannelName } from '../config/types.js';
import { FmiError } from '../errors.js';
import type { ChannelMeasurements, LegSample, Sample } from '../model/calibration.js';
import { medianOfRounds } from '../model/fit.js';
import { Op } from '../ops/op.js';
import { parseEndpoint } from '../rendezvous/protocol.js';
import { shmFromWorker } from '../channels/shm/worker-data.js';
import { unfilledBytes } from '../util/fresh.js';
import { steadyWarmUp } from './calibrate-steady.js';

/** What one calibration job measures. */
export interface CalibratePlan {
  sizes: number[];
  /** Measuring time per pattern and size, ms (after warm-up). */
  ms: number;
  minIters: number;
  maxIters: number;
  /** Measure `exchange` (all ranks at once) too. */
  exchange: boolean;
  /** Burst lengths (messages) to time for the gap; none: not measured. */
  bursts?: number[];
  /** Sizes (bytes) of fresh memory to time; none: not measured (one job measures it). */
  fresh?: number[];
  /** Time the barrier (every rank in a collective): the hop inside a collective. */
  barrier?: boolean;
  /** direct, shm, with `barrier`: time an 8-byte allreduce in turn with it, the hop of a collective that carries data; storage: the allreduce back to back at the plan's sizes (Redis's fan-in). */
  allreduce?: boolean;
  /** Time rank 0 sending to every other rank at once after a barrier (the star bcast's step; on storage one write read by all). */
  fanout?: boolean;
  /** Storage channels: time every other rank sending rank 0 a message at once after a barrier (the plan's sizes). */
  fanin?: boolean;
  /** Warm-up before anything is timed (warmUp): at least `calls` rounds, for at most `ms`; none: no warm-up. */
  warm?: { calls: number; ms: number };
}

const KEY = 'calib';

async function main(): Promise<void> {
  const env = process.env;
  const out = env.FMI_CALIBRATE_OUT;
  const plan = JSON.parse(env.FMI_CALIBRATE_PLAN ?? 'null') as CalibratePlan | null;
  if (!out || !plan) throw new FmiError('FMI_CONFIG', 'calibrate-rank runs under `fmi calibrate` (FMI_CALIBRATE_OUT and FMI_CALIBRATE_PLAN unset)');
  const rank = Number(env[ENV.rank]);
  const size = Number(env[ENV.size]);
  const job = env[ENV.job]!;
  const channel = env[ENV.channel] as ChannelName;
  const config = env[ENV.config] ? loadConfig(env[ENV.config]!) : undefined;
  // Opened here rather than through init(): the storage measurements need the channel itself.
  const set = await openChannels({
    job,
    rank,
    size,
    config,
    channel,
    rendezvous: env[ENV.rendezvous] ? parseEndpoint(env[ENV.rendezvous]!) : undefined,
    secret: env[ENV.secret] || undefined,
    connectTimeoutMs: 30_000,
    // Thread ranks (fmi calibrate --threads) share memory: the direct channel is then shm.
    shm: channel === 'direct' ? shmFromWorker(job, rank) : undefined,
  });
  // No default timeout: a deadline per call costs time of its own, which would be measured too.
  const comm = new Communicator(set, { job, timeoutMs: env[ENV.timeoutMs] ? Number(env[ENV.timeoutMs]) : undefined });
  const store = isStoreChannel(set.defaultChannel) ? set.defaultChannel : undefined;
  const measured = set.defaultChannel.name === 'shm' ? 'shm' : channel;
  const results: ChannelMeasurements = { channel: measured, ranks: size, load: loadavg(), pingpong: [], exchange: [], legs: [], legsAll: [] };
  try {
    // Pairs connect on first use: do it before anything is timed.
    for (let i = 0; i < 3; i++) await comm.barrier();
    if (plan.warm) results.warm = await warmUp(comm, plan.warm);
    results.pingpong = (await measure(comm, plan, 1, (b) => pingpong(comm, b))).map((cols, i) => sample(plan.sizes[i]!, cols[0]!));
    if (plan.exchange) results.exchange = (await measure(comm, plan, 1, (b) => exchange(comm, b))).map((cols, i) => sample(plan.sizes[i]!, cols[0]!));
    if (plan.barrier) {
      // In turn (measure's rounds), so that both hops see the same machine.
      const sizes = plan.allreduce ? [0, SMALL_ALLREDUCE] : [0];
      const cols = await measure(comm, { ...plan, sizes }, 1, (b) => (b === 0 ? barrier(comm) : allreduceOnce(comm, b)));
      results.barrier = [sample(0, cols[0]![0]!)];
      if (plan.allreduce) results.allreduce = [sample(SMALL_ALLREDUCE, cols[1]![0]!)];
    }
    if (plan.fanout) results.fanout = (await measure(comm, { ...plan, sizes: [8] }, 1, () => (store ? storeFanout(comm, store) : fanout(comm)))).map((cols) => sample(8, cols[0]!));
    if (plan.bursts?.length) {
      const bursts = { ...plan, sizes: plan.bursts };
      results.burst = (await measure(comm, bursts, 1, (k) => burst(comm, k))).map((cols, i) => sample(plan.bursts![i]!, cols[0]!));
    }
    if (plan.fresh?.length) {
      const sizes = { ...plan, sizes: plan.fresh };
      if (measured === 'direct') ({ fresh: results.fresh, bcast: results.freshBcast } = await freshInOps(comm, plan));
      else results.fresh = (await measure(comm, sizes, 2, fresh)).map(([put, get], i) => ({ bytes: plan.fresh![i]!, put: medianOfRounds(put!, ROUNDS), get: medianOfRounds(get!, ROUNDS), iters: put!.length }));
    }
    if (store) {
      const leg = (cols: Float64Array[][]): LegSample[] => cols.map(([put, get], i) => ({ bytes: plan.sizes[i]!, put: medianOfRounds(put!, ROUNDS), get: medianOfRounds(get!, ROUNDS), iters: put!.length }));
      results.legs = leg(await measure(comm, plan, 2, (b) => legs(comm, store, b, false)));
      // Every rank writing and reading at once: the latency then (overhead_multiple), and what Redis moves in total.
      results.legsAll = leg(await measure(comm, plan, 2, (b) => legs(comm, store, b, true)));
      if (plan.fanin) results.fanin = (await measure(comm, plan, 1, (b) => fanin(comm, b))).map((cols, i) => sample(plan.sizes[i]!, cols[0]!));
      // The allreduce itself, back to back at the plan's sizes: what the fan-in is fitted to (fitFanIn). A round's
      // share of a size is a few calls, and the first ones after 1 MiB ones took several times the check's 100 in a row.
      if (plan.allreduce) results.allreduce = (await measure(comm, plan, 1, (b) => allreduceOnce(comm, b), STORE_SETTLE)).map((cols, i) => sample(plan.sizes[i]!, cols[0]!));
    }
    await comm.barrier();
  } finally {
    await comm.close();
  }
  if (rank === 0) writeFileSync(out, JSON.stringify(results));
}

/**
 * Runs the channel's hot paths before anything is timed: rounds of an 8-byte
 * ping-pong, a barrier, a 1 KiB bcast and allreduce, at least `calls`
 * rounds, for at most `ms` (rank 0's count and clock decide). V8 optimizes
 * a function only after many calls, and until then a call takes 2-3 times
 * its later time (a 1 KiB Redis bcast: 1.30 ms over its first 250 calls,
 * 0.45 ms after 2,000; with V8's --no-opt it stayed at 1.1 ms). The model
 * prices the steady state, so calibrate measures it, as the model check's
 * benchmark does (bench/channels-rank.mjs warms up the same way).
 */
async function warmUp(comm: Communicator, warm: { calls: number; ms: number }): Promise<{ rounds: number; ms: number }> {
  const ping = pingpong(comm, 8);
  const data = new Float64Array(128).fill(1);
  const t0 = performance.now();
  for (let calls = 0; ; ) {
    for (let i = 0; i < 25; i++) {
      await ping();
      await comm.barrier();
      await comm.bcast(comm.rank === 0 ? data : undefined, 0);
      await comm.allreduce(data, Op.SUM);
    }
    calls += 25;
    const more = comm.rank === 0 ? Float64Array.of(calls < warm.calls && performance.now() - t0 < warm.ms ? 1 : 0) : undefined;
    if ((await comm.bcast<Float64Array>(more, 0))[0] !== 1) return { rounds: calls, ms: performance.now() - t0 };
  }
}

/** One iteration of a pattern at one size: this rank's sample(s), seconds. */
type Once = () => Promise<number[]>;

/**
 * Measures a pattern at every size of the plan. First a warm-up per size
 * (batches doubling until the time per call is steady, steadyWarmUp: at
 * least ms/5, at most 2·ms) that also times one iteration; then
 * ROUNDS rounds, each running every size for 1/ROUNDS of its iterations,
 * so that a change of load on a shared machine falls on all sizes alike
 * rather than on the ones measured last; `settle` untimed iterations
 * before each size's share of a round (a size's first calls after another
 * pay what the one before left behind). Rank 0 decides the counts and
 * tells the others. Returns, at rank 0, per size and column the slowest
 * rank's sample of each iteration, round after round (what
 * medianOfRounds takes).
 */
async function measure(comm: Communicator, plan: CalibratePlan, columns: number, make: (bytes: number) => Once, settle = 0): Promise<Float64Array[][]> {
  const onces = plan.sizes.map(make);
  const counts = new Float64Array(plan.sizes.length);
  for (const [i, once] of onces.entries()) {
    const over = steadyWarmUp({ minMs: plan.ms / 5, minCalls: 0, capMs: 2 * plan.ms });
    for (let n = 1; ; n *= 2) {
      const t0 = performance.now();
      for (let k = 0; k < n; k++) await once();
      const dt = performance.now() - t0;
      // Everyone must agree when warm-up ends: rank 0's clock decides.
      const [done] = await comm.bcast<Float64Array>(comm.rank === 0 ? Float64Array.of(over(dt, n) ? 1 : 0) : undefined, 0);
      if (done === 1) {
        counts[i] = Math.max(plan.minIters, Math.min(plan.maxIters, Math.ceil(plan.ms / Math.max(dt / n, 1e-3))));
        break;
      }
    }
  }
  const agreed = await comm.bcast<Float64Array>(comm.rank === 0 ? counts : undefined, 0);
  const per = Array.from(agreed, (c) => Math.ceil(c / ROUNDS));
  const cols = per.map((n) => Array.from({ length: columns }, () => new Float64Array(n * ROUNDS)));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, once] of onces.entries()) {
      for (let k = 0; k < settle; k++) await once();
      for (let k = 0; k < per[i]!; k++) {
        const s = await once();
        for (let c = 0; c < columns; c++) cols[i]![c]![r * per[i]! + k] = s[c]!;
      }
    }
  }
  const out: Float64Array[][] = [];
  for (const size of cols) {
    const maxed: Float64Array[] = [];
    for (const col of size) maxed.push((await comm.reduce(col, Op.MAX, 0)) ?? col);
    out.push(maxed);
  }
  return out;
}

const ROUNDS = 5;
/** Untimed allreduces before each size's share of a round, on a storage channel (measure's `settle`). */
const STORE_SETTLE = 2;

function sample(bytes: number, col: Float64Array): Sample {
  return { bytes, seconds: medianOfRounds(col, ROUNDS), iters: col.length };
}

function pingpong(comm: Communicator, bytes: number): Once {
  const sbuf = new Uint8Array(bytes);
  const rbuf = new Uint8Array(bytes);
  return async () => {
    if (comm.rank > 1) return [0];
    const t0 = performance.now();
    if (comm.rank === 0) {
      await comm.send(sbuf, 1, { tag: 1 });
      await comm.recv(1, { tag: 1, into: rbuf });
    } else {
      await comm.recv(0, { tag: 1, into: rbuf });
      await comm.send(sbuf, 0, { tag: 1 });
    }
    return [(performance.now() - t0) / 2000];
  };
}

/**
 * Rounds of pairwise exchange as recursive doubling runs them: the partner
 * is rank ^ mask, the mask going 1, 2, 4, ... below the largest power of
 * two p <= n, one round after another; ranks from p on sit out. A sample
 * is a whole pass (log2 p rounds) over its rounds: changing partners
 * couples every rank to every other, as the rounds of a collective do, and
 * the slowest rank of a pass is what the collective waits for. Timed one
 * round at a time, the slowest rank of each round was a rank that had
 * waited for a partner still busy with the round before: on 4 ranks on 2
 * vCPUs the round came out 1.2-1.4x a pass's share.
 */
function exchange(comm: Communicator, bytes: number): Once {
  const sbuf = new Uint8Array(bytes);
  const rbuf = new Uint8Array(bytes);
  const p = 2 ** Math.floor(Math.log2(comm.size));
  const rounds = Math.log2(p);
  return async () => {
    if (comm.rank >= p) return [0];
    const t0 = performance.now();
    for (let mask = 1; mask < p; mask *= 2) {
      const partner = comm.rank ^ mask;
      await comm.sendrecv(sbuf, partner, partner, { sendTag: 2, recvTag: 2, into: rbuf, ...oneDeadline(mask === 1) });
    }
    return [(performance.now() - t0) / 1000 / rounds];
  };
}

/** One barrier, timed at every rank: a collective's hops with every rank of the job in it. */
function barrier(comm: Communicator): Once {
  return async () => {
    const t0 = performance.now();
    await comm.barrier();
    return [(performance.now() - t0) / 1000];
  };
}

/** Bytes of the small allreduce timed beside the barrier: one Float64. */
const SMALL_ALLREDUCE = 8;

/** One allreduce (SUM) of a Float64Array of `bytes`, timed at every rank, back to back as bench/channels-rank.mjs times it: with a payload, a fold and a new result (direct, small: the k-nomial tree). */
function allreduceOnce(comm: Communicator, bytes: number): Once {
  const data = new Float64Array(bytes / 8).fill(1);
  return async () => {
    const t0 = performance.now();
    await comm.allreduce(data, Op.SUM);
    return [(performance.now() - t0) / 1000];
  };
}

/**
 * Right after a barrier, rank 0 sends 8 bytes to every other rank at once
 * (Promise.all), as the star bcast does; the bytes are the root's call
 * time on the host's monotonic clock (shared by the processes and threads
 * of one machine). A rank's sample is from the later of its own call and
 * the root's to having the message, as bench/channels-rank.mjs times a
 * bcast: the ranks leave the barrier one after another, and what the root
 * sends meets ranks still taking the barrier's last messages.
 */
function fanout(comm: Communicator): Once {
  const sbuf = new Float64Array(1);
  const rbuf = new Float64Array(1);
  const others = Array.from({ length: comm.size - 1 }, (_, i) => i + 1);
  return async () => {
    await comm.barrier();
    const t0 = monotonic();
    if (comm.rank === 0) {
      sbuf[0] = t0;
      await Promise.all(others.map((r, i) => comm.send(sbuf, r, { tag: 5, ...oneDeadline(i === 0) })));
    } else await comm.recv(0, { tag: 5, into: rbuf });
    return [monotonic() - (comm.rank === 0 ? t0 : Math.max(t0, rbuf[0]!))];
  };
}

/**
 * Right after a barrier, every other rank sends rank 0 `bytes` at once, and
 * rank 0 takes them all, its receives posted at once, as reduceFlat does
 * (the first phase of a storage channel's reduce, gather, allreduce and
 * barrier). Each message starts with its sender's call time (the host's
 * monotonic clock); a sample is rank 0's time to having them all from the
 * latest of those calls and its own (others: 0), as fanout times from the
 * later call: on a storage channel rank 0 leaves the barrier first, by
 * about one read, and that read is the release's, which the model prices
 * in the phase before (the allreduce's bcast of the result). Timed from
 * rank 0's own call, the 1 KiB fan-in came out 1.2-1.5x the writes and
 * reads it stands for.
 */
function fanin(comm: Communicator, bytes: number): Once {
  const buf = new Uint8Array(Math.max(8, bytes));
  const stamp = new DataView(buf.buffer);
  const others = Array.from({ length: comm.size - 1 }, (_, i) => i + 1);
  return async () => {
    await comm.barrier();
    const t0 = monotonic();
    if (comm.rank !== 0) {
      stamp.setFloat64(0, t0);
      await comm.send(buf, 0, { tag: 7 });
      return [0];
    }
    const parts = await Promise.all(others.map((r, i) => comm.recv<Uint8Array>(r, { tag: 7, ...oneDeadline(i === 0) })));
    const from = parts.reduce((t, p) => Math.max(t, new DataView(p.buffer, p.byteOffset, 8).getFloat64(0)), t0);
    return [monotonic() - from];
  };
}

/** fanout on a storage channel: rank 0 writes one value (its call time), which every other rank reads, as bcastStore does. */
function storeFanout(comm: Communicator, store: StoreChannel): Once {
  const sbuf = new Float64Array(1);
  let seq = 0;
  return async () => {
    const key = `${KEY}/f/${seq++}`;
    await comm.barrier();
    const t0 = monotonic();
    if (comm.rank === 0) {
      sbuf[0] = t0;
      await store.put(key, Kind.BUFFER, new Uint8Array(sbuf.buffer), comm.size - 1);
      return [monotonic() - t0];
    }
    const { data } = await store.get(key, undefined, 0);
    const root = new Float64Array(data.buffer.slice(data.byteOffset, data.byteOffset + 8))[0]!;
    return [monotonic() - Math.max(t0, root)];
  };
}

/**
 * A collective call arms one deadline per rank (FMI_TIMEOUT_MS), however
 * many messages it makes; the patterns that stand for one (the exchange's
 * pass, the fan-out) arm one too, on their first message, and send the
 * rest without (Infinity). A deadline per message cost 60-110 µs per call
 * more (4 ranks on 2 vCPUs, load 20, FMI_TIMEOUT_MS=120000, as the model
 * check runs): the fan-out then came out 1.5-2x the bcast it prices.
 */
function oneDeadline(first: boolean): { timeoutMs?: number } {
  return first ? {} : { timeoutMs: Infinity };
}

/** Seconds on the host's monotonic clock: comparable between the processes and threads of one machine. */
function monotonic(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/**
 * k small messages to rank 0 at once, dealt round-robin from ranks 1..n-1
 * (a fan-in, as a tree's or a gather's root gets; with 2 ranks all from
 * rank 1); rank 0 takes them all and answers each sender once. A sample is
 * a sender's time from its first send to the answer (others: 0).
 */
function burst(comm: Communicator, k: number): Once {
  const sbuf = new Uint8Array(8);
  const rbuf = new Uint8Array(8);
  const senders = comm.size - 1;
  const countOf = (r: number) => Math.floor(k / senders) + (r - 1 < k % senders ? 1 : 0);
  return async () => {
    if (comm.rank === 0) {
      const from = Array.from({ length: senders }, (_, i) => i + 1).filter((r) => countOf(r) > 0);
      await Promise.all(from.map(async (r) => {
        for (let i = 0; i < countOf(r); i++) await comm.recv(r, { tag: 3, into: rbuf }); // the bytes are not looked at
      }));
      await Promise.all(from.map((r) => comm.send(sbuf, r, { tag: 4 })));
      return [0];
    }
    const mine = countOf(comm.rank);
    if (mine === 0) return [0];
    const t0 = performance.now();
    await Promise.all(Array.from({ length: mine }, () => comm.send(sbuf, 0, { tag: 3 })));
    await comm.recv(0, { tag: 4, into: rbuf });
    return [(performance.now() - t0) / 1000];
  };
}

/**
 * A new array of `bytes`, written through (the pages touched for the first
 * time, as a result without \`into\` is), against writing one this rank
 * already has. Allocated as the collectives allocate their results
 * (unfilledBytes: from 64 KiB on not zero-filled first). Nothing is kept:
 * the collector frees the new arrays, and the allocator hands their memory
 * back to the system as it would between calls.
 */
function fresh(bytes: number): Once {
  const mine = new Uint8Array(bytes);
  return async () => {
    const t0 = performance.now();
    const a = unfilledBytes(bytes);
    a.fill(1);
    const t1 = performance.now();
    mine.fill(1);
    const t2 = performance.now();
    return [(t1 - t0) / 1000, (t2 - t1) / 1000];
  };
}

/**
 * Fresh memory where it is paid: the allreduce (SUM of Float64Array) and
 * the bcast from rank 0 without `into`, whose results are new memory,
 * against the same calls received `into` an array the rank has; a barrier
 * before each, so every rank starts together. The allreduce's difference
 * is the fresh-memory term (its result is unfilled memory written by a
 * copy: the engine's result, Rabenseifner's allgather); the bcast's is
 * kept to show that a result the socket fills (a receive's own buffer,
 * src/channels/arrivals.ts) adds next to nothing, which is why the model
 * charges it none. One size after another, smallest first: a process's
 * larger allocations before change what malloc hands out (a freed large
 * block raises its mmap threshold), and sizes run in turn would show that
 * history rather than a first call's.
 */
async function freshInOps(comm: Communicator, plan: CalibratePlan): Promise<{ fresh: LegSample[]; bcast: LegSample[] }> {
  const fresh: LegSample[] = [];
  const bcast: LegSample[] = [];
  for (const bytes of [...plan.fresh!].sort((a, b) => a - b)) {
    const [cols] = await measure(comm, { ...plan, sizes: [bytes] }, 4, (b) => freshOps(comm, b));
    const [aNew, aInto, bNew, bInto] = cols!.map((c) => medianOfRounds(c, ROUNDS));
    const iters = cols![0]!.length;
    fresh.push({ bytes, put: aNew!, get: aInto!, iters });
    bcast.push({ bytes, put: bNew!, get: bInto!, iters });
  }
  return { fresh, bcast };
}

function freshOps(comm: Communicator, bytes: number): Once {
  const data = new Float64Array(Math.max(1, Math.floor(bytes / 8))).fill(1);
  const into = new Float64Array(data.length);
  const root = comm.rank === 0 ? data : undefined;
  const timed = async (call: () => Promise<unknown>) => {
    await comm.barrier();
    const t0 = performance.now();
    await call();
    return (performance.now() - t0) / 1000;
  };
  return async () => [
    await timed(() => comm.allreduce(data, Op.SUM)),
    await timed(() => comm.allreduce(data, Op.SUM, { into })),
    await timed(() => comm.bcast(root, 0)),
    await timed(() => comm.bcast(root, 0, { into })),
  ];
}

function legs(comm: Communicator, store: StoreChannel, bytes: number, all: boolean): Once {
  const payload = new Uint8Array(bytes);
  let seq = 0;
  return async () => {
    if (!all && comm.rank !== 0) return [0, 0];
    const key = `${KEY}/${all ? 'a' : 's'}/${comm.rank}/${bytes}/${seq++}`;
    const t0 = performance.now();
    await store.put(key, Kind.BUFFER, payload, 1);
    const t1 = performance.now();
    await store.get(key);
    const t2 = performance.now();
    return [(t1 - t0) / 1000, (t2 - t1) / 1000];
  };
}

// `fmi calibrate` imports only this file's types (erased), so this runs only in a rank.
main().catch((err) => {
  process.stderr.write(`calibrate: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
