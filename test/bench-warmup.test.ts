import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module of the benchmarks, no types
import { warmUpPlan, PLAN } from '../bench/lib/common.mjs';

// The benchmarks' warm-up rule (bench/README.md, "How it is measured"):
// at least the size's warm-up time, then until the time per call stops falling.
type Plan = { spentMs: number; over(dt: number, n: number): boolean };

/** Feeds doubling batches of the given per-call times (ms) until the plan is over; the batches it took. */
function run(plan: Plan, perCall: (batch: number) => number, limit = 40): number {
  for (let b = 0, n = 1; b < limit; b++, n *= 2) if (plan.over(perCall(b) * n, n)) return b + 1;
  return -1;
}

describe('bench warm-up plan', () => {
  it('stops after the minimum once the time per call is flat', () => {
    const plan: Plan = warmUpPlan(false);
    const batches = run(plan, () => 1);
    expect(batches).toBeGreaterThan(0);
    expect(plan.spentMs).toBeGreaterThanOrEqual(PLAN.warmupMs);
    // Flat from the start: over two batches of 20 ms or more past the first, well before the cap.
    expect(plan.spentMs).toBeLessThan(4 * PLAN.warmupMs);
  });

  it('runs the first size for at least the least number of calls, however flat', () => {
    expect(PLAN.warmupCalls).toBe(4000);
    const first: Plan = warmUpPlan(true);
    // 0.2 ms per call: 500 ms would be over after 4095 calls... and 4000 calls take 800 ms.
    const batches = run(first, () => 0.2);
    expect(2 ** batches - 1).toBeGreaterThanOrEqual(PLAN.warmupCalls);
    expect(first.spentMs).toBeGreaterThanOrEqual(PLAN.warmupCalls * 0.2);
    // A later size does not count calls.
    const later: Plan = warmUpPlan(false);
    expect(2 ** run(later, () => 0.2) - 1).toBeLessThan(PLAN.warmupCalls);
  });

  it('goes on while the time per call falls by more than 10 % a batch', () => {
    const falling: Plan = warmUpPlan(false);
    const flat: Plan = warmUpPlan(false);
    // 1 ms per call, falling 20 % a batch until batch 12, then flat.
    const f = (b: number) => Math.pow(0.8, Math.min(b, 12));
    run(falling, f);
    run(flat, () => 1);
    expect(falling.spentMs).toBeGreaterThan(flat.spentMs);
    // It measured only after two batches past the fall.
    expect(run(warmUpPlan(false), f)).toBeGreaterThanOrEqual(12 + 2);
  });

  it('stops at 20 times the minimum when the time per call keeps falling', () => {
    const plan: Plan = warmUpPlan(false);
    expect(run(plan, (b) => Math.pow(0.85, b), 60)).toBeGreaterThan(0);
    expect(plan.spentMs).toBeGreaterThanOrEqual(20 * PLAN.warmupMs);
  });

  it('ignores batches under 20 ms for steadiness', () => {
    // Calls of 0.001 ms: the batches reach 20 ms only after 2^15 calls.
    const plan: Plan = warmUpPlan(false);
    const batches = run(plan, () => 0.001);
    expect(batches).toBeGreaterThanOrEqual(16 + 2);
  });
});
