import { describe, expect, it } from 'vitest';
import { range, withWorld } from './helpers/world.js';

describe('p2p - send and recv', () => {
  it('TypedArrays come back as the same type; structured values as equal values', async () => {
    const values = [
      new Int8Array([-1, 2]), new Uint8Array([255]), new Int16Array([-300]), new Uint16Array([65535]),
      new Int32Array([-7, 8]), new Uint32Array([4e9]), new BigInt64Array([-5n]), new BigUint64Array([2n ** 64n - 1n]),
      new Float32Array([1.5]), new Float64Array([Math.PI]), Buffer.from('bytes'), new Float64Array(0),
      { nested: { a: [1, 'two', null, true] } }, 'text', 42, 12345678901234567890n, [1, [2, [3]]], new Map([[1, 'a']]), null, undefined,
      new Float64Array(new ArrayBuffer(80), 8, 3).fill(2), // a view with an offset
    ];
    await withWorld(2, async (c) => {
      if (c.rank === 0) for (const v of values) await c.send(v, 1, { tag: 5 });
      else for (const v of values) {
        const got = await c.recv(0, { tag: 5 });
        expect(got).toEqual(v);
        if (ArrayBuffer.isView(v)) expect((got as object).constructor).toBe(v.constructor);
      }
    });
  });

  it('messages between one pair with one tag never overtake each other, with many in flight', async () => {
    const N = 2000;
    await withWorld(4, async (c) => {
      const dests = range(4).filter((r) => r !== c.rank);
      // Every rank sends N numbered messages on two tags to every other rank without waiting.
      const sends = dests.flatMap((d) => range(N).flatMap((i) => [
        c.send(new Uint32Array([c.rank, i, 0]), d, { tag: 1 }),
        c.send({ from: c.rank, i, pad: 'x'.repeat(i % 97) }, d, { tag: 2 }),
      ]));
      const recvs = dests.flatMap((s) => [
        (async () => { for (let i = 0; i < N; i++) expect(Array.from(await c.recv<Uint32Array>(s, { tag: 1 }))).toEqual([s, i, 0]); })(),
        (async () => { for (let i = 0; i < N; i++) expect(await c.recv(s, { tag: 2 })).toMatchObject({ from: s, i }); })(),
      ]);
      await Promise.all([...sends, ...recvs]);
    });
  });

  it('receives posted before the sends match in order too', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 1) {
        const pending = range(100).map(() => c.recv<number>(0, { tag: 9 }));
        await c.send('ready', 0);
        expect(await Promise.all(pending)).toEqual(range(100));
      } else {
        await c.recv(1);
        for (const i of range(100)) await c.send(i, 1, { tag: 9 });
      }
    });
  });

  it('large messages arrive intact, both ways at once', async () => {
    const n = 4 * 1024 * 1024 + 3; // 32 MiB of f64, odd length
    await withWorld(2, async (c) => {
      const mine = Float64Array.from({ length: n }, (_, i) => i * (c.rank + 1));
      const [, got] = await Promise.all([c.send(mine, 1 - c.rank), c.recv<Float64Array>(1 - c.rank)]);
      expect(got.length).toBe(n);
      for (let i = 0; i < n; i += 9973) expect(got[i]).toBe(i * (2 - c.rank));
      expect(got[n - 1]).toBe((n - 1) * (2 - c.rank));
    });
  });

  it('recv into a caller buffer returns a view of it', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) {
        await c.send(new Float32Array([1, 2, 3]), 1);
        await c.send(Buffer.from([7, 8]), 1);
      } else {
        const buf = new Float32Array(8);
        const got = await c.recv(0, { into: buf });
        expect(got).toEqual(new Float32Array([1, 2, 3]));
        expect(got.buffer).toBe(buf.buffer);
        const bytes = new Uint8Array(4);
        expect(await c.recv(0, { into: bytes })).toEqual(new Uint8Array([7, 8]));
      }
    });
  });

  it('a rank sends to itself', async () => {
    await withWorld(3, async (c) => {
      const a = new Int32Array([c.rank]);
      await c.send(a, c.rank, { tag: 4 });
      a[0] = -1; // the message was taken when send resolved
      expect(await c.recv(c.rank, { tag: 4 })).toEqual(new Int32Array([c.rank]));
    });
  });

  it('a rank that only receives is connected to by its sender (lazy pairing)', async () => {
    await withWorld(5, async (c) => {
      // Only rank 4 sends; the others never initiate anything.
      if (c.rank === 4) await Promise.all(range(4).map((d) => c.send(`to ${d}`, d)));
      else expect(await c.recv(4)).toBe(`to ${c.rank}`);
    });
  });

  it('a job of one rank needs no server', async () => {
    const { init, Op } = await import('../src/index.js');
    const c = await init({ env: {} });
    expect([c.rank, c.size]).toEqual([0, 1]);
    expect(await c.allreduce(new Float64Array([2]), Op.SUM)).toEqual(new Float64Array([2]));
    expect(await c.gather(1, 0)).toEqual([1]);
    await c.send('me', 0);
    expect(await c.recv(0)).toBe('me');
    await c.close();
  });
});

describe('p2p - a peer that left', () => {
  it('messages it sent before closing are still received', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 1) {
        await c.send(Float64Array.of(42), 0);
        await c.send('bye', 0, { tag: 1 });
        await c.close();
      } else {
        await new Promise((r) => setTimeout(r, 300));
        expect(await c.recv(1, { tag: 1 })).toBe('bye');
        expect(await c.recv(1)).toEqual(Float64Array.of(42));
        await expect(c.recv(1)).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
      }
    });
  });
});
