import { describe, expect, it } from 'vitest';
import { Kind } from '../src/codec.js';
import { Matcher } from '../src/channels/matcher.js';
import { internals } from '../src/comm/communicator.js';
import { bcastBinomial } from '../src/collectives/bcast.js';
import type { CollContext } from '../src/collectives/context.js';
import { Op } from '../src/index.js';
import { range, withWorld } from './helpers/world.js';

const bytes = (...xs: number[]) => Uint8Array.from(xs);

describe('receives with `fits` - the matcher', () => {
  it('a posted receive takes a message that fits into `into`, and gives any other a buffer of its own', async () => {
    const m = new Matcher(0, 'test');
    const into = new Uint8Array(3);
    const fits = (kind: number, length: number) => kind === 7 && length === 3;
    const a = m.post({ source: 1, ctx: 0, tag: 0, into, fits });
    m.deliver(1, 0, 0, 7, bytes(1, 2, 3));
    expect((await a).data.buffer).toBe(into.buffer);
    expect(into).toEqual(bytes(1, 2, 3));
    // Another kind, a shorter and a longer payload: none lands in `into`, none is truncated.
    for (const [kind, payload] of [[8, bytes(4, 5, 6)], [7, bytes(4)], [7, bytes(4, 5, 6, 7)]] as const) {
      const p = m.post({ source: 1, ctx: 0, tag: 0, into, fits });
      m.deliver(1, 0, 0, kind, payload);
      const r = await p;
      expect(r.data.buffer).not.toBe(into.buffer);
      expect([r.kind, [...r.data]]).toEqual([kind, [...payload]]);
    }
    expect(into).toEqual(bytes(1, 2, 3));
  });

  it('an early message is copied into `into` only when it fits', async () => {
    const m = new Matcher(0, 'test');
    const into = new Uint8Array(2);
    const fits = (_kind: number, length: number) => length === 2;
    m.deliver(1, 0, 0, 1, bytes(9, 9, 9));
    m.deliver(1, 0, 0, 1, bytes(8, 8));
    const long = await m.post({ source: 1, ctx: 0, tag: 0, into, fits });
    expect([long.data.buffer === into.buffer, [...long.data], [...into]]).toEqual([false, [9, 9, 9], [0, 0]]);
    const fit = await m.post({ source: 1, ctx: 0, tag: 0, into, fits });
    expect([fit.data.buffer === into.buffer, [...into]]).toEqual([true, [8, 8]]);
  });
});

describe('bcast into - whole messages land in `into`', () => {
  it('below the pipelining threshold, every rank but the root receives the payload straight into its `into`', async () => {
    const n = 256 * 1024 + 3;
    const payload = Uint8Array.from(range(n), (i) => (i * 13) & 0xff);
    const got = await withWorld(4, (comm) =>
      internals(comm).collective('intercomm', {}, async (c: CollContext) => {
        const into = new Uint8Array(n);
        const out = await bcastBinomial(c, 1, c.rank === 1 ? { kind: Kind.BUFFER, bytes: payload } : undefined, { into: { kind: Kind.BUFFER, bytes: into } });
        return [out.bytes.buffer === into.buffer || c.rank === 1, Buffer.compare(out.bytes, payload)];
      }),
    );
    expect(got).toEqual(range(4).map(() => [true, 0]));
  });

  it('an `into` of another length is left as it was, and that rank fails with MPI_ERR_ARG', async () => {
    const want = Float64Array.from(range(40_001), (i) => i / 3);
    const out = await withWorld(5, async (c) => {
      const into = new Float64Array(c.rank === 4 ? 40_000 : 40_001).fill(-1);
      const r = await c.bcast(c.rank === 2 ? want : undefined, 2, { into }).catch((err: { code: string }) => err.code);
      return [r === into ? Buffer.compare(Buffer.from(into.buffer), Buffer.from(want.buffer)) : r, into.every((x) => x === -1) || c.rank !== 4];
    });
    expect(out).toEqual(range(5).map((r) => [r === 4 ? 'MPI_ERR_ARG' : 0, true]));
  });
});

describe('bcast without into - a new result per call', () => {
  it('every rank but the root gets an array of its own per call, never written by a later call', async () => {
    for (const n of [40_001, 1 << 17]) {
      const got = await withWorld(4, async (c) => {
        const results = [];
        for (let k = 0; k < 4; k++) results.push((await c.bcast(c.rank === 1 ? new Float64Array(n).fill(k + 0.5) : undefined, 1)) as Float64Array);
        return [
          new Set(results.map((r) => r.buffer)).size,
          results.every((r) => r.byteOffset === 0 && r.buffer.byteLength === n * 8 && r.buffer instanceof ArrayBuffer),
          results.map((r, k) => r.every((x) => x === k + 0.5)),
        ];
      });
      expect(got).toEqual(range(4).map(() => [4, true, [true, true, true, true]]));
    }
  }, 60_000);
});

describe.each([3, 4, 5])('collectives into - %i ranks', (size) => {
  it('bcast and allreduce (every algorithm) give the same bits with and without `into`, at odd sizes', async () => {
    await withWorld(size, async (c) => {
      for (const n of [1, 2049, 65_537, 131_075]) {
        const data = Float64Array.from(range(n), (i) => (i % 97) * 0.125 + c.rank * 1e-3);
        const root = n % size;
        const b = (await c.bcast(c.rank === root ? data : undefined, root)) as Float64Array;
        const bInto = new Float64Array(n);
        expect(await c.bcast(c.rank === root ? data : undefined, root, { into: bInto })).toBe(bInto);
        expect(Buffer.compare(Buffer.from(bInto.buffer), Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(0);
        for (const algorithm of ['ring', 'rabenseifner', 'recursive-doubling'] as const) {
          const fresh = (await c.allreduce(data, Op.SUM, { algorithm })) as Float64Array;
          const into = new Float64Array(n).fill(Number.NaN);
          expect(await c.allreduce(data, Op.SUM, { algorithm, into })).toBe(into);
          expect(Buffer.compare(Buffer.from(into.buffer), Buffer.from(fresh.buffer, fresh.byteOffset, fresh.byteLength))).toBe(0);
          // Twice into the same buffer: nothing of the last call leaks into the next.
          expect(await c.allreduce(data, Op.MAX, { algorithm, into })).toBe(into);
          expect(into[n - 1]).toBe(((n - 1) % 97) * 0.125 + (size - 1) * 1e-3);
        }
      }
    });
  }, 120_000);
});
