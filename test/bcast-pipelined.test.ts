import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kind } from '../src/codec.js';
import { internals } from '../src/comm/communicator.js';
import { bcastBinomial, RELAYED_KIND } from '../src/collectives/bcast.js';
import { PIPELINE_MIN_BYTES as DEFAULT_MIN_BYTES, pipelining, SEGMENT_BYTES, SEGMENTED_KIND } from '../src/collectives/bcast-pipelined.js';
import type { CollContext } from '../src/collectives/context.js';
import { NUDGE_KIND } from '../src/collectives/nudge.js';
import { Op } from '../src/index.js';
import { range, settleWorld, withWorld } from './helpers/world.js';

/** The segmented path from 1 MiB on here (the default threshold would make every payload 16 MiB and the file slow). */
const PIPELINE_MIN_BYTES = 1024 * 1024;
beforeAll(() => {
  pipelining.minBytes = PIPELINE_MIN_BYTES;
});
afterAll(() => {
  pipelining.minBytes = DEFAULT_MIN_BYTES;
});

/** Large payloads, none a whole number of segments. */
const N_U8 = PIPELINE_MIN_BYTES + SEGMENT_BYTES + 12345;
/** Made once per root: every rank compares with the same arrays. */
const memo = <T>(make: (root: number) => T) => {
  const m = new Map<number, T>();
  return (root: number) => m.get(root) ?? (m.set(root, make(root)), m.get(root)!);
};
const u8 = memo((root) => {
  const a = new Uint8Array(N_U8);
  for (let i = 0; i < a.length; i++) a[i] = (i * 7 + root) & 0xff;
  return a;
});
const f64 = memo((root) => {
  const a = new Float64Array(PIPELINE_MIN_BYTES / 8 + 1001);
  for (let i = 0; i < a.length; i++) a[i] = i * 0.25 - root;
  return a;
});
const structured = memo((root) => ({ root, words: range(30_000).map((i) => `w${i}:${root}`) }));

/** Same type and bytes (toEqual walks large arrays element by element: far too slow here). */
function expectSame(got: unknown, want: ArrayBufferView): void {
  expect((got as object)?.constructor).toBe(want.constructor);
  const g = got as ArrayBufferView;
  expect(Buffer.compare(new Uint8Array(g.buffer, g.byteOffset, g.byteLength), new Uint8Array(want.buffer, want.byteOffset, want.byteLength))).toBe(0);
}

describe.each([1, 2, 3, 4, 5, 6, 7])('segmented bcast - %i ranks', (size) => {
  it('every root: large Uint8Array, Float64Array, Buffer and structured values', async () => {
    await withWorld(size, async (c) => {
      for (const root of range(size)) {
        const me = c.rank === root;
        expectSame(await c.bcast(me ? u8(root) : undefined, root), u8(root));
        expectSame(await c.bcast(me ? f64(root) : undefined, root), f64(root));
        expectSame(await c.bcast(me ? Buffer.from(u8(root + 100)) : undefined, root), Buffer.from(u8(root + 100)));
        const s = (await c.bcast(me ? structured(root) : undefined, root)) as ReturnType<typeof structured>;
        expect(s.root).toBe(root);
        expect(s.words.join()).toBe(structured(root).words.join());
        // A small one right after a segmented one: the same tag, nothing left posted.
        expect(await c.bcast(me ? new Int16Array([root, -root]) : undefined, root)).toEqual(new Int16Array([root, -root]));
      }
    });
  });
});

describe.each([1, 3, 4])('bcast into - %i ranks', (size) => {
  it('writes the result into `into`, small and segmented, from every root', async () => {
    await withWorld(size, async (c) => {
      for (const root of range(size)) {
        for (const want of [f64(root), new Float64Array([root, 0.5])]) {
          const into = new Float64Array(want.length);
          const got = await c.bcast(c.rank === root ? want : undefined, root, { into });
          expect(got).toBe(into);
          expectSame(into, want);
        }
      }
    });
  });

  it('an `into` of another type or length fails that rank only, after the others got the data', async () => {
    const out = await settleWorld(size, async (c) => {
      const bad = c.rank === size - 1 ? { into: new Float32Array(f64(0).length) } : {};
      const got = await c.bcast(c.rank === 0 ? f64(0) : undefined, 0, bad).catch((err: { code: string }) => err.code);
      // The next collective still lines up.
      return [got === 'MPI_ERR_ARG' ? got : Buffer.compare(Buffer.from((got as Float64Array).buffer), Buffer.from(f64(0).buffer)), await c.allreduce(1, Op.SUM)];
    });
    expect(out.map((r) => r.status === 'fulfilled' && r.value)).toEqual(range(size).map((r) => [r === size - 1 ? 'MPI_ERR_ARG' : 0, size]));
  });
});

describe('segmented bcast - the messages', () => {
  /** Runs bcastBinomial on a real communicator's collective context, recording what each rank sends. */
  async function record(size: number, bytes: number, segment: number) {
    const sent: { from: number; to: number; kind: number; bytes: number }[] = [];
    const got = await withWorld(size, (comm) =>
      internals(comm).collective('intercomm', {}, async (c: CollContext) => {
        const send: CollContext['send'] = (peer, msg) => (sent.push({ from: c.rank, to: peer, kind: msg.kind, bytes: msg.bytes.byteLength }), c.send(peer, msg));
        // The context is a class instance (private members): a proxy that binds its methods, not a spread copy.
        const spy = new Proxy(c, { get: (t, k) => (k === 'send' ? send : typeof Reflect.get(t, k) === 'function' ? Reflect.get(t, k).bind(t) : Reflect.get(t, k)) });
        const payload = Uint8Array.from(range(bytes), (i) => i & 0xff);
        const out = await bcastBinomial(spy, 1, c.rank === 1 ? { kind: Kind.BUFFER, bytes: payload } : undefined, { segmentBytes: segment });
        return out.kind === Kind.BUFFER && Buffer.compare(out.bytes, payload) === 0;
      }),
    );
    return { sent, got };
  }

  it('from PIPELINE_MIN_BYTES on, a header then the payload in segments down every edge of the tree', async () => {
    const bytes = PIPELINE_MIN_BYTES + 1000;
    const { sent, got } = await record(4, bytes, 64 * 1024);
    expect(got).toEqual([true, true, true, true]);
    const segments = Math.ceil(bytes / (64 * 1024));
    // Root 1 sends to 3 and 2, rank 3 to 0: each edge carries the header and every segment.
    // Rank 0 waits for the root's first message on 4 ranks (a small payload comes straight from the root):
    // here an empty one that sends it to rank 3 (bcast.ts, RELAYED_KIND).
    expect(sent.filter((s) => s.from === 1 && s.to === 0)).toEqual([{ from: 1, to: 0, kind: RELAYED_KIND, bytes: 0 }]);
    for (const [from, to] of [[1, 3], [1, 2], [3, 0]]) {
      const edge = sent.filter((s) => s.from === from && s.to === to);
      expect(edge.map((s) => s.kind)).toEqual([SEGMENTED_KIND, ...range(segments).map(() => Kind.BUFFER)]);
      expect(edge.slice(1).reduce((n, s) => n + s.bytes, 0)).toBe(bytes);
      expect(Math.max(...edge.slice(1).map((s) => s.bytes))).toBe(64 * 1024);
    }
    expect(sent).toHaveLength(3 * (segments + 1) + 1);
  });

  it('below PIPELINE_MIN_BYTES, and on two ranks, one whole message per edge', async () => {
    const small = await record(4, PIPELINE_MIN_BYTES - 1, 64 * 1024);
    expect(small.got).toEqual([true, true, true, true]);
    expect(small.sent.map((s) => s.kind)).toEqual([RELAYED_KIND, Kind.BUFFER, Kind.BUFFER, Kind.BUFFER]);
    const two = await record(2, PIPELINE_MIN_BYTES * 2, 64 * 1024);
    expect(two.sent).toEqual([{ from: 1, to: 0, kind: Kind.BUFFER, bytes: PIPELINE_MIN_BYTES * 2 }]);
  });

  it('its internal kinds are none of the user-data kinds, and no two internal kinds are the same', () => {
    const internal = [Kind.RELAYED, Kind.NUDGE, Kind.SEGMENTED, Kind.BUNDLE, Kind.ERROR];
    expect([SEGMENTED_KIND, RELAYED_KIND, NUDGE_KIND]).toEqual([Kind.SEGMENTED, Kind.RELAYED, Kind.NUDGE]);
    expect(new Set(internal).size).toBe(internal.length);
    for (const k of internal) expect(k).toBeGreaterThan(Kind.STRUCTURED);
  });
});
