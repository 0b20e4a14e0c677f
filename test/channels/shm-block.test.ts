import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ShmChannel, createRegion, type ShmRegion } from '../../src/channels/shm/index.js';

// The blocking wait (blockUs) only runs where ranks are threads of their own:
// these ranks are real worker threads running the built channel (dist/).
const dist = new URL('../../dist/channels/shm/index.js', import.meta.url).href;

const RANK = `
const { workerData: d, parentPort } = require('node:worker_threads');
// Counts this thread's wake-ups of waiters on a doorbell (word 0 of a control block).
let bellNotifies = 0;
const notify = Atomics.notify;
Atomics.notify = (a, i, n) => {
  if (i % 16 === 0 && a.buffer === d.region.sab) bellNotifies++;
  return notify(a, i, n);
};
(async () => {
  const { ShmChannel } = await import(d.dist);
  const c = await ShmChannel.create({ job: 'j', rank: d.rank, size: d.size, region: d.region, blockUs: d.blockUs, spinUs: d.spinUs });
  const env = { ctx: 0, tag: 1, kind: 0 };
  const peer = 1 - d.rank;
  const out = {};
  if (d.scenario === 'bulk') {
    // Both ways at once, larger than the ring many times over, and small messages between.
    for (let round = 0; round < 3; round++) {
      const big = new Uint8Array(d.bytes).map((_, i) => (i * 7 + round + d.rank) & 255);
      const [, got] = await Promise.all([c.send(peer, env, big), c.recv({ source: peer, ctx: 0, tag: 1 })]);
      out['bad' + round] = got.data.findIndex((x, i) => x !== ((i * 7 + round + peer) & 255));
      for (let i = 0; i < 50; i++) {
        if (d.rank === 0) {
          await c.send(1, { ...env, tag: 2 }, new Uint8Array([i]));
          out.echo = (await c.recv({ source: 1, ctx: 0, tag: 2 })).data[0];
        } else await c.send(0, { ...env, tag: 2 }, (await c.recv({ source: 0, ctx: 0, tag: 2 })).data);
      }
    }
    if (d.rank === 0) {
      // One way only: the sender is woken by the reader freeing room, nothing else.
      await c.send(1, env, new Uint8Array(d.bytes).fill(9));
      await c.recv({ source: 1, ctx: 0, tag: 3 });
    } else {
      out.oneWay = (await c.recv({ source: 0, ctx: 0, tag: 1 })).data.every((x) => x === 9);
      await c.send(0, { ...env, tag: 3 }, new Uint8Array(1));
    }
  } else if (d.scenario === 'awaits') {
    // Each rank posts its receive, then sends only after a chain of awaits: a wait that blocked before them would never end.
    const hop = async (n) => { for (let i = 0; i < n; i++) await null; };
    for (let i = 0; i < 20; i++) {
      const got = c.recv({ source: peer, ctx: 0, tag: 1 });
      await hop(5);
      await c.send(peer, env, new Uint8Array([i]));
      out.last = (await got).data[0];
    }
  } else if (d.scenario === 'busy') {
    // A ping-pong for 300 ms, every wait answered within blockUs: the event loop must still run (timers) now and then.
    let ticks = 0;
    const t = setInterval(() => ticks++, 5);
    const end = performance.now() + 300;
    let rounds = 0;
    for (let go = 1; go; rounds++) {
      if (d.rank === 0) {
        go = performance.now() < end ? 1 : 0;
        await c.send(1, env, new Uint8Array([go]));
        await c.recv({ source: 1, ctx: 0, tag: 1 });
      } else {
        go = (await c.recv({ source: 0, ctx: 0, tag: 1 })).data[0];
        await c.send(0, env, new Uint8Array(1));
      }
    }
    clearInterval(t);
    out.ticks = ticks;
    out.rounds = rounds;
  } else if (d.scenario === 'handover') {
    // Rank 1 sleeps past blockUs each round, on its event loop: every drive gives up and the watcher
    // (waitAsync on the bell) must carry on: rank 0's first large message parks early in the staging area,
    // its second waits for that room, and rank 1's channel must give the room up while rank 1 sleeps.
    const big = (k, round) => new Uint8Array(d.bytes).map((_, i) => (i * 3 + k + round) & 255);
    let rounds = 0;
    for (let round = 0; round < 20; round++) {
      if (d.rank === 0) {
        await Promise.all([c.send(1, env, big(1, round)), c.send(1, env, big(2, round))]);
        await c.recv({ source: 1, ctx: 0, tag: 2 });
      } else {
        await new Promise((r) => setTimeout(r, 3));
        for (const k of [1, 2]) {
          const got = (await c.recv({ source: 0, ctx: 0, tag: 1 })).data;
          const want = big(k, round);
          if (got.byteLength !== want.byteLength || got.some((x, i) => x !== want[i])) out.bad = round;
        }
        await c.send(0, { ...env, tag: 2 }, new Uint8Array(1));
      }
      rounds++;
    }
    out.rounds = rounds;
  } else if (d.scenario === 'quiet') {
    // Both ranks spin (for ever, here): neither ever sleeps on its bell, so ringing it needs no notify. Counted once
    // the watchers armed at the start have been woken and gone (20 ms: drives let the event loop run every 1 ms).
    // Rank 0 sends 1 while warming up, 2 while counting, 0 to stop.
    if (d.rank === 0) {
      const ping = async (phase) => {
        await c.send(1, env, new Uint8Array([phase]));
        return (await c.recv({ source: 1, ctx: 0, tag: 1 })).data[0];
      };
      const t0 = performance.now();
      for (let i = 0; i < 100 || performance.now() - t0 < 20; i++) await ping(1);
      bellNotifies = 0;
      let echoed = 0;
      for (let i = 0; i < 200; i++) echoed += (await ping(2)) === 2 ? 1 : 0;
      await c.send(1, env, new Uint8Array([0]));
      out.echoed = echoed;
    } else {
      for (let counting = false; ; ) {
        const got = (await c.recv({ source: 0, ctx: 0, tag: 1 })).data;
        if (got[0] === 0) break;
        if (got[0] === 2 && !counting) {
          counting = true;
          bellNotifies = 0;
        }
        await c.send(0, env, got);
      }
    }
    out.notifies = bellNotifies;
  } else if (d.scenario === 'delays') {
    // Rank 1 answers at once, within the spin, within the block, and after it (the event loop's watcher): every answer wakes rank 0.
    const busy = (us) => { const end = performance.now() + us / 1000; while (performance.now() < end); };
    let rounds = 0;
    for (let i = 0; i < 60; i++) {
      if (d.rank === 0) {
        await c.send(1, env, new Uint8Array([i]));
        if ((await c.recv({ source: 1, ctx: 0, tag: 1 })).data[0] !== i) break;
      } else {
        const got = (await c.recv({ source: 0, ctx: 0, tag: 1 })).data;
        if (i % 4 === 1) busy(20);
        else if (i % 4 === 2) busy(400);
        else if (i % 4 === 3) await new Promise((r) => setTimeout(r, 3));
        await c.send(0, env, got);
      }
      rounds++;
    }
    out.rounds = rounds;
  } else if (d.scenario === 'timers') {
    // Rank 1 waits 300 ms for rank 0: its timers must still run meanwhile.
    if (d.rank === 0) {
      await new Promise((r) => setTimeout(r, 300));
      await c.send(1, env, new Uint8Array(1));
    } else {
      let ticks = 0;
      const t = setInterval(() => ticks++, 10);
      await c.recv({ source: 0, ctx: 0, tag: 1 });
      clearInterval(t);
      out.ticks = ticks;
    }
  }
  await c.close();
  parentPort.postMessage(out);
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

/** Longer than any test's time limit: a wait that depends on the event loop would fail the test. */
const FOREVER_US = 1e9;

function rankThread(region: ShmRegion, rank: number, scenario: string, blockUs: number, bytes = 0, spinUs = 0): Promise<Record<string, unknown>> {
  const w = new Worker(RANK, { eval: true, workerData: { dist, region, rank, size: 2, scenario, blockUs, bytes, spinUs } });
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`rank ${rank} exited with ${code} before answering`)));
  });
}

describe('shm - blocking waits in worker threads', { timeout: 120_000 }, () => {
  it('sends and receives that block (for ever, here) still move messages larger than the ring, both ways and one way', async () => {
    const region = createRegion([0, 1], 4096);
    const r = await Promise.all([0, 1].map((rank) => rankThread(region, rank, 'bulk', FOREVER_US, 256 * 1024)));
    expect(r[0]).toEqual({ bad0: -1, bad1: -1, bad2: -1, echo: 49 });
    expect(r[1]).toEqual({ bad0: -1, bad1: -1, bad2: -1, oneWay: true });
  });

  it('a long wait blocks for blockUs at most: the waiting rank runs its timers meanwhile', async () => {
    const region = createRegion([0, 1]);
    const [, waiter] = await Promise.all([0, 1].map((rank) => rankThread(region, rank, 'timers', 200)));
    expect(waiter!.ticks).toBeGreaterThan(0);
  });

  it('waits that outlast blockUs hand over to the event loop: large messages parked early and a writer waiting for their room still go through', async () => {
    const region = createRegion([0, 1]);
    const r = await Promise.all([0, 1].map((rank) => rankThread(region, rank, 'handover', 1000, 256 * 1024)));
    expect(r).toEqual([{ rounds: 20 }, { rounds: 20 }]);
  });

  it('a wait blocks only once the microtasks are done: sends after awaits go out first', async () => {
    const region = createRegion([0, 1]);
    const r = await Promise.all([0, 1].map((rank) => rankThread(region, rank, 'awaits', FOREVER_US)));
    expect(r).toEqual([{ last: 19 }, { last: 19 }]);
  });

  it('blocking waits answered one after another still let the event loop run (at least every millisecond)', async () => {
    const region = createRegion([0, 1]);
    const r = await Promise.all([0, 1].map((rank) => rankThread(region, rank, 'busy', 200_000)));
    for (const side of r) {
      expect(side.rounds).toBeGreaterThan(10);
      // A 5 ms interval over 300 ms: ~60 ticks where the loop runs freely; none if the drives never yield.
      expect(side.ticks).toBeGreaterThan(10);
    }
  });

  it('a bell rung while its rank spins or runs wakes nobody: no Atomics.notify per message between spinning ranks', async () => {
    const region = createRegion([0, 1]);
    const r = await Promise.all([0, 1].map((rank) => rankThread(region, rank, 'quiet', 0, 0, FOREVER_US)));
    expect(r[0]!.echoed).toBe(200);
    // 200 messages each way; the old channel notified on every one.
    for (const side of r) expect(side.notifies).toBeLessThan(20);
  });

  it('answers that come during the spin, during the block and after it (the event loop) all wake the receiver: no lost wake-up', async () => {
    const region = createRegion([0, 1]);
    const r = await Promise.all([0, 1].map((rank) => rankThread(region, rank, 'delays', 1000, 0, 50)));
    expect(r).toEqual([{ rounds: 60 }, { rounds: 60 }]);
  });

  it('ranks in one thread never block on each other, whatever blockUs', { timeout: 30_000 }, async () => {
    const region = createRegion([0, 1]);
    const job = randomUUID();
    const [a, b] = await Promise.all([0, 1].map((rank) => ShmChannel.create({ job, rank, size: 2, region, blockUs: 2_000_000 })));
    const env = { ctx: 0, tag: 1, kind: 0 };
    for (let i = 0; i < 20; i++) {
      const got = b!.recv({ source: 0, ctx: 0, tag: 1 });
      // The receive waits across a turn of the event loop: a blocking wait then would last its 2 s (this thread is the sender).
      await new Promise((r) => setTimeout(r, 1));
      await a!.send(1, env, new Uint8Array([i]));
      expect((await got).data[0]).toBe(i);
    }
    await Promise.all([a!.close(), b!.close()]);
  });
});
