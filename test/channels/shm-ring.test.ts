import { describe, expect, it } from 'vitest';
import { createRegion } from '../../src/channels/shm/index.js';
import { Ring } from '../../src/channels/shm/ring.js';

describe('shm ring - a writer waiting for room', () => {
  it('goes on at once when the reader freed room after the writer found the ring full (no lost wake-up)', async () => {
    const region = createRegion([0, 1], 1024);
    const writer = new Ring(region, 0, 1);
    const reader = new Ring(region, 0, 1);
    writer.write(new Uint8Array(1024).fill(7));
    writer.publish();
    expect(writer.free()).toBe(0);
    // The reader empties the ring before the writer raises its flag: nobody is told.
    const got = new Uint8Array(1024);
    reader.read(got, reader.available());
    reader.release();
    // A writer that now waits for the tail to move again would wait for ever: the reader has nothing left to release.
    const outcome = await Promise.race([writer.room().then(() => 'room'), new Promise((r) => setTimeout(() => r('hung'), 1000))]);
    expect(outcome).toBe('room');
    expect([writer.free(), got.every((b) => b === 7)]).toEqual([1024, true]);
  });

  it('fits(): room by the last look at the reader is room; with too little, the writer looks again and sees what the reader freed', () => {
    const region = createRegion([0, 1], 1024);
    const writer = new Ring(region, 0, 1);
    const reader = new Ring(region, 0, 1);
    writer.write(new Uint8Array(1000).fill(3));
    writer.publish();
    expect([writer.fits(24), writer.fits(25)]).toEqual([true, false]);
    reader.read(undefined, 600);
    reader.release();
    expect([writer.fits(624), writer.fits(625)]).toEqual([true, false]);
    writer.write(new Uint8Array(624));
    expect(writer.free()).toBe(0);
  });

  it('waits while the room is less than it asks for (a frame header goes in whole), and goes on once the reader frees enough', async () => {
    const region = createRegion([0, 1], 1024);
    const writer = new Ring(region, 0, 1);
    const reader = new Ring(region, 0, 1);
    writer.write(new Uint8Array(1020));
    writer.publish();
    expect(writer.free()).toBe(4);
    // 4 bytes free, 20 wanted: resolving now would make the writer loop without writing.
    let done = false;
    const wait = writer.room(20).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    reader.read(undefined, 100);
    reader.release();
    await wait;
    expect(writer.free()).toBe(104);
  });
});
