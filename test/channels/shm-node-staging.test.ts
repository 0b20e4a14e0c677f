import { describe, expect, it } from 'vitest';
import { KiB, MiB, env, firstBad, nodeMemory, pattern, world } from './shm-world.js';

// Staging areas in the node memory (src/channels/shm/bulk.ts): with a node
// memory, large messages are staged in its pages, not in the pair's own
// buffer; payloads and receive buffers that lie in it (sharedArray()) are
// copied with Wasm memory.copy, others by JS.

describe('shm - staging areas in the node memory', () => {
  it('shared and plain payloads into shared and plain buffers arrive intact; the pairs\' own buffers stay empty', async () => {
    const { memory, array } = nodeMemory();
    const { chans: [a, b], region, close } = await world(2, undefined, memory);
    const before = memory.buffer.byteLength;
    // Every pairing of source and destination, sizes that grow the area (it moves to new pages) and shrink again.
    const cases = [
      [64 * KiB, true, true], [4 * MiB + 5, true, true], [MiB, true, false], [MiB + 1, false, true],
      [3 * MiB, false, false], [200 * KiB, true, true],
    ] as const;
    for (const [i, [n, fromShared, intoShared]] of cases.entries()) {
      const into = intoShared ? array(n + 64) : new Uint8Array(n + 64);
      const got = b!.recv({ source: 0, ctx: 0, tag: i, into });
      await a!.send(1, env(i), fromShared ? array(n, i) : pattern(n, i));
      const m = await got;
      expect([i, m.data.buffer === into.buffer, firstBad(m.data, n, i)]).toEqual([i, true, -1]);
    }
    // The way back, from an offset in a shared array into an offset in another.
    const src = array(2 * MiB, 9).subarray(3, 3 + MiB);
    const dst = array(2 * MiB).subarray(5);
    const back = a!.recv({ source: 1, ctx: 0, tag: 50, into: dst });
    await b!.send(0, env(50), src);
    const m = await back;
    expect(m.data.byteOffset).toBe(dst.byteOffset);
    expect(m.data.byteLength).toBe(MiB);
    expect(m.data.every((x, k) => x === ((k + 3) * 31 + 9) % 256)).toBe(true);
    expect(region.bulk!.map((s) => s?.byteLength ?? 0)).toEqual([0, 0, 0, 0]);
    // The areas took node pages: at least the largest message's (4 MiB, then 8 for the area's power of two).
    expect(memory.buffer.byteLength - before).toBeGreaterThan(8 * MiB);
    await close();
  });

  it('an early large message waits in the node area and goes into its receive\'s shared buffer; receives in any order', async () => {
    const { memory, array } = nodeMemory();
    const { chans: [a, b], region, close } = await world(2, 256 * KiB, memory);
    const sizes = [200 * KiB, 10, 200 * KiB, 40 * KiB, 250 * KiB, 7, 600 * KiB];
    const sends = sizes.map((n, i) => a!.send(1, env(20 + i), i % 3 === 0 ? array(n, i) : pattern(n, i)));
    for (let i = sizes.length - 1; i >= 0; i--) {
      const m = await b!.recv({ source: 0, ctx: 0, tag: 20 + i, into: i % 2 === 0 ? array(MiB) : undefined });
      expect([i, firstBad(m.data, sizes[i]!, i)]).toEqual([i, -1]);
    }
    await Promise.all(sends);
    expect(region.bulk!.map((s) => s?.byteLength ?? 0)).toEqual([0, 0, 0, 0]);
    await close();
  });

  it('three ranks, every pair at once, each message its own pattern', async () => {
    const { memory, array } = nodeMemory();
    const { chans, close } = await world(3, undefined, memory);
    const n = 3 * MiB + 11;
    const recvs = chans.flatMap((c, to) => chans.map((_, from) => (from === to ? undefined : c.recv({ source: from, ctx: 0, tag: 7, into: array(n) }).then((m) => firstBad(m.data, n, from * 3 + to)))));
    await Promise.all(chans.flatMap((c, from) => chans.map((_, to) => (from === to ? undefined : c.send(to, env(7), array(n, from * 3 + to))))));
    expect((await Promise.all(recvs)).filter((x) => x !== undefined)).toEqual([-1, -1, -1, -1, -1, -1]);
    await close();
  });
});
