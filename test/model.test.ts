import { describe, expect, it, vi } from 'vitest';
import { modelCommand } from '../src/cli/model.js';
import { DEFAULT_CONFIG, validateConfig, type ChannelName, type FmiConfig } from '../src/config/index.js';
import { FmiError } from '../src/errors.js';
import { pipelining, SEGMENT_BYTES } from '../src/collectives/bcast-pipelined.js';
import { RABENSEIFNER_MIN_BYTES, RING_MIN_BYTES } from '../src/comm/communicator.js';
import { TREE_MAX_RANKS } from '../src/collectives/tree.js';
import { choose, estimate, modelParams, OPS, Policy, pollWait, type Hint, type ModelOptions, type OpName } from '../src/model/index.js';

// The reference's default model (config/fmi.json), in seconds, bytes/s and USD.
const FN = 0.0000166667; // FaaS.gib_second_price, USD per GiB-second
const D_A = 0.34e-3; // Direct.overhead 0.34 ms
const D_B = 400e6; // Direct.bandwidth 400 MB/s
const VM = 0.0134 / 1000; // Direct.vm_price / requests_per_hour: USD per message
const R_A = 5.2e-3; // Redis.overhead
const R_BS = 100e6; // Redis.bandwidth_single
const R_BM = 400e6; // Redis.bandwidth_multiple
const INST = 0.0038 / 1000; // Redis.instance_price / requests_per_hour: USD per request
const S_A = 40.4e-3; // S3.overhead
const S_B = 50e6; // S3.bandwidth
const PUT = 0.0000054; // S3.upload_price
const GET = 0.00000043; // S3.download_price
const MiB = 2 ** 20;
const m = MiB;

const ALL: ChannelName[] = ['direct', 'redis', 's3'];

/** Relative agreement to 1e-9: the model must do the same arithmetic as the comment above each check. */
function near(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.abs(expected) + 1e-18);
}

const est = (channel: ChannelName, op: OpName, bytes: number, ranks: number, o: ModelOptions = {}) => estimate(channel, op, bytes, ranks, DEFAULT_CONFIG, o);

describe('model - units', () => {
  it('converts the reference units (ms, MB/s, USD/GB) to seconds and bytes', () => {
    const p = modelParams(DEFAULT_CONFIG);
    expect(p.direct).toMatchObject({ alpha: D_A, beta: D_B });
    expect(p.redis).toMatchObject({ alpha: R_A, beta: R_BS, betaTotal: R_BM });
    expect(p.s3).toMatchObject({ alpha: S_A, beta: S_B, putPrice: PUT, getPrice: GET });
    expect(p.gibSecondPrice).toBe(FN);
  });

  it("fixes the reference's unit slip: overhead and transfer are both seconds", () => {
    // The reference computes overhead (0.34, ms) + bytes / 1e6 / bandwidth (s) = 0.34 + 1 for 400 MB:
    // the overhead counts as a third of a second. In seconds it is 0.00034 + 1.
    near(est('direct', 'send', 400e6, 2).time_s, 0.34e-3 + 1);
    near(est('direct', 'send', 0, 2).time_s, 0.34e-3);
  });
});

describe('model - direct: the collectives of src/collectives over point-to-point messages', () => {
  const u = (b: number) => D_A + b / D_B; // one message of b bytes

  it('send: one message; cost = the VM share of one message + the functions meanwhile', () => {
    const e = est('direct', 'send', m, 2);
    near(e.time_s, D_A + m / D_B);
    near(e.cost.infrastructure, VM);
    near(e.cost.functions, FN * 1 * e.time_s * 2); // 1024 MiB = 1 GiB, 2 ranks
    near(e.cost_usd, VM + FN * e.time_s * 2);
    expect(e.requests.messages).toBe(1);
  });

  it('bcast of 1 MiB on 8 ranks = 3 rounds x (overhead + 1 MiB / bandwidth), 7 messages', () => {
    const e = est('direct', 'bcast', m, 8);
    near(e.time_s, 3 * (D_A + m / D_B));
    expect(e.requests.messages).toBe(7);
    near(e.cost_usd, 7 * VM + FN * 1 * (3 * (D_A + m / D_B)) * 8);
    // 5 ranks: the root writes to 4, 2 and 1 back to back (the third is out at alpha + 3m/beta),
    // and 2 forwards to 3 once it has it: alpha + 2m/beta + u(m). Rank 4 has no child.
    near(est('direct', 'bcast', m, 5).time_s, 2 * D_A + (3 * m) / D_B);
  });

  it('scatter and gather move subtree bundles: 8 ranks = u(4m) + u(2m) + u(m), 12 parts moved', () => {
    near(est('direct', 'scatter', m, 8).time_s, 3 * D_A + (7 * m) / D_B);
    near(est('direct', 'gather', m, 8).time_s, 3 * D_A + (7 * m) / D_B);
    // edges carry 4+2+1 (from the root) + 2+1 (from rank 4) + 1 (rank 2) + 1 (rank 6) = 12 parts
    expect(est('direct', 'gather', m, 8).bytes_moved).toBe(12 * m);
    // 6 ranks: subtrees {4,5} and {2,3} send 2 parts each after their leaves: u(m) + u(2m)
    near(est('direct', 'gather', m, 6).time_s, 2 * D_A + (3 * m) / D_B);
  });

  it('reduce: a binomial tree of log2 n rounds of the whole buffer', () => {
    near(est('direct', 'reduce', m, 8).time_s, 3 * u(m));
    expect(est('direct', 'reduce', m, 8).requests.messages).toBe(7);
  });

  it('allreduce: recursive doubling, with a step before and after when n is not a power of two', () => {
    const e8 = est('direct', 'allreduce', m, 8, { directAllreduce: 'recursive-doubling' });
    near(e8.time_s, 3 * u(m)); // log2 8 exchanges
    expect(e8.requests.messages).toBe(24); // 8 ranks x 3 rounds
    const e6 = est('direct', 'allreduce', m, 6, { directAllreduce: 'recursive-doubling' });
    near(e6.time_s, (2 + 2) * u(m)); // p = 4: 2 exchanges, plus fold-in and hand-back
    expect(e6.requests.messages).toBe(4 * 2 + 2 * 2);
    // the ring (if the communicator uses it): 2 (n - 1) steps of a block of m / n
    const ring = est('direct', 'allreduce', 8 * m, 8, { directAllreduce: 'ring' });
    near(ring.time_s, 14 * u(m));
    expect(ring.requests.messages).toBe(8 * 14);
  });

  it("allreduce 'auto' (the default) follows the communicator: tree, recursive doubling, Rabenseifner, ring", () => {
    const k64 = 64 * 1024;
    // 4 ranks, 1 KiB: the radix-4 star: three leaves' messages reach rank 0 at u(m); rank 0 writes three back, the last 2 m/beta later.
    near(est('direct', 'allreduce', 1024, 4).time_s, 2 * u(1024) + (2 * 1024) / D_B);
    expect(est('direct', 'allreduce', 1024, 4).requests.messages).toBe(6);
    // above TREE_MAX_BYTES: recursive doubling, two exchanges
    near(est('direct', 'allreduce', k64, 4).time_s, 2 * u(k64));
    // from RABENSEIFNER_MIN_BYTES on, 4 ranks: halving (m/2, m/4) and doubling (m/4, m/2)
    near(est('direct', 'allreduce', RABENSEIFNER_MIN_BYTES, 4).time_s, 2 * (u(RABENSEIFNER_MIN_BYTES / 2) + u(RABENSEIFNER_MIN_BYTES / 4)));
    // from RING_MIN_BYTES on and a size that is not a power of two: the ring, 2 (n - 1) steps of m / n
    near(est('direct', 'allreduce', RING_MIN_BYTES, 6).time_s, 10 * u(RING_MIN_BYTES / 6));
    // two ranks: one exchange, whatever the size
    near(est('direct', 'allreduce', RING_MIN_BYTES, 2).time_s, u(RING_MIN_BYTES));
    // A communicator names what it runs.
    near(est('direct', 'allreduce', RING_MIN_BYTES, 4, { directAllreduce: 'recursive-doubling' }).time_s, 2 * u(RING_MIN_BYTES));
  });

  it('bcast from pipelining.minBytes on (more than two ranks) goes in segments: the root sends L x m, the last segment goes down L - 1 more levels', () => {
    const big = pipelining.minBytes;
    const e = est('direct', 'bcast', big, 4);
    near(e.time_s, 2 * D_A + (2 * big + SEGMENT_BYTES) / D_B);
    expect(e.requests.messages).toBe(3); // one transfer per edge, however it is cut up
    // below it the binomial tree, after the root's notice to rank 3 (a hop: D_A)
    near(est('direct', 'bcast', big - 1, 4).time_s, D_A + 2 * u(big - 1));
    near(est('direct', 'bcast', big, 2).time_s, u(big));
    const was = pipelining.minBytes;
    try {
      pipelining.minBytes = 1 << 20; // the threshold the root reads when it runs: the model reads the same
      near(est('direct', 'bcast', 1 << 20, 8).time_s, 3 * D_A + (3 * (1 << 20) + 2 * SEGMENT_BYTES) / D_B);
    } finally {
      pipelining.minBytes = was;
    }
  });

  it('scan: recursive doubling, ceil(log2 n) rounds; only pairs inside the job exchange', () => {
    const e = est('direct', 'scan', m, 6);
    near(e.time_s, 3 * u(m));
    // mask 1: all 6 ranks; mask 2: ranks 0-3 (4^2 = 6, 5^2 = 7 are outside); mask 4: 0, 1, 4, 5
    expect(e.requests.messages).toBe(6 + 4 + 4);
  });

  it('barrier on 64 ranks: dissemination (log2 n rounds of empty messages from every rank), or the tree where the communicator takes it', () => {
    const e = est('direct', 'barrier', 12345, 64);
    if (64 > TREE_MAX_RANKS) {
      near(e.time_s, 6 * D_A);
      expect(e.requests.messages).toBe(64 * 6);
      near(e.cost_usd, 384 * VM + FN * 1 * 6 * D_A * 64);
    } else {
      // radix-4 tree of depth 3, up and down; no gap in the defaults: 3 levels each way
      near(e.time_s, 6 * D_A);
      expect(e.requests.messages).toBe(2 * 63);
    }
  });

  it('one rank communicates with nobody', () => {
    expect(est('direct', 'allreduce', m, 1)).toMatchObject({ time_s: 0, cost_usd: 0 });
  });

  it('transfer price per GB counts both ends of a message, as the reference does', () => {
    const c = validateConfig({ backends: { Direct: { enabled: true } }, model: { Direct: { transfer_price: 0.01 } } });
    near(estimate('direct', 'send', 1e9, 2, c).cost.transfer, 2 * 0.01);
  });
});

describe('model - redis: mediated algorithms, blocking reads, one server', () => {
  // A mediated message is a write and a read; each leg takes half of overhead + bytes / bandwidth.
  it('send: write + read = overhead + bytes / bandwidth_single; two requests of the instance', () => {
    const e = est('redis', 'send', m, 2);
    near(e.time_s, R_A + m / R_BS);
    near(e.cost_usd, 2 * INST + FN * 1 * e.time_s * 2);
    expect(e.requests).toMatchObject({ puts: 1, gets: 1, polls: 0 });
  });

  it('bcast: one write, n - 1 reads; many readers share bandwidth_multiple', () => {
    // write: R_A/2 + m/(2 R_BS); 7 reads: R_A/2 + max(m/(2 R_BS), 7m/(2 R_BM)) -> the server bound
    const e = est('redis', 'bcast', m, 8);
    near(e.time_s, R_A / 2 + m / (2 * R_BS) + R_A / 2 + (7 * m) / (2 * R_BM));
    near(e.cost_usd, 8 * INST + FN * 1 * e.time_s * 8);
    // 2 readers: 2m/(2 R_BM) < m/(2 R_BS), so each reader's own connection is the bound
    near(est('redis', 'bcast', m, 3).time_s, R_A + m / R_BS);
  });

  it('gather and reduce: n - 1 writes, the root reads them all through its connection', () => {
    // writes: R_A/2 + max(m/(2 R_BS), 7m/(2 R_BM)); root reads 7m: R_A/2 + max(7m/(2 R_BS), 7m/(2 R_BM))
    const t = R_A / 2 + (7 * m) / (2 * R_BM) + R_A / 2 + (7 * m) / (2 * R_BS);
    near(est('redis', 'gather', m, 8).time_s, t);
    near(est('redis', 'reduce', m, 8).time_s, t);
    expect(est('redis', 'reduce', m, 8).requests).toMatchObject({ puts: 7, gets: 7 });
  });

  it('scatter: the root writes n - 1 parts, each rank reads its own', () => {
    // root writes 7m: R_A/2 + 7m/(2 R_BS); reads: R_A/2 + max(m/(2 R_BS), 7m/(2 R_BM))
    near(est('redis', 'scatter', m, 8).time_s, R_A + (7 * m) / (2 * R_BS) + (7 * m) / (2 * R_BM));
  });

  it('allreduce = reduce + bcast; barrier = the same with no payload', () => {
    const reduce = R_A + (7 * m) / (2 * R_BM) + (7 * m) / (2 * R_BS);
    const bcast = R_A + m / (2 * R_BS) + (7 * m) / (2 * R_BM);
    const e = est('redis', 'allreduce', m, 8);
    near(e.time_s, reduce + bcast);
    expect(e.requests).toMatchObject({ puts: 8, gets: 14 });
    near(e.cost.infrastructure, 22 * INST);
    near(est('redis', 'barrier', 0, 8).time_s, 2 * R_A);
  });

  it('scan: ranks 0..n-2 write, rank r reads the r parts below it', () => {
    // 4 ranks: 3 writes: R_A/2 + max(m/(2 R_BS), 3m/(2 R_BM)) -> each writer's own connection;
    // 6 reads, rank 3 reads 3m: R_A/2 + max(3m/(2 R_BS), 6m/(2 R_BM)) -> rank 3's connection
    const e = est('redis', 'scan', m, 4);
    near(e.time_s, R_A / 2 + m / (2 * R_BS) + R_A / 2 + (3 * m) / (2 * R_BS));
    expect(e.requests).toMatchObject({ puts: 3, gets: 6 });
  });

  it('with opsPerHour, the instance hour is split among the operations', () => {
    near(est('redis', 'bcast', m, 8, { opsPerHour: 10 }).cost.infrastructure, 0.0038 / 10);
    near(est('direct', 'bcast', m, 8, { opsPerHour: 10 }).cost.infrastructure, 0.0134 / 10);
  });

  it('include_infrastructure_costs: false leaves only the functions', () => {
    const c = validateConfig({ backends: { Redis: { enabled: true, host: 'h' } }, model: { Redis: { include_infrastructure_costs: false } } });
    const e = estimate('redis', 'bcast', m, 8, c);
    expect(e.cost.infrastructure).toBe(0);
    near(e.cost_usd, e.cost.functions);
  });
});

describe('model - s3: mediated algorithms, readers poll with backoff', () => {
  it('polling: polls started before the object appears, and half a period of delay', () => {
    // A poll starts d_k after the previous one started, or when it ended if the GET took longer.
    // requestS = 20.2 ms (half of S3's 40.4 ms overhead), wait = 20.2 ms: p0 = max(20.2, 5) ms, then p1 = max(20.2, 7.5)
    near(pollWait(0.0202, 0.0202).polls, 1);
    near(pollWait(0.0202, 0.0202).lag_s, 0.0202 / 2);
    near(pollWait(0.01, 0.0202).polls, 0.01 / 0.0202);
    // requestS 10 ms, wait 100 ms: periods 10, 10, 11.25, 16.875, 25.3125 ms end at 73.4375 ms; then 37.96875 ms
    near(pollWait(0.1, 0.01).polls, 5 + (0.1 - 0.0734375) / 0.03796875);
    near(pollWait(0.1, 0.01).lag_s, 0.03796875 / 2);
    // no request time, 10 s: sleeps 5 ms x 1.5^k for k < 10 (sum 0.01 (1.5^10 - 1) s), then 200 ms each
    const grown = 0.01 * (1.5 ** 10 - 1);
    near(pollWait(10, 0).polls, 10 + (10 - grown) / 0.2);
    near(pollWait(10, 0).lag_s, 0.1);
    expect(pollWait(0, 0.02)).toEqual({ polls: 0, lag_s: 0 });
  });

  // One leg (a PUT or a GET of 1 MiB): 20.2 ms + 1 MiB / (2 x 50 MB/s)
  const W = S_A / 2 + m / (2 * S_B);
  // The reader polls from 0: each GET (20.2 ms) outlasts the first sleeps (5, 7.5 ms), so the
  // periods are 20.2 ms; W = 30.7 ms falls in period 1
  const POLLS = 1 + (W - 0.0202) / 0.0202;
  const LAG = 0.0202 / 2;

  it('send: PUT, polls until it appears, GET', () => {
    near(pollWait(W, S_A / 2).polls, POLLS);
    const e = est('s3', 'send', m, 2);
    near(e.time_s, W + LAG + W);
    near(e.cost.requests, PUT + (1 + POLLS) * GET);
    near(e.cost_usd, PUT + (1 + POLLS) * GET + FN * 1 * e.time_s * 2);
  });

  it('bcast cost = 1 upload + 7 downloads + 7 readers polling + 8 functions', () => {
    const e = est('s3', 'bcast', m, 8);
    near(e.time_s, W + LAG + W); // S3 serves the 7 readers in parallel
    expect(e.requests.puts).toBe(1);
    expect(e.requests.gets).toBe(7);
    near(e.requests.polls, 7 * POLLS);
    near(e.cost_usd, PUT + 7 * GET + 7 * POLLS * GET + FN * 1 * (W + LAG + W) * 8);
  });

  it('gather: the root polls n - 1 keys and reads them through its own connection', () => {
    const e = est('s3', 'gather', m, 8);
    near(e.time_s, W + LAG + S_A / 2 + (7 * m) / (2 * S_B));
    near(e.requests.polls, 7 * POLLS);
    near(e.cost.requests, 7 * PUT + 7 * GET + 7 * POLLS * GET);
  });

  it('scatter: the root writes n - 1 parts, so readers wait longer', () => {
    const w = S_A / 2 + (7 * m) / (2 * S_B);
    const pw = pollWait(w, S_A / 2);
    const e = est('s3', 'scatter', m, 8);
    near(e.time_s, w + pw.lag_s + W);
    near(e.requests.polls, 7 * pw.polls);
  });

  it('allreduce: reduce, then the others poll for the result from the end of their own write', () => {
    const up = W + LAG + S_A / 2 + (7 * m) / (2 * S_B);
    const down = pollWait(up - W + W, S_A / 2); // they wrote for W; the result needs up + another W
    const e = est('s3', 'allreduce', m, 8);
    near(e.time_s, up + W + down.lag_s + W);
    near(e.requests.polls, 7 * POLLS + 7 * down.polls);
    expect(e.requests).toMatchObject({ puts: 8, gets: 14 });
  });

  it('scan: n(n-1)/2 reads, each polled for', () => {
    const e = est('s3', 'scan', m, 4);
    near(e.time_s, W + LAG + S_A / 2 + (3 * m) / (2 * S_B));
    expect(e.requests).toMatchObject({ puts: 3, gets: 6 });
    near(e.requests.polls, 6 * POLLS);
  });

  it('longer waits make more billed polls', () => {
    const small = est('s3', 'bcast', 1024, 64);
    const large = est('s3', 'bcast', 2 ** 30, 64);
    expect(large.requests.polls).toBeGreaterThan(30 * small.requests.polls);
    near(large.cost.requests, PUT + (63 + large.requests.polls) * GET);
  });
});

describe('model - functions are billed while the operation runs', () => {
  it('gib_second_price x memory GiB x time x ranks', () => {
    for (const channel of ALL) {
      const a = est(channel, 'allreduce', 4096, 16, { memoryMiB: 512 });
      near(a.cost.functions, FN * 0.5 * a.time_s * 16);
      near(est(channel, 'allreduce', 4096, 16, { memoryMiB: 2048 }).cost.functions, 4 * a.cost.functions);
    }
  });
});

const FREQUENT: ModelOptions = { opsPerHour: 360_000, memoryMiB: 1024 }; // 100 per second
const RARE: ModelOptions = { opsPerHour: 1, memoryMiB: 1024 };

describe("policy - the reference's default prices", () => {
  it('small frequent messages go direct, for both hints', () => {
    for (const [op, bytes] of [['send', 8], ['send', 4096], ['bcast', 1024], ['allreduce', 64], ['barrier', 0], ['reduce', 256]] as const) {
      for (const hint of ['fast', 'cheap'] as const) {
        expect(choose(op, bytes, 64, hint, ALL, DEFAULT_CONFIG, FREQUENT).channel, `${op} ${bytes} B ${hint}`).toBe('direct');
      }
    }
  });

  it('a rare large broadcast goes through storage when cheap, direct when fast', () => {
    for (const bytes of [256 * MiB, 2 ** 30]) {
      const cheap = choose('bcast', bytes, 64, 'cheap', ALL, DEFAULT_CONFIG, RARE);
      expect(['s3', 'redis']).toContain(cheap.channel);
      expect(cheap.channel).toBe('s3');
      expect(choose('bcast', bytes, 64, 'fast', ALL, DEFAULT_CONFIG, RARE).channel).toBe('direct');
    }
  });

  it('the choice is the argmin of the estimates, and lists every candidate best first', () => {
    for (const op of OPS) {
      for (let bytes = 8; bytes <= 2 ** 30; bytes *= 8) {
        for (const hint of ['fast', 'cheap'] as const) {
          const c = choose(op, bytes, 24, hint, ALL, DEFAULT_CONFIG);
          const metric = (ch: ChannelName) => (hint === 'fast' ? est(ch, op, bytes, 24).time_s : est(ch, op, bytes, 24).cost_usd);
          expect(metric(c.channel)).toBe(Math.min(...ALL.map(metric)));
          expect(c.alternatives.map((a) => a.channel).sort()).toEqual([...ALL].sort());
          expect(c.alternatives[0]!.channel).toBe(c.channel);
        }
      }
    }
  });
});

describe('policy - the choice flips exactly where the curves cross', () => {
  /** Bisects on the message size between a size where `a` wins and one where `b` wins. */
  function crossing(op: OpName, hint: Hint, a: ChannelName, b: ChannelName, lo: number, hi: number, o: ModelOptions = {}) {
    const pick = (x: number) => choose(op, x, 64, hint, [a, b], DEFAULT_CONFIG, o).channel;
    const diff = (x: number) => {
      const ea = estimate(a, op, x, 64, DEFAULT_CONFIG, o);
      const eb = estimate(b, op, x, 64, DEFAULT_CONFIG, o);
      return hint === 'fast' ? ea.time_s - eb.time_s : ea.cost_usd - eb.cost_usd;
    };
    expect(pick(lo)).toBe(a);
    expect(pick(hi)).toBe(b);
    while (hi - lo > 1e-6 * lo) {
      const mid = (lo + hi) / 2;
      if (pick(mid) === a) lo = mid;
      else hi = mid;
    }
    // The model's curves cross between lo and hi: a is no worse at lo, b is better at hi.
    expect(diff(lo)).toBeLessThanOrEqual(0);
    expect(diff(hi)).toBeGreaterThan(0);
    // And on both sides of the crossing the policy follows the model.
    for (const x of [lo * 0.999, lo * 0.99, lo * 0.5]) expect(pick(x)).toBe(a);
    for (const x of [hi * 1.001, hi * 1.01, hi * 2]) expect(pick(x)).toBe(b);
    return lo;
  }

  it('cheap bcast on 64 ranks: S3 below the crossing, direct above (functions pay for the slower channel)', () => {
    const x = crossing('bcast', 'cheap', 's3', 'direct', 8 * MiB, 512 * MiB);
    expect(x).toBeGreaterThan(32 * MiB);
    expect(x).toBeLessThan(128 * MiB);
  });

  it('fast bcast between the storage channels: Redis while latency rules, S3 once its bandwidth does', () => {
    const x = crossing('bcast', 'fast', 'redis', 's3', 8, 2 ** 30);
    expect(x).toBeGreaterThan(64 * 1024);
    expect(x).toBeLessThan(8 * MiB);
  });

  it('cheap send on 2 ranks: Redis for small messages, direct for large', () => {
    crossing('send', 'cheap', 'redis', 'direct', 8, 2 ** 30, { memoryMiB: 1024 });
  });
});

describe('policy - Policy and errors', () => {
  const all: FmiConfig = validateConfig({
    backends: { Direct: { enabled: true }, Redis: { enabled: true, host: 'h' }, S3: { enabled: true, bucket_name: 'b' } },
  });

  it("takes the config's enabled channels, a default hint, and follows hint changes", () => {
    const p = new Policy(all, { ranks: 64, opsPerHour: 1 });
    expect(p.channels).toEqual(['direct', 'redis', 's3']);
    expect(p.hint).toBe('fast');
    expect(p.choose('bcast', 256 * MiB).channel).toBe('direct');
    p.hint = 'cheap';
    expect(p.choose('bcast', 256 * MiB).channel).toBe('s3');
    expect(p.choose('bcast', 256 * MiB, 'fast').channel).toBe('direct');
    expect(p.estimate('s3', 'bcast', m)).toEqual(estimate('s3', 'bcast', m, 64, all, { opsPerHour: 1 }));
    expect(new Policy(DEFAULT_CONFIG, { ranks: 4 }).choose('bcast', 2 ** 30, 'cheap').channel).toBe('direct');
  });

  it('rejects what it cannot model', () => {
    expect(() => choose('bcast', 8, 4, 'fast', [], DEFAULT_CONFIG)).toThrow(FmiError);
    expect(() => choose('bcast', 8, 4, 'fast', [], DEFAULT_CONFIG)).toThrow(/no channel to choose from/);
    expect(() => choose('bcast', 8, 4, 'quick' as Hint, ALL, DEFAULT_CONFIG)).toThrow(/hint must be/);
    expect(() => est('direct', 'bcast', -1, 4)).toThrow(/bytes must be/);
    expect(() => est('direct', 'bcast', 8, 0)).toThrow(/ranks must be/);
    expect(() => est('direct', 'alltoall' as OpName, 8, 4)).toThrow(/unknown operation/);
    expect(() => est('direct', 'bcast', 8, 4, { opsPerHour: 0 })).toThrow(/opsPerHour/);
  });
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    return { code: await modelCommand(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('fmi model - command', () => {
  it('prints a table per operation with every channel and the pick of each hint', async () => {
    const { code, out } = await run(['--ranks', '64', '--memory', '1024', '--ops', 'bcast,allreduce']);
    expect(code).toBe(0);
    for (const s of ['direct time', 'direct cost', 'redis time', 'redis cost', 's3 time', 's3 cost', 'fast', 'cheap', '\nbcast\n', '\nallreduce\n']) {
      expect(out).toContain(s);
    }
    const rows = out.split('\n').filter((l) => /^\s*\d+ (B|KiB|MiB|GiB)\s/.test(l));
    expect(rows).toHaveLength(2 * 15);
    expect(rows[0]).toMatch(/^\s+8 B\s/);
    expect(rows[14]).toMatch(/^\s+1 GiB\s.*direct\s+direct$/);
  });

  it('--json prints one line per operation and size', async () => {
    const { code, out } = await run(['--ops', 'bcast', '--json', '--ops-per-hour', '1']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(15);
    expect(lines[0]).toMatchObject({ op: 'bcast', bytes: 8, ranks: 64, memory_mib: 1024, ops_per_hour: 1, fast: 'direct', cheap: 's3' });
    expect(Object.keys(lines[0].estimates)).toEqual(['direct', 'redis', 's3']);
    expect(lines.at(-1)).toMatchObject({ bytes: 2 ** 30, fast: 'direct', cheap: 's3' });
  });

  it('with --config, models the channels the file enables', async () => {
    const path = new URL('./fixtures/fmi.json', import.meta.url).pathname;
    const { code, out } = await run(['--config', path, '--ops', 'barrier']);
    expect(code).toBe(0);
    expect(out).toContain('direct time');
    expect(out).not.toContain('s3 time');
    expect(out).toContain(path);
  });

  it('usage errors exit 2, config errors exit 1', async () => {
    expect((await run(['--bogus'])).code).toBe(2);
    const bad = await run(['--ops', 'alltoall']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown "alltoall"/);
    expect((await run(['--ranks', '0'])).code).toBe(2);
    const missing = await run(['--config', '/nonexistent/fmi.json']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/FMI_CONFIG: cannot read config file/);
  });
});
