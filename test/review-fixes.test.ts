import { connect } from 'node:net';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ANY_SOURCE, ANY_TAG, DirectChannel, Op, RendezvousServer, Status } from '../src/index.js';
import { kernels } from '../src/kernels/index.js';
import { settleWorld, withWorld } from './helpers/world.js';

describe('robustness - failures leave nothing behind', () => {
  it('a sendrecv whose send fails withdraws its receive: the next message goes to the next recv', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 1) {
        await expect(c.sendrecv('x', 5, 0)).rejects.toMatchObject({ code: 'MPI_ERR_RANK' });
        await expect(c.sendrecv('x', 0, 0, { sendTag: -1 })).rejects.toMatchObject({ code: 'MPI_ERR_TAG' });
        await c.send('ready', 0);
        expect(await c.recv(0, { timeoutMs: 5000 })).toBe('important');
      } else {
        await c.recv(1);
        await c.send('important', 1);
      }
    });
  });

  it('a sendrecv whose receive cannot start sends nothing, to a peer or to itself', async () => {
    await withWorld(2, async (c) => {
      if (c.rank === 1) {
        await expect(c.sendrecv('stray', 0, 7)).rejects.toMatchObject({ code: 'MPI_ERR_RANK', op: 'sendrecv' });
        await expect(c.sendrecv('stray', 0, 0, { into: [1] as never })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
        await expect(c.sendrecv('stray', 1, 7)).rejects.toMatchObject({ code: 'MPI_ERR_RANK' });
        expect(c.iprobe(1)).toBeUndefined();
        await c.send('real', 0);
      } else {
        expect(await c.recv(1, { timeoutMs: 5000 })).toBe('real');
      }
    });
  });

  it('sendrecv to itself: the exchange, and a failed send leaves neither its message nor its receive', async () => {
    await withWorld(2, async (c) => {
      const me = c.rank;
      const status = new Status();
      const into = new Float64Array(4);
      const got = await c.sendrecv<Float64Array>(Float64Array.of(me, 2), me, me, { sendTag: 3, recvTag: 3, status, into });
      expect([...got]).toEqual([me, 2]);
      expect(got.buffer).toBe(into.buffer);
      expect(status).toMatchObject({ source: me, tag: 3, count: 2 });
      expect(await c.sendrecv({ a: me }, me, ANY_SOURCE, { recvTag: ANY_TAG, timeoutMs: 5000 })).toEqual({ a: me });
      // A value structured clone refuses: the send fails before anything is queued.
      await expect(c.sendrecv(() => 1, me, me)).rejects.toMatchObject({ code: 'MPI_ERR_TYPE' });
      expect(c.iprobe(me)).toBeUndefined();
      await c.send('next', me);
      expect(await c.recv(me, { timeoutMs: 5000 })).toBe('next');
    });
  });

  it('failed allreduces do not leak Wasm memory', async () => {
    const n = (1 << 20) / 8; // 1 MiB: the Wasm path
    await settleWorld(2, (c) => c.allreduce(new Float64Array(c.rank === 0 ? n : n + 8), Op.SUM, { timeoutMs: 2000 }));
    const before = kernels().memory.buffer.byteLength;
    for (let i = 0; i < 20; i++) {
      const out = await settleWorld(2, (c) => c.allreduce(new Float64Array(c.rank === 0 ? n : n + 8), Op.SUM, { timeoutMs: 2000 }));
      for (const r of out) expect(r.status).toBe('rejected');
    }
    // 20 leaks of 2-3 blocks each would be 40+ MiB.
    expect(kernels().memory.buffer.byteLength - before).toBeLessThan(8 << 20);
  });

  it('close() does not wait for a connection that never says who it is', async () => {
    const server = new RendezvousServer();
    const addr = await server.listen();
    const ch = await DirectChannel.create({ job: randomUUID(), rank: 0, size: 2, server: addr });
    const ep = ch.endpoints[0]!;
    const silent = connect(ep.port, ep.host);
    await new Promise((r) => silent.once('connect', r));
    const t0 = Date.now();
    await ch.close();
    expect(Date.now() - t0).toBeLessThan(3000);
    silent.destroy();
    await server.close();
  });
});

describe('robustness - errors reach the other ranks', () => {
  it('a size mismatch at one rank fails every rank of an allreduce, not only its partner', async () => {
    for (const size of [3, 4, 5, 8]) {
      for (const n of [3, 4000]) {
        const t0 = Date.now();
        const out = await settleWorld(size, (c) => c.allreduce(new Float64Array(c.rank === size - 1 ? n + 1 : n), Op.SUM, { timeoutMs: 20_000 }));
        for (const r of out) expect(r, `size ${size}, n ${n}`).toMatchObject({ status: 'rejected', reason: { code: 'FMI_MISMATCH' } });
        expect(Date.now() - t0).toBeLessThan(10_000);
      }
    }
  });
});

describe('robustness - errors reach the other ranks (ring and scan)', () => {
  it('a mismatch in a ring allreduce, a reduceScatter or a scan fails every rank promptly', async () => {
    const size = 4;
    const t0 = Date.now();
    const ring = await settleWorld(size, (c) => c.allreduce(new Float64Array(c.rank === 2 ? 4001 : 4000), Op.SUM, { algorithm: 'ring', timeoutMs: 20_000 }));
    const rs = await settleWorld(size, (c) => c.reduceScatter(new Int32Array(c.rank === 1 ? 8 : 4), Op.SUM, { timeoutMs: 20_000 }));
    const scan = await settleWorld(size, (c) => c.scan(new Float64Array(c.rank === 0 ? 5000 : 4000), Op.SUM, { timeoutMs: 20_000 }));
    for (const r of [...ring, ...rs, ...scan]) expect(r.status).toBe('rejected');
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

describe('robustness - errors travel up a scan chain', () => {
  it('a mismatch at rank 1 fails every rank above it promptly; the ranks below keep their prefixes', async () => {
    const t0 = Date.now();
    // Three ranks take the chain for any op; five take it for a non-associative one.
    const lastOf = <T>(r: PromiseSettledResult<T>[]) => r.slice(1).map((x) => x.status);
    const scan = await settleWorld(3, (c) => c.scan(new Float64Array(c.rank === 1 ? 5000 : 4000).fill(1), Op.SUM, { timeoutMs: 20_000 }));
    expect(scan[0]).toMatchObject({ status: 'fulfilled' });
    expect(lastOf(scan)).toEqual(['rejected', 'rejected']);
    const ex = await settleWorld(3, (c) => c.exscan(new Int32Array(c.rank === 1 ? 9 : 8), Op.MAX, { timeoutMs: 20_000 }));
    expect(lastOf(ex)).toEqual(['rejected', 'rejected']);
    const strict = Op.create((a: number[], b: number[]) => {
      if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length}`);
      return a.map((x, i) => x - b[i]!);
    }, { commutative: false, associative: false });
    const chain = await settleWorld(5, (c) => c.scan(c.rank === 1 ? [1, 2, 3] : [1, 2], strict, { timeoutMs: 20_000 }));
    expect(chain[0]).toMatchObject({ status: 'fulfilled', value: [1, 2] });
    expect(lastOf(chain)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    expect(chain[4]).toMatchObject({ reason: { code: 'MPI_ERR_OP' } });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('robustness - errors reach the root of a reduce', () => {
  it('a mismatch deep in a reduce tree or chain fails the root at once', async () => {
    const strictAdd = Op.create(
      (a: Float64Array, b: Float64Array) => {
        if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length}`);
        return Float64Array.from(a, (x, i) => x + b[i]!);
      },
      { commutative: false, associative: false },
    );
    for (const size of [4, 5, 8]) {
      const t0 = Date.now();
      const tree = await settleWorld(size, (c) => c.reduce(new Float64Array(c.rank === size - 1 ? 4001 : 4000), Op.SUM, 0, { timeoutMs: 20_000 }));
      const chain = await settleWorld(size, (c) => c.reduce(new Float64Array(c.rank === 1 ? 3 : 2), strictAdd, size - 1, { timeoutMs: 20_000 }));
      expect(tree[0]!.status).toBe('rejected');
      expect(chain[size - 1]).toMatchObject({ status: 'rejected', reason: { code: 'MPI_ERR_OP' } });
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
  });
});
