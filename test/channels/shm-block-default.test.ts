import { once } from 'node:events';
import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRegion, type ShmRegion } from '../../src/channels/shm/index.js';

// Whether thread ranks block in Atomics.wait by default (no blockUs given):
// yes where every rank of the job is a thread of the process, no where some
// are elsewhere (their messages, through sockets, need the event loop).
// Real worker threads running the built channel (dist/), a real TCP socket.
const dist = new URL('../../dist/channels/shm/index.js', import.meta.url).href;

const RANK = `
const { workerData: d, parentPort } = require('node:worker_threads');
const net = require('node:net');
(async () => {
  const { ShmChannel } = await import(d.dist);
  const c = await ShmChannel.create({ job: 'j', rank: d.rank, size: d.size, region: d.region });
  const env = { ctx: 0, tag: 1, kind: 0 };
  const out = {};
  if (d.scenario === 'pingpong') {
    // Event loop turns during a ping-pong: a waitAsync wake-up is one per message, blocking waits chain without.
    let turns = 0;
    let stop = false;
    const turn = () => { turns++; if (!stop) setImmediate(turn); };
    setImmediate(turn);
    for (let i = 0; i < d.rounds; i++) {
      if (d.rank === 0) {
        await c.send(1, env, new Uint8Array([i]));
        await c.recv({ source: 1, ctx: 0, tag: 1 });
      } else await c.send(0, env, (await c.recv({ source: 0, ctx: 0, tag: 1 })).data);
    }
    stop = true;
    out.turns = turns;
  } else if (d.scenario === 'first-wait') {
    // Rank 1 posts a receive, then queues a callback on its event loop; rank 0 sends once that callback ran.
    const flag = new Int32Array(d.flag);
    if (d.rank === 1) {
      const t0 = performance.now();
      const got = c.recv({ source: 0, ctx: 0, tag: 1 });
      setImmediate(() => {
        out.loopAfterMs = performance.now() - t0;
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
      });
      out.got = (await got).data[0];
    } else {
      while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 1000);
      await c.send(1, env, new Uint8Array([5]));
    }
  } else if (d.scenario === 'socket') {
    // Rank 0 serves a socket while it waits for rank 1, which sends only once the socket's echoes are done.
    if (d.rank === 0) {
      const server = net.createServer((s) => s.on('data', (b) => s.write(b)));
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const got = c.recv({ source: 1, ctx: 0, tag: 1 });
      parentPort.postMessage({ port: server.address().port });
      out.got = (await got).data[0];
      server.close();
    } else {
      await new Promise((r) => parentPort.once('message', r));
      await c.send(0, env, new Uint8Array([7]));
    }
  }
  await c.close();
  parentPort.postMessage(out);
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

function rankThread(region: ShmRegion, rank: number, size: number, scenario: string, extra: Record<string, unknown> = {}): { worker: Worker; done: Promise<Record<string, unknown>> } {
  const worker = new Worker(RANK, { eval: true, workerData: { dist, region, rank, size, scenario, ...extra } });
  const done = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.on('message', (m: Record<string, unknown>) => {
      if (!('port' in m)) resolve(m);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`rank ${rank} exited with ${code} before answering`)));
  });
  return { worker, done };
}

async function pingpongTurns(size: number): Promise<number> {
  const rounds = 400;
  const region = createRegion([0, 1]);
  const r = await Promise.all([0, 1].map((rank) => rankThread(region, rank, size, 'pingpong', { rounds }).done));
  return Math.min(...r.map((x) => x.turns as number)) / rounds;
}

describe('shm - blocking by default', { timeout: 120_000 }, () => {
  it('every rank a thread of this process: a wait blocks its thread (and event loop) for its whole bound, 5 ms', async () => {
    const region = createRegion([0, 1]);
    const flag = new SharedArrayBuffer(4);
    const [, waiter] = await Promise.all([0, 1].map((rank) => rankThread(region, rank, 2, 'first-wait', { flag }).done));
    expect(waiter!.got).toBe(5);
    // The wait was queued before the callback, and the message comes only after it: the callback waits the bound out.
    // (A lower bound: load only delays the callback more. On the event loop alone it runs at once.)
    expect(waiter!.loopAfterMs).toBeGreaterThanOrEqual(4.9);
  });

  it('a rank elsewhere in the job: waits go to the event loop (a turn per message)', async () => {
    expect(await pingpongTurns(3)).toBeGreaterThan(0.5);
  });

  it('a rank elsewhere in the job: a rank waiting for a thread peer still serves its socket', async () => {
    const region = createRegion([0, 1]);
    const [r0, r1] = [0, 1].map((rank) => rankThread(region, rank, 3, 'socket'));
    const [{ port }] = (await once(r0!.worker, 'message')) as [{ port: number }];
    const s = connect(port, '127.0.0.1');
    await once(s, 'connect');
    for (let i = 0; i < 20; i++) {
      s.write(Buffer.from([i]));
      const [b] = (await once(s, 'data')) as [Buffer];
      expect(b[0]).toBe(i);
    }
    s.destroy();
    r1!.worker.postMessage('go');
    expect(await r0!.done).toEqual({ got: 7 });
    expect(await r1!.done).toEqual({});
  });
});
