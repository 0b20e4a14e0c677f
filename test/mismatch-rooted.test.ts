import { describe, expect, it } from 'vitest';
import { Op, type Communicator } from '../src/index.js';
import { withWorld } from './helpers/world.js';

/**
 * Rooted collectives called differently at different ranks: no rank may
 * return a value when the call failed elsewhere, and none may wait for ever
 * (these run without a timeout: a hang fails the test by vitest's limit).
 */
type Outcome = { code: string } | { value: unknown };

async function attempt(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { value: await fn() };
  } catch (err) {
    return { code: (err as { code: string }).code };
  }
}

const run = (size: number, call: (c: Communicator) => Promise<unknown>) => withWorld(size, (c) => attempt(() => call(c)), { verdicts: true });

describe('rooted collectives called differently', () => {
  it('reduce with a different count at one rank fails every rank, the leaves too', async () => {
    for (const size of [3, 4]) {
      const out = await run(size, (c) => c.reduce(new Float64Array(c.rank === size - 1 ? 8 : 4).fill(1), Op.SUM, 0));
      out.forEach((o, rank) => expect(o, `size ${size} rank ${rank}`).toHaveProperty('code'));
    }
  }, 30_000);

  it('gather with a different root at one rank fails every rank', async () => {
    const out = await run(4, (c) => c.gather(c.rank, c.rank === 3 ? 1 : 0));
    out.forEach((o, rank) => expect(o, `rank ${rank}`).toMatchObject({ code: 'FMI_MISMATCH' }));
  }, 30_000);

  it('bcast with a different root per rank: no rank returns another root\'s value as its own', async () => {
    for (const size of [2, 3, 5]) {
      const out = await run(size, (c) => c.bcast(c.rank, c.rank));
      out.forEach((o, rank) => expect(o, `size ${size} rank ${rank}`).toMatchObject({ code: 'FMI_MISMATCH' }));
    }
  }, 30_000);

  it('bcast where one rank names another root: that rank and the root fail, the others have the root\'s value', async () => {
    const out = await run(3, (c) => c.bcast(c.rank === 0 ? 'zero' : 'two', c.rank === 2 ? 2 : 0));
    expect(out[0]).toMatchObject({ code: 'FMI_MISMATCH' });
    expect(out[2]).toMatchObject({ code: 'FMI_MISMATCH' });
    if ('value' in out[1]!) expect(out[1].value).toBe('zero');
  }, 30_000);

  it('gather at one rank, scatter at the others fails fast instead of waiting', async () => {
    const out = await run(3, (c) => (c.rank === 0 ? c.gather(c.rank, 0) : c.scatter(undefined, 0)));
    out.forEach((o, rank) => expect(o, `rank ${rank}`).toMatchObject({ code: 'FMI_MISMATCH' }));
  }, 30_000);

  it('with verdicts off, a reduce leaf returns at once (as it did before verdicts), and the root fails', async () => {
    const out = await withWorld(3, async (c) => {
      const first = await attempt(() => c.reduce(new Float64Array(c.rank === 2 ? 8 : 4), Op.SUM, 0));
      return [first, await attempt(() => c.barrier())];
    }, { verdicts: false });
    expect(out[0]![0]).toHaveProperty('code');
    expect(out[2]![0]).toEqual({ value: undefined });
  }, 30_000);

  it('with verdicts off, a rank that only sent in a mismatched rooted call fails at the latest in its next collective', async () => {
    // [the mismatched call, the next collective]: each rank fails in one of them.
    const then = (c: Communicator, first: () => Promise<unknown>) => (async () => [await attempt(first), await attempt(() => c.barrier())])();
    const cases: [string, number, (c: Communicator) => Promise<unknown>][] = [
      ['reduce, a different count at the last rank', 3, (c) => c.reduce(new Float64Array(c.rank === 2 ? 8 : 4).fill(1), Op.SUM, 0)],
      ['reduce, a different count at the last rank', 4, (c) => c.reduce(new Float64Array(c.rank === 3 ? 8 : 4).fill(1), Op.SUM, 0)],
      ['reduce of Wasm-sized arrays, a different count at rank 1', 4, (c) => c.reduce(new Float64Array(c.rank === 1 ? 1024 : 512).fill(1), Op.SUM, 0)],
      ['reduce, a different type at rank 2', 4, (c) => c.reduce(c.rank === 2 ? new Float32Array(4) : new Float64Array(4), Op.SUM, 0)],
      ['bcast with a different root per rank', 3, (c) => c.bcast(c.rank, c.rank)],
      ['bcast where rank 2 names itself', 3, (c) => c.bcast(c.rank === 0 ? 'zero' : 'two', c.rank === 2 ? 2 : 0)],
    ];
    for (const [what, size, call] of cases) {
      const out = await withWorld(size, (c) => then(c, () => call(c)), { verdicts: false });
      out.forEach(([first, next], rank) => {
        if (!('code' in first!)) expect(next, `${what} on ${size}: rank ${rank} returned ${JSON.stringify(first)}, then its next collective`).toHaveProperty('code');
      });
    }
  }, 60_000);

  it('matched rooted collectives still agree, a scatter error still fails every rank, and the next call works', async () => {
    const out = await withWorld(4, async (c) => {
      const r = await c.reduce(new Float64Array([c.rank]), Op.SUM, 2);
      const g = await c.gather(c.rank, 1);
      const b = await c.bcast(c.rank === 3 ? 'x' : undefined, 3);
      const s = await c.scatter(c.rank === 0 ? [10, 11, 12, 13] : undefined, 0);
      const bad = await attempt(() => c.scatter(c.rank === 0 ? [1, 2] : undefined, 0));
      const after = await c.allreduce(1, Op.SUM);
      return [r ? Array.from(r as Float64Array) : undefined, g, b, s, bad, after];
    });
    expect(out[2]![0]).toEqual([6]);
    expect(out[1]![1]).toEqual([0, 1, 2, 3]);
    out.forEach((o, rank) => {
      expect(o[2]).toBe('x');
      expect(o[3]).toBe(10 + rank);
      expect(o[4]).toMatchObject({ code: 'MPI_ERR_COUNT' });
      expect(o[5]).toBe(4);
    });
  }, 30_000);
});
