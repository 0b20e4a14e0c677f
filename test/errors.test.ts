import { describe, expect, it } from 'vitest';
import { FmiError, init, Op } from '../src/index.js';
import { settleWorld, withWorld } from './helpers/world.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, 'expected a rejection').toBeInstanceOf(FmiError);
  return (err as FmiError).code;
}

describe('errors - bad input gets a typed error, never a hang', () => {
  it('invalid ranks, roots and tags are rejected at once, naming rank and operation', async () => {
    await withWorld(3, async (c) => {
      expect(await codeOf(c.send(1, 3))).toBe('MPI_ERR_RANK');
      expect(await codeOf(c.send(1, -1))).toBe('MPI_ERR_RANK');
      expect(await codeOf(c.send(1, 1.5))).toBe('MPI_ERR_RANK');
      expect(await codeOf(c.recv(7))).toBe('MPI_ERR_RANK');
      expect(await codeOf(c.send(1, 0, { tag: -3 }))).toBe('MPI_ERR_TAG');
      expect(await codeOf(c.send(1, 0, { tag: 2 ** 31 }))).toBe('MPI_ERR_TAG');
      for (const p of [c.bcast(1, 3), c.gather(1, -1), c.scatter([1, 2, 3], 9), c.reduce(1, Op.SUM, 3)]) {
        expect(await codeOf(p)).toBe('MPI_ERR_ROOT');
      }
      const err = await c.bcast(1, 5).catch((e: FmiError) => e);
      expect(err).toMatchObject({ code: 'MPI_ERR_ROOT', rank: c.rank, op: 'bcast' });
      expect(String(err.message)).toContain('rank=');
      // The communicator still works afterwards.
      expect(await c.allreduce(1, Op.SUM)).toBe(3);
    });
  });

  it('a size mismatch between ranks is FMI_MISMATCH in allreduce (the count is in its signature), MPI_ERR_SIZE in reduce, in JS and in Wasm', async () => {
    for (const n of [3, 4000]) {
      const out = await settleWorld(2, (c) => c.allreduce(new Float64Array(c.rank === 0 ? n : n * 2), Op.SUM, { timeoutMs: 5000 }));
      for (const r of out) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'FMI_MISMATCH' } });
      const red = await settleWorld(2, (c) => c.reduce(new Int32Array(c.rank === 0 ? n : n + 1), Op.MAX, 0, { timeoutMs: 5000 }));
      expect(red[0]).toMatchObject({ status: 'rejected', reason: { code: 'MPI_ERR_SIZE', rank: 0 } });
    }
  });

  it('different types between ranks are FMI_MISMATCH in allreduce, MPI_ERR_TYPE in gather', async () => {
    const out = await settleWorld(2, (c) =>
      c.allreduce(c.rank === 0 ? new Float64Array(1000) : new Int32Array(2000), Op.MAX, { timeoutMs: 5000 }),
    );
    for (const r of out) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'FMI_MISMATCH' } });
    const g = await settleWorld(2, (c) => c.gather(c.rank === 0 ? new Float32Array(2) : { x: 1 }, 0, { timeoutMs: 5000 }));
    expect(g[0]).toMatchObject({ status: 'rejected', reason: { code: 'MPI_ERR_TYPE' } });
  });

  it('a message larger than the receive buffer is MPI_ERR_TRUNCATE, and the stream stays in step', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) {
        await c.send(new Float64Array(10), 1);
        await c.send(new Float64Array([42]), 1);
      } else {
        const err = await c.recv(0, { into: new Float64Array(4) }).catch((e: FmiError) => e);
        expect(err).toMatchObject({ code: 'MPI_ERR_TRUNCATE', rank: 1, peer: 0 });
        expect(await c.recv(0)).toEqual(new Float64Array([42]));
      }
    });
  });

  it('receiving into a TypedArray of another type is MPI_ERR_TYPE', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) await c.send(new Int32Array(2), 1);
      else expect(await codeOf(c.recv(0, { into: new Float32Array(2) }))).toBe('MPI_ERR_TYPE');
    });
  });

  it('bad scatter or bcast input at the root fails every rank with the root\'s error', async () => {
    const s = await settleWorld(4, (c) => c.scatter(c.rank === 2 ? [1, 2, 3] : undefined, 2, { timeoutMs: 5000 }));
    for (const r of s) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'MPI_ERR_COUNT' } });
    const t = await settleWorld(3, (c) => c.scatter(c.rank === 0 ? new Float64Array(4) : undefined, 0, { timeoutMs: 5000 }));
    for (const r of t) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'MPI_ERR_COUNT' } });
    const b = await settleWorld(3, (c) => c.bcast(c.rank === 1 ? { f: () => 1 } : undefined, 1, { timeoutMs: 5000 }));
    for (const r of b) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'MPI_ERR_TYPE' } });
  });

  it('a value that cannot be sent fails gather on that rank and at the root', async () => {
    const g = await settleWorld(3, (c) => c.gather(c.rank === 2 ? Symbol('x') : c.rank, 0, { timeoutMs: 5000 }));
    expect(g[0]).toMatchObject({ status: 'rejected', reason: { code: 'MPI_ERR_ARG' } });
    expect(g[1]).toMatchObject({ status: 'fulfilled' });
    expect(g[2]).toMatchObject({ status: 'rejected', reason: { code: 'MPI_ERR_TYPE' } });
  });

  it('a receive nobody answers times out with FMI_TIMEOUT, within its timeout', async () => {
    await withWorld(2, async (c) => {
      const t0 = Date.now();
      const err = await c.recv(1 - c.rank, { tag: 77, timeoutMs: 300 }).catch((e: FmiError) => e);
      expect(err).toMatchObject({ code: 'FMI_TIMEOUT', rank: c.rank, peer: 1 - c.rank, tag: 77, op: 'recv' });
      expect(Date.now() - t0).toBeLessThan(3000);
      // Collectives too; the default timeout comes from init.
      if (c.rank === 0) expect(await codeOf(c.barrier({ timeoutMs: 200 }))).toBe('FMI_TIMEOUT');
      await c.send('late', 1 - c.rank, { tag: 77 });
    });
    await withWorld(2, async (c) => {
      if (c.rank === 1) expect(await codeOf(c.bcast(undefined, 0))).toBe('FMI_TIMEOUT');
    }, { timeoutMs: 200 });
  });

  it('an aborted signal rejects with FMI_ABORTED', async () => {
    await withWorld(2, async (c) => {
      const ac = new AbortController();
      const p = c.recv(1 - c.rank, { signal: ac.signal });
      setTimeout(() => ac.abort(new Error('stop')), 20);
      expect(await codeOf(p)).toBe('FMI_ABORTED');
      expect(await codeOf(c.send(1, 0, { signal: AbortSignal.abort() }))).toBe('FMI_ABORTED');
    });
  });

  it('use after close is FMI_CLOSED', async () => {
    const c = await init({ env: {} });
    await c.close();
    expect(await codeOf(c.send(1, 0))).toBe('FMI_CLOSED');
    expect(await codeOf(c.recv(0))).toBe('FMI_CLOSED');
    expect(await codeOf(c.allreduce(1, Op.SUM))).toBe('FMI_CLOSED');
    await c.close(); // closing twice is fine
  });

  it('a peer that closes fails receives waiting on it with FMI_PEER_LOST', async () => {
    await withWorld(2, async (c) => {
      await c.barrier(); // connected
      if (c.rank === 1) {
        await c.close();
        return;
      }
      const err = await c.recv(1, { timeoutMs: 10_000 }).catch((e: FmiError) => e);
      expect(err).toMatchObject({ code: 'FMI_PEER_LOST', peer: 1 });
    });
  });

  it('misconfiguration is FMI_CONFIG', async () => {
    expect(await codeOf(init({ env: { FMI_SIZE: '2', FMI_RANK: '0', FMI_JOB: 'j' } }))).toBe('FMI_CONFIG');
    expect(await codeOf(init({ env: { FMI_SIZE: '2', FMI_RANK: '2', FMI_JOB: 'j', FMI_RENDEZVOUS: '127.0.0.1:1' } }))).toBe('FMI_CONFIG');
    expect(await codeOf(init({ env: { FMI_SIZE: '2', FMI_RANK: '0', FMI_JOB: 'j', FMI_RENDEZVOUS: 'nonsense' } }))).toBe('FMI_CONFIG');
    expect(await codeOf(init({ env: { FMI_SIZE: '2', FMI_RANK: '0', FMI_JOB: 'j', FMI_RENDEZVOUS: '127.0.0.1:1' } }))).toBe('FMI_CHANNEL');
  });
});
