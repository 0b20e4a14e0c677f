import { describe, expect, it } from 'vitest';
import { createRegion } from '../../src/channels/shm/index.js';
import { copyBytes, copyOf } from '../../src/channels/shm/copy-bytes.js';
import { Ring } from '../../src/channels/shm/ring.js';

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
/** Byte equality without vitest's element-by-element diff (slow on 64 KiB). */
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('copyBytes - copies into and out of shared memory', () => {
  // Both sides of the 8 KiB switch from a set to the Buffer#fill memcpy, at odd offsets.
  for (const n of [1, 8191, 8192, 65537]) {
    it(`copies ${n} bytes from a private buffer into shared memory and back, touching nothing around them`, () => {
      const shared = new Uint8Array(new SharedArrayBuffer(n + 64)).fill(0xee);
      const src = pattern(n, 3);
      copyBytes(shared, 13, src);
      expect(same(shared.subarray(13, 13 + n), src)).toBe(true);
      expect([shared[12], shared[13 + n]]).toEqual([0xee, 0xee]);
      const back = new Uint8Array(n + 8).fill(0xdd);
      copyBytes(back, 5, shared.subarray(13, 13 + n));
      expect(same(back.subarray(5, 5 + n), src)).toBe(true);
      expect([back[4], back[5 + n]]).toEqual([0xdd, 0xdd]);
    });
  }

  it('copies into a view that starts inside its buffer (a slot of the node memory)', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
    const slot = new Uint8Array(memory.buffer, 65536 + 64, 20000);
    const src = pattern(20000, 9);
    copyBytes(slot, 0, src);
    expect(same(new Uint8Array(memory.buffer, 65536 + 64, 20000), src)).toBe(true);
    expect(new Uint8Array(memory.buffer, 65536, 64).every((b) => b === 0)).toBe(true);
  });

  it('throws, writing nothing, where the bytes run past the end of the view (although its buffer goes on)', () => {
    const buffer = new SharedArrayBuffer(64 * 1024);
    const view = new Uint8Array(buffer, 0, 16 * 1024);
    expect(() => copyBytes(view, 8 * 1024, new Uint8Array(10 * 1024).fill(1))).toThrow(RangeError);
    expect(new Uint8Array(buffer).every((b) => b === 0)).toBe(true);
  });

  it('copies overlapping ranges of one buffer as a memmove does', () => {
    const a = new Uint8Array(new SharedArrayBuffer(40000));
    a.set(pattern(30000, 1));
    const want = a.slice(0, 30000);
    copyBytes(a, 10000, a.subarray(0, 30000));
    expect(same(a.subarray(10000, 40000), want)).toBe(true);
  });

  it('copyOf gives a private copy of shared bytes', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(70000));
    shared.set(pattern(70000, 5));
    const c = copyOf(shared.subarray(100, 60100));
    expect(c.buffer).toBeInstanceOf(ArrayBuffer);
    expect(same(c, pattern(70000, 5).subarray(100, 60100))).toBe(true);
  });

  it('a ring carries large messages whole across its wrap-around', () => {
    const region = createRegion([0, 1], 32 * 1024);
    const writer = new Ring(region, 0, 1);
    const reader = new Ring(region, 0, 1);
    for (let k = 0; k < 4; k++) {
      const msg = pattern(20000 + k, k);
      writer.write(msg);
      writer.publish();
      const got = new Uint8Array(msg.length + 2);
      reader.read(got, msg.length, 1);
      reader.release();
      expect(same(got.subarray(1, 1 + msg.length), msg)).toBe(true);
    }
  });
});
