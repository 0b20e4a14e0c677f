import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Communicator, Op } from '../../src/index.js';
import type { ChannelFactory } from '../../src/channels/channel.js';

export interface ComplianceOptions {
  /** Rank counts to run the collectives on. @default [1, 2, 3, 5] */
  sizes?: number[];
  /** Bytes of the large message test (chunking). @default 8 MiB */
  largeBytes?: number;
  /** What the job left in the store after every rank closed (keys, objects): must be empty. */
  leftovers?: (job: string) => Promise<string[]>;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A job of `size` ranks over channels from `factory`, all in this process. */
export async function withChannelWorld<T>(factory: ChannelFactory, size: number, fn: (c: Communicator) => Promise<T>, job = randomUUID()): Promise<T[]> {
  const channels = await Promise.all(range(size).map((rank) => factory({ job, rank, size })));
  const comms = channels.map((ch) => new Communicator(ch, { job }));
  try {
    return await Promise.all(comms.map(fn));
  } finally {
    await Promise.all(comms.map((c) => c.close()));
  }
}

/**
 * The channel compliance suite: the same point-to-point and collective
 * behaviour over every channel. Call it from a test file per channel.
 */
export function channelCompliance(name: string, factory: ChannelFactory, o: ComplianceOptions = {}): void {
  const sizes = o.sizes ?? [1, 2, 3, 5];
  const world = <T>(size: number, fn: (c: Communicator) => Promise<T>, job?: string) => withChannelWorld(factory, size, fn, job);

  describe(`${name} - point to point`, () => {
    it('TypedArrays and structured values arrive as sent', async () => {
      const values = [new Float64Array([1.5, -2]), new Int8Array([-1]), new BigUint64Array([2n ** 63n]), { a: [1, 'x'] }, 'text', 7, new Uint8Array(0)];
      await world(2, async (c) => {
        if (c.rank === 0) for (const v of values) await c.send(v, 1, { tag: 3 });
        else for (const v of values) expect(await c.recv(0, { tag: 3 })).toEqual(v);
      });
    });

    it('no overtaking per (source, tag) with many messages in flight', async () => {
      const N = 300;
      await world(3, async (c) => {
        const peers = range(3).filter((r) => r !== c.rank);
        const sends = peers.flatMap((d) => range(N).map((i) => c.send(new Int32Array([c.rank, i]), d, { tag: i % 2 })));
        const recvs = peers.flatMap((s) => [0, 1].map(async (tag) => {
          for (let i = tag; i < N; i += 2) expect(Array.from(await c.recv<Int32Array>(s, { tag }))).toEqual([s, i]);
        }));
        await Promise.all([...sends, ...recvs]);
      });
    });

    it('a large message arrives intact', async () => {
      const n = Math.floor((o.largeBytes ?? 8 * 1024 * 1024) / 8) + 1;
      await world(2, async (c) => {
        if (c.rank === 0) await c.send(Float64Array.from({ length: n }, (_, i) => i), 1);
        else {
          const got = await c.recv<Float64Array>(0);
          expect(got.length).toBe(n);
          expect(got[n - 1]).toBe(n - 1);
          expect(got[12345]).toBe(12345);
        }
      });
    });

    it('a rank sends to itself', async () => {
      await world(2, async (c) => {
        await c.send({ me: c.rank }, c.rank, { tag: 1 });
        expect(await c.recv(c.rank, { tag: 1 })).toEqual({ me: c.rank });
      });
    });

    it('a receive nobody answers times out', async () => {
      await world(2, async (c) => {
        await expect(c.recv(1 - c.rank, { tag: 42, timeoutMs: 300 })).rejects.toMatchObject({ code: 'FMI_TIMEOUT' });
      });
    });
  });

  describe.each(sizes)(`${name} - collectives, %i ranks`, (size) => {
    it('bcast, gather, scatter from every root', async () => {
      await world(size, async (c) => {
        for (const root of range(size)) {
          expect(await c.bcast(c.rank === root ? { root, v: new Float32Array([root]) } : undefined, root)).toEqual({ root, v: new Float32Array([root]) });
          const g = await c.gather(new Int16Array([c.rank, root]), root);
          if (c.rank === root) expect(g).toEqual(Int16Array.from(range(size).flatMap((r) => [r, root])));
          else expect(g).toBeUndefined();
          expect(await c.scatter(c.rank === root ? range(size).map((r) => `item ${r}`) : undefined, root)).toBe(`item ${c.rank}`);
        }
      });
    });

    it('reduce, allreduce and scan, commutative and not', async () => {
      const concat = Op.create((a: string, b: string) => a + b, { commutative: false });
      await world(size, async (c) => {
        const v = Float64Array.from(range(1000), (i) => c.rank + i);
        for (const root of range(size)) {
          const r = await c.reduce(v, Op.SUM, root);
          if (c.rank === root) expect(r![999]).toBe((size * (size - 1)) / 2 + 999 * size);
          const s = await c.reduce(String(c.rank), concat, root);
          if (c.rank === root) expect(s).toBe(range(size).join(''));
        }
        expect(await c.allreduce(c.rank, Op.MAX)).toBe(size - 1);
        expect(await c.allreduce(String(c.rank), concat)).toBe(range(size).join(''));
        expect(await c.scan(String(c.rank), concat)).toBe(range(c.rank + 1).join(''));
        expect(await c.scan(new Int32Array([1]), Op.SUM)).toEqual(new Int32Array([c.rank + 1]));
        await c.barrier();
      });
    });
  });

  if (o.leftovers) {
    const leftovers = o.leftovers;
    describe(`${name} - cleanup`, () => {
      it('nothing of the job is left after close', async () => {
        const job = randomUUID();
        await world(3, async (c) => {
          await c.bcast(c.rank === 0 ? new Float64Array(1000) : undefined, 0);
          await c.allreduce(c.rank, Op.SUM);
          if (c.rank === 0) await c.send('unread', 1, { tag: 9 });
          await c.barrier();
        }, job);
        expect(await leftovers(job)).toEqual([]);
      });
    });
  }
}
