import { describe, expect, it } from 'vitest';
import { ANY_SOURCE, ANY_TAG, Request, Status, testAll, waitAll, waitAny } from '../src/index.js';
import { range, withWorld } from './helpers/world.js';

describe('nonblocking - isend, irecv and Requests', () => {
  it('1000 concurrent isend/irecv pairs across 4 ranks: nothing lost or reordered per (source, tag)', async () => {
    const PER_PEER = 1000;
    await withWorld(4, async (c) => {
      const peers = range(4).filter((r) => r !== c.rank);
      // Post every receive first, then every send, none awaited until the end.
      const recvs = peers.flatMap((s) => range(PER_PEER).map((i) => ({ s, i, req: c.irecv<Float64Array>(s, { tag: i % 3 }) })));
      const sends = peers.flatMap((d) => range(PER_PEER).map((i) => c.isend(Float64Array.of(c.rank, i, i % 3), d, { tag: i % 3 })));
      await waitAll(sends);
      const got = await waitAll(recvs.map((r) => r.req));
      // Per (source, tag), the k-th receive got the k-th message sent with that tag.
      const seen = new Map<string, number[]>();
      got.forEach((m, k) => {
        const { s } = recvs[k]!;
        expect(m[0]).toBe(s);
        const key = `${s}/${m[2]}`;
        seen.set(key, [...(seen.get(key) ?? []), m[1]!]);
        expect(recvs[k]!.req.status).toMatchObject({ source: s, tag: m[2], count: 3 });
      });
      for (const [key, order] of seen) expect(order, key).toEqual([...order].sort((a, b) => a - b));
      expect([...seen.values()].reduce((a, l) => a + l.length, 0)).toBe(3 * PER_PEER);
    });
  });

  it('test() never blocks; value and status once done', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) {
        const r = c.irecv<string>(1, { tag: 2 });
        expect(r.test()).toBe(false);
        await c.send('go', 1);
        const v = await r.wait();
        expect(r.test()).toBe(true);
        expect(r.value).toBe(v);
        expect(v).toBe('payload');
        expect(r.status).toMatchObject({ source: 1, tag: 2, count: expect.any(Number) });
      } else {
        await c.recv(0);
        await c.isend('payload', 0, { tag: 2 }).wait();
      }
    });
  });

  it('waitAny resolves to the first completed request; testAll checks all', async () => {
    await withWorld(3, async (c) => {
      if (c.rank === 0) {
        const reqs = [c.irecv(1), c.irecv(2)];
        expect(testAll(reqs)).toBe(false);
        await c.send('only 2', 2);
        const first = await waitAny(reqs);
        expect(first).toEqual({ index: 1, value: 'from 2' });
        await c.send('now 1', 1);
        await waitAll(reqs);
        expect(testAll(reqs)).toBe(true);
      } else {
        await c.recv(0);
        await c.send(`from ${c.rank}`, 0);
      }
    });
  });

  it('a cancelled receive rejects with FMI_ABORTED and takes no message', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) {
        const r = c.irecv(1);
        r.cancel();
        await expect(r.wait()).rejects.toMatchObject({ code: 'FMI_ABORTED' });
        expect(r.status.cancelled).toBe(true);
        expect(() => r.test()).toThrow();
        await c.send('ready', 1);
        expect(await c.recv(1)).toBe('the message');
      } else {
        await c.recv(0);
        await c.send('the message', 0);
      }
    });
  });

  it('a failed isend surfaces at wait, not as an unhandled rejection', async () => {
    await withWorld(1, async (c) => {
      const r: Request<void> = c.isend(() => 1, 0);
      await expect(r.wait()).rejects.toMatchObject({ code: 'MPI_ERR_TYPE' });
    });
  });
});

describe('nonblocking - wildcards and probe', () => {
  it('ANY_SOURCE and ANY_TAG receives report the real source and tag', async () => {
    await withWorld(4, async (c) => {
      if (c.rank === 0) {
        const got = new Map<number, number>();
        for (let i = 0; i < 3; i++) {
          const st = new Status();
          const v = await c.recv<Int32Array>(ANY_SOURCE, { tag: ANY_TAG, status: st });
          expect(v[0]).toBe(st.source);
          expect(st.tag).toBe(st.source * 10);
          expect(st.count).toBe(st.source + 1);
          expect(st.bytes).toBe(4 * (st.source + 1));
          got.set(st.source, st.tag);
        }
        expect([...got.keys()].sort()).toEqual([1, 2, 3]);
      } else {
        await c.send(new Int32Array(c.rank + 1).fill(c.rank), 0, { tag: c.rank * 10 });
      }
    });
  });

  it('ANY_SOURCE with a fixed tag waits for that tag only', async () => {
    await withWorld(3, async (c) => {
      if (c.rank === 0) {
        const st = new Status();
        expect(await c.recv(ANY_SOURCE, { tag: 7, status: st })).toBe('seven');
        expect(st.source).toBe(2);
        expect(await c.recv(1, { tag: 3 })).toBe('three');
      } else if (c.rank === 1) await c.send('three', 0, { tag: 3 });
      else await c.send('seven', 0, { tag: 7 });
    });
  });

  it('probe returns the size before the receive, and iprobe does not block', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) {
        expect(c.iprobe(1)).toBeUndefined();
        const st = await c.probe(ANY_SOURCE, { tag: ANY_TAG });
        expect(st).toMatchObject({ source: 1, tag: 4, count: 1000, bytes: 8000 });
        const buf = new Float64Array(st.count);
        const got = await c.recv(st.source, { tag: st.tag, into: buf });
        expect(got.length).toBe(1000);
        expect(got[999]).toBe(999);
        await c.send('next', 1);
        // iprobe sees a message once it has arrived, without taking it.
        let seen: Status | undefined;
        while (!(seen = c.iprobe(1, { tag: 5 }))) await new Promise((r) => setTimeout(r, 2));
        expect(seen).toMatchObject({ source: 1, tag: 5 });
        expect(await c.recv(1, { tag: 5 })).toBe('probed');
      } else {
        await c.send(Float64Array.from(range(1000)), 0, { tag: 4 });
        await c.recv(0);
        await c.send('probed', 0, { tag: 5 });
      }
    });
  });

  it('sendrecv around a ring does not deadlock', async () => {
    const n = 5;
    const out = await withWorld(n, (c) => c.sendrecv<Float64Array>(new Float64Array(100_000).fill(c.rank), (c.rank + 1) % n, (c.rank - 1 + n) % n));
    out.forEach((v, r) => expect(v[99_999]).toBe((r - 1 + n) % n));
  });
});

describe('nonblocking - synchronous sends', () => {
  it('a synchronous send completes only once the receiver has matched it', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) {
        const sync = c.isend(Float64Array.of(1, 2, 3), 1, { tag: 5, synchronous: true });
        await c.isend('plain', 1, { tag: 6 }).wait(); // a standard send completes without a receive
        expect(await c.recv(1, { tag: 9 })).toBe('arrived, not received');
        expect(sync.test()).toBe(false);
        await c.send('go', 1, { tag: 8 });
        await sync.wait();
        expect(await c.recv(1, { tag: 9 })).toBe('received');
      } else {
        // The message is here (probe) but no receive has taken it.
        const st = await c.probe(0, { tag: 5 });
        expect(st).toMatchObject({ source: 0, tag: 5, count: 3 });
        await c.send('arrived, not received', 0, { tag: 9 });
        await c.recv(0, { tag: 8 });
        const status = new Status();
        expect(await c.recv(ANY_SOURCE, { tag: ANY_TAG, status })).toEqual(Float64Array.of(1, 2, 3));
        expect(status).toMatchObject({ source: 0, tag: 5, count: 3 });
        expect(await c.recv(0, { tag: 6 })).toBe('plain');
        await c.send('received', 0, { tag: 9 });
      }
    });
  });

  it('each acknowledgement reaches its own send when the receiver matches out of order', async () => {
    await withWorld(3, async (c) => {
      if (c.rank === 0) return;
      if (c.rank === 1) {
        const a = c.isend('first', 2, { tag: 1, synchronous: true });
        const b = c.isend('second', 2, { tag: 2, synchronous: true });
        const d = c.isend('third', 2, { tag: 1, synchronous: true });
        expect(await c.recv(2, { tag: 7 })).toBe('took tag 2');
        await b.wait();
        expect([a.test(), d.test()]).toEqual([false, false]);
        await c.send('next', 2, { tag: 7 });
        await a.wait();
        expect(await c.recv(2, { tag: 7 })).toBe('took tag 1 once');
        expect(d.test()).toBe(false);
        await c.send('next', 2, { tag: 7 });
        await d.wait();
      } else {
        await c.probe(1, { tag: 1 });
        await c.probe(1, { tag: 2 });
        expect(await c.recv(ANY_SOURCE, { tag: 2 })).toBe('second');
        await c.send('took tag 2', 1, { tag: 7 });
        await c.recv(1, { tag: 7 });
        expect(await c.recv(1, { tag: 1 })).toBe('first');
        await c.send('took tag 1 once', 1, { tag: 7 });
        await c.recv(1, { tag: 7 });
        expect(await c.recv(1, { tag: ANY_TAG })).toBe('third');
      }
    });
  });

  it('a truncated receive still matches: the synchronous send completes', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) await c.send(new Float64Array(8), 1, { synchronous: true, timeoutMs: 10_000 });
      else await expect(c.recv(0, { into: new Float64Array(4) })).rejects.toMatchObject({ code: 'MPI_ERR_TRUNCATE' });
    });
  });

  it('the late acknowledgement of a send that timed out never completes a later send', async () => {
    const settle = () => new Promise((r) => setImmediate(r));
    await withWorld(2, async (c) => {
      if (c.rank === 0) {
        await expect(c.send('one', 1, { tag: 1, synchronous: true, timeoutMs: 200 })).rejects.toMatchObject({ code: 'FMI_TIMEOUT' });
        const two = c.isend('two', 1, { tag: 1, synchronous: true });
        await c.send('go', 1, { tag: 9 });
        expect(await c.recv(1, { tag: 9 })).toBe('took one');
        for (let i = 0; i < 5; i++) await settle();
        expect(two.test()).toBe(false);
        await c.send('go', 1, { tag: 9 });
        await two.wait();
      } else {
        await c.recv(0, { tag: 9 });
        expect(await c.recv(0, { tag: 1 })).toBe('one');
        await c.send('took one', 0, { tag: 9 });
        await c.recv(0, { tag: 9 });
        expect(await c.recv(0, { tag: 1 })).toBe('two');
      }
    });
  });

  it('a synchronous send that starts while an earlier one to the same rank and tag is still writing completes too', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) {
        // The receiver acknowledges the big message as soon as it matches, long before the last byte is written.
        const big = c.isend(new Uint8Array(64 << 20), 1, { tag: 5, synchronous: true });
        await new Promise((r) => setTimeout(r, 30));
        await c.send(Int32Array.of(4), 1, { tag: 5, synchronous: true, timeoutMs: 10_000 });
        await big.wait();
      } else {
        expect((await c.recv<Uint8Array>(0, { tag: 5 })).byteLength).toBe(64 << 20);
        expect(await c.recv(0, { tag: 5 })).toEqual(Int32Array.of(4));
      }
    });
  });

  it('a synchronous send to a receiver that never receives times out', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 0) {
        await expect(c.send(Int32Array.of(7), 1, { synchronous: true, timeoutMs: 300 })).rejects.toMatchObject({ code: 'FMI_TIMEOUT' });
      }
      await c.barrier();
    });
  });
});
