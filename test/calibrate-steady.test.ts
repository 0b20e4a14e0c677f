import { describe, expect, it } from 'vitest';
import { STEADY_BATCH_MS, steadyWarmUp } from '../src/cli/calibrate-steady.js';
import { PLANS } from '../src/cli/calibrate.js';
import { capGap, fitChannel, fitExchange, fitGap, type ChannelMeasurements } from '../src/model/calibration.js';
import { directTraffic } from '../src/model/direct.js';
import { fitLink, medianOfRounds } from '../src/model/fit.js';

/** Feeds doubling batches whose time per call is perCall(calls so far) ms to the rule; returns the calls when it stopped. */
function warmUntil(over: (dt: number, n: number) => boolean, perCall: (calls: number) => number, limit = 1 << 20): number {
  let calls = 0;
  for (let n = 1; calls < limit; n *= 2) {
    const dt = n * perCall(calls);
    calls += n;
    if (over(dt, n)) return calls;
  }
  return Infinity;
}

describe('calibrate - steady warm-up (the model check benchmark\'s rule)', () => {
  it('goes on while the time per call still falls by 10 % a batch', () => {
    let i = 0;
    const falling = () => 10 * 0.85 ** i++;
    let j = 0;
    const slowing = () => 10 * 0.95 ** j++;
    expect(warmUntil(steadyWarmUp({ minMs: 0, minCalls: 0, capMs: 1e9 }), falling, 1 << 16)).toBe(Infinity);
    expect(warmUntil(steadyWarmUp({ minMs: 0, minCalls: 0, capMs: 1e9 }), slowing)).toBe(31);
  });

  it('with calibrate\'s least calls, times an 8-byte allreduce past V8\'s knee; the old rule stopped before it', () => {
    // Per call as one job measured it (4 ranks, 2 vCPUs): 948, 792, 428, 353 µs over the first four 250 calls, then 220.
    const knee = [0.948, 0.792, 0.428, 0.353];
    const cold = (c: number) => knee[Math.floor(c / 250)] ?? 0.22;
    // A plateau of cold calls looks steady to the rule alone: the least calls keep it going.
    const calls = warmUntil(steadyWarmUp({ minMs: 60, minCalls: PLANS.direct.warm!.calls, capMs: 10_000 }), cold);
    expect(calls).toBeGreaterThan(1000);
    expect(cold(calls)).toBe(0.22);
    let spent = 0;
    expect(warmUntil((dt, n) => (spent += dt) >= 60 && n >= 2, cold)).toBeLessThan(250);
  });

  it('a flat time per call stops after two batches of at least STEADY_BATCH_MS, not before minMs or minCalls', () => {
    const flat = () => 1;
    const calls = warmUntil(steadyWarmUp({ minMs: 0, minCalls: 0, capMs: 1e9 }), flat);
    // Batches of 32, 64 and 128 calls (1 ms each) are the first of 20 ms or more: the first sets the best, the next two are flat.
    expect(STEADY_BATCH_MS).toBe(20);
    expect(calls).toBe(255);
    expect(warmUntil(steadyWarmUp({ minMs: 500, minCalls: 0, capMs: 1e9 }), flat)).toBe(511);
    expect(warmUntil(steadyWarmUp({ minMs: 0, minCalls: 3000, capMs: 1e9 }), flat)).toBe(4095);
  });

  it('stops at capMs even when the time never settles', () => {
    let i = 0;
    const falling = () => 10 * 0.8 ** i++; // every batch 20 % faster per call
    expect(warmUntil(steadyWarmUp({ minMs: 0, minCalls: 0, capMs: 200 }), falling)).toBeLessThan(1 << 10);
  });

  it('calibrate warms up 2,500 rounds (direct, shm, redis) before timing anything', () => {
    for (const c of ['direct', 'shm', 'redis'] as const) expect(PLANS[c].warm?.calls).toBeGreaterThanOrEqual(2500);
  });
});

describe('calibrate - median of the rounds\' medians', () => {
  it('a burst of load over one round of five does not move it; the pooled median it moves', () => {
    const per = 20;
    const samples = new Float64Array(5 * per);
    for (let r = 0; r < 5; r++) for (let k = 0; k < per; k++) samples[r * per + k] = r === 2 ? 3 : 1 + k / 1000;
    // Two rounds of five under a burst: still a quiet round's median.
    for (let k = 0; k < per; k++) samples[4 * per + k] = 3;
    expect(medianOfRounds(samples, 5)).toBeCloseTo(1.0095, 6);
    const pooled = [...samples].sort((a, b) => a - b)[samples.length >> 1]!;
    expect(pooled).toBeGreaterThan(1.015);
  });

  it('fewer samples than rounds: their median', () => {
    expect(medianOfRounds([3, 1, 2], 5)).toBe(2);
  });
});

describe('calibrate - the exchange\'s line where its bytes count', () => {
  // Measured (4 ranks on 2 vCPUs, one calibration of a model check): flat to 64 KiB, then steeper per byte at 1 MiB.
  const exchange = [
    [8, 389],
    [1024, 372],
    [16384, 378],
    [65536, 361],
    [262144, 607],
    [1048576, 2551],
  ].map(([bytes, us]) => ({ bytes: bytes!, seconds: us! * 1e-6, iters: 100 }));
  const at = (l: { alpha: number; beta: number }, b: number) => l.alpha + b / l.beta;

  it('prices every size from 64 KiB within 20 % of its measurement (over all sizes, 1 MiB at 0.73)', () => {
    const x = fitExchange(exchange, 4e9);
    for (const s of exchange.filter((p) => p.bytes >= 65536)) expect(Math.abs(at(x, s.bytes) / s.seconds - 1)).toBeLessThan(0.2);
    const all = fitLink(exchange);
    expect(at(all, 1048576) / 2551e-6).toBeLessThan(0.75);
  });

  it('fitChannel writes that line as the exchange round', () => {
    const line = (a: number, b: number) => [8, 65536, 1 << 20].map((bytes) => ({ bytes, seconds: a + bytes / b, iters: 10 }));
    const m: ChannelMeasurements = { channel: 'direct', ranks: 4, load: [0, 0, 0], pingpong: line(10e-6, 4e9), exchange, legs: [], legsAll: [] };
    expect(fitChannel(m).exchange).toEqual(fitExchange(exchange, 4e9));
  });

  it('fewer than two sizes from 64 KiB: every size', () => {
    const small = exchange.filter((s) => s.bytes <= 65536);
    expect(fitExchange(small, 4e9)).toEqual(fitLink(small, 4e9));
  });
});

describe('calibrate - the gap leaves the small allreduce its hops', () => {
  const line = (a: number, b: number) => [8, 65536, 1 << 20].map((bytes) => ({ bytes, seconds: a + bytes / b, iters: 10 }));
  // A burst under a spike of load: 0.34 ms per further message, where the 8-byte allreduce took 0.62 ms.
  const burst = [1, 4, 16].map((k) => ({ bytes: k, seconds: 0.3e-3 + (k - 1) * 0.34e-3, iters: 10 }));
  const m: ChannelMeasurements = {
    channel: 'direct', ranks: 4, load: [0, 0, 0], pingpong: line(40e-6, 4e9), exchange: [], legs: [], legsAll: [], burst,
    allreduce: [{ bytes: 8, seconds: 0.62e-3, iters: 100 }], barrier: [{ bytes: 0, seconds: 0.46e-3, iters: 100 }],
  };

  it('caps the gap so that the model\'s own allreduce and barrier take what was measured, their hops above the floor', () => {
    const f = fitChannel(m);
    expect(f.gap).toBeLessThan(0.34e-3 / 2);
    expect(f.alphaColl).toBeGreaterThan(1e-6);
    expect(f.alphaBarrier).toBeGreaterThan(1e-6);
    const link = { alpha: f.fit.alpha, beta: f.fit.beta, gap: f.gap };
    expect(directTraffic('allreduce', 8, 4, { ...link, alphaColl: f.alphaColl }).time_s / 0.62e-3).toBeCloseTo(1, 3);
    expect(directTraffic('barrier', 0, 4, { ...link, alphaColl: f.alphaBarrier }).time_s / 0.46e-3).toBeCloseTo(1, 3);
  });

  it('leaves a gap that fits alone', () => {
    const calm = [1, 4, 16].map((k) => ({ bytes: k, seconds: 0.3e-3 + (k - 1) * 20e-6, iters: 10 }));
    expect(capGap(fitGap(calm), { ...m, burst: calm }, { alpha: 40e-6, beta: 4e9 })).toBeCloseTo(20e-6, 9);
  });
});
