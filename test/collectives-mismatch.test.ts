import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MismatchError, Op, type Communicator } from '../src/index.js';
import { Err } from '../src/mpi/abi.js';
import { toMpiError } from '../src/mpi/errors.js';
import { DEFAULT_CONFIG } from '../src/config/index.js';
import { startRedis } from './helpers/redis-server.js';
import { withWorld } from './helpers/world.js';

/**
 * Mismatched collectives: every rank fails with FMI_MISMATCH, none hangs and
 * none gets a value. A rank that only sends in the call (a bcast or scatter
 * root, a gather leaf) cannot see the mismatch there without an extra
 * message: it fails in its next collective, which these tests run (a barrier).
 */
type Outcome = { code: string; message: string } | { value: unknown };

async function attempt(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { value: await fn() };
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
}

/** Runs `call` on 3 ranks, then a barrier; returns each rank's two outcomes. */
async function run(call: (c: Communicator) => Promise<unknown>, extra: Record<string, unknown> = {}): Promise<[Outcome, Outcome][]> {
  return withWorld(3, async (c) => {
    const first = await attempt(() => call(c));
    const next = await attempt(() => c.barrier());
    return [first, next] as [Outcome, Outcome];
  }, { timeoutMs: 10_000, ...extra });
}

/** Every rank failed with FMI_MISMATCH in the call (`inCall`) or else in the barrier after it. */
function expectMismatch(out: [Outcome, Outcome][], inCall: number[]): void {
  out.forEach(([first, next], rank) => {
    if (inCall.includes(rank) || 'code' in first) expect(first, `rank ${rank}`).toMatchObject({ code: 'FMI_MISMATCH' });
    else expect(next, `rank ${rank}: its next collective`).toMatchObject({ code: 'FMI_MISMATCH' });
  });
}

const messages = (out: [Outcome, Outcome][]) => out.flat().flatMap((o) => ('message' in o ? [o.message] : []));

function cases(extra: () => Record<string, unknown>, storage: boolean) {
  it('allreduce with SUM at two ranks and MAX at the third', async () => {
    const out = await run((c) => c.allreduce(c.rank + 1, c.rank === 2 ? Op.MAX : Op.SUM), extra());
    expectMismatch(out, [0, 1, 2]);
    expect(messages(out).join('\n')).toMatch(/called allreduce\(op MAX, a value\), rank \d called allreduce\(op SUM, a value\)|called allreduce\(op SUM, a value\), rank \d called allreduce\(op MAX, a value\)/);
  });

  it('allreduce of Float64Array(4) and Float64Array(8), and of Float64Array and Float32Array', async () => {
    const counts = await run((c) => c.allreduce(new Float64Array(c.rank === 1 ? 8 : 4).fill(1), Op.SUM), extra());
    expectMismatch(counts, [0, 1, 2]);
    expect(messages(counts).join('\n')).toContain('Float64Array(8)');
    const types = await run((c) => c.allreduce(c.rank === 1 ? new Float32Array(4) : new Float64Array(4), Op.SUM), extra());
    expectMismatch(types, [0, 1, 2]);
    expect(messages(types).join('\n')).toContain('Float32Array(4)');
  });

  it('allreduce of Wasm-sized arrays of different lengths (received in place)', async () => {
    const out = await run((c) => c.allreduce(new Float64Array(c.rank === 0 ? 2048 : 1024).fill(1), Op.SUM), extra());
    expectMismatch(out, [0, 1, 2]);
  });

  it('bcast at one rank, allreduce at the others', async () => {
    const out = await run((c) => (c.rank === 0 ? c.bcast(1, 0) : c.allreduce(1, Op.SUM)), extra());
    expectMismatch(out, [1, 2]);
    expect(messages(out).join('\n')).toContain('rank 0 called bcast(root 0), rank 1 called allreduce(op SUM, a value)');
  });

  // On storage every root writes and no rank reads: no rank can see it (see README, known limits).
  if (!storage) {
    it('bcast with a different root per rank', async () => {
      const out = await run((c) => c.bcast(c.rank, c.rank), extra());
      expectMismatch(out, []);
      expect(messages(out).join('\n')).toMatch(/called bcast\(root \d\) \(call 0 mod 4\), rank \d called barrier \(call 1 mod 4\)/);
    });
  }

  it('barrier at two ranks, bcast at the third', async () => {
    const out = await run((c) => (c.rank === 1 ? c.bcast(5, 1) : c.barrier()), { ...extra(), ...(storage ? { timeoutMs: 3000 } : {}) });
    if (!storage) return expectMismatch(out, [0, 2]);
    // On storage the root only writes, and in its next barrier it waits on a store read, not on
    // messages: it does not learn of the mismatch (it times out there). The others fail in the call.
    expect(out[0]![0]).toMatchObject({ code: 'FMI_MISMATCH' });
    expect(out[2]![0]).toMatchObject({ code: 'FMI_MISMATCH' });
  });

  it('scatter at the root, gather at the others', async () => {
    const out = await run((c) => (c.rank === 0 ? c.scatter([1, 2, 3], 0) : c.gather(c.rank, 0)), extra());
    expectMismatch(out, []);
  });

  it('matched collectives after a mismatch-free run still agree', async () => {
    const out = await withWorld(3, async (c) => [await c.allreduce(c.rank + 1, Op.SUM), await c.bcast(c.rank === 2 ? 'x' : undefined, 2)], extra());
    expect(out).toEqual([[6, 'x'], [6, 'x'], [6, 'x']]);
  });
}

describe('mismatched collectives - direct channel', () => {
  cases(() => ({}), false);
});

describe('mismatched collectives - Redis (mediated collectives)', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  cases(() => ({ channel: 'redis', config: { ...DEFAULT_CONFIG, backends: { Direct: { enabled: true }, Redis: { enabled: true, url: redis.url } } } }), true);
});

describe('FMI_MISMATCH in the MPI ABI', () => {
  it('is of class MPI_ERR_OTHER', () => {
    const err = new MismatchError('rank 0 called bcast(root 0), rank 2 called allreduce(op MAX, a value)');
    expect(err.code).toBe('FMI_MISMATCH');
    expect(toMpiError(err).code).toBe(Err.OTHER);
  });
});
