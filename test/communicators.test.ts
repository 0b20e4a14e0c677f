import { describe, expect, it } from 'vitest';
import { Communicator, Op, RABENSEIFNER_MIN_BYTES, UNDEFINED } from '../src/index.js';
import { range, settleWorld, withWorld } from './helpers/world.js';

/** Each rank's contribution depends on its rank in the communicator and the communicator's salt. */
const f64 = (rank: number, salt: number, n = 6) => Float64Array.from(range(n), (i) => rank * 1000 + i + salt);
const obj = (rank: number, salt: number) => ({ rank, salt, s: `r${rank}` });

/** Runs every collective with every root on `c` and checks the results against what its ranks contributed. */
async function everyCollective(c: Communicator, salt: number): Promise<void> {
  const { rank, size } = c;
  const ranks = range(size);
  for (const root of ranks) {
    expect(await c.bcast(rank === root ? obj(root, salt) : undefined, root)).toEqual(obj(root, salt));
    const g = await c.gather(f64(rank, salt, 2), root);
    expect(g).toEqual(rank === root ? Float64Array.from(ranks.flatMap((r) => Array.from(f64(r, salt, 2)))) : undefined);
    expect(await c.scatter(rank === root ? ranks.map((r) => obj(r, salt)) : undefined, root)).toEqual(obj(rank, salt));
    const red = await c.reduce(f64(rank, salt), Op.SUM, root);
    if (rank === root) expect(red).toEqual(Float64Array.from(range(6), (i) => ranks.reduce((a, r) => a + r * 1000 + i + salt, 0)));
    // v-variants: rank r contributes r + 1 elements, placed in reverse rank order.
    const counts = ranks.map((r) => r + 1);
    const total = counts.reduce((a, b) => a + b, 0);
    const displs = ranks.map((r) => counts.slice(r + 1).reduce((a, b) => a + b, 0));
    const mine = Int32Array.from(range(rank + 1), (i) => rank * 10 + i + salt);
    const expectAll = new Int32Array(total);
    for (const r of ranks) expectAll.set(Int32Array.from(range(r + 1), (i) => r * 10 + i + salt), displs[r]);
    const gv = await c.gatherv(mine, counts, root, { displs });
    expect(gv).toEqual(rank === root ? expectAll : undefined);
    expect(await c.scatterv(rank === root ? expectAll : undefined, counts, root, { displs })).toEqual(mine);
  }
  const sum = (i: number) => ranks.reduce((a, r) => a + r * 1000 + i + salt, 0);
  expect(await c.allreduce(f64(rank, salt), Op.SUM)).toEqual(Float64Array.from(range(6), sum));
  expect(await c.scan(rank + 1, Op.SUM)).toBe(((rank + 1) * (rank + 2)) / 2);
  expect(await c.exscan(rank + 1, Op.SUM)).toBe(rank === 0 ? undefined : (rank * (rank + 1)) / 2);
  expect(await c.allgather(obj(rank, salt))).toEqual(ranks.map((r) => obj(r, salt)));
  expect(await c.allgather(new Uint16Array([rank, salt]))).toEqual(Uint16Array.from(ranks.flatMap((r) => [r, salt])));
  expect(await c.alltoall(ranks.map((d) => `${rank}->${d}`))).toEqual(ranks.map((s) => `${s}->${rank}`));
  expect(await c.alltoall(Int32Array.from(ranks.flatMap((d) => [rank, d])))).toEqual(Int32Array.from(ranks.flatMap((s) => [s, rank])));
  const rs = await c.reduceScatter(Float64Array.from(range(2 * size), (i) => i + rank), Op.SUM);
  expect(rs).toEqual(Float64Array.from([2 * rank, 2 * rank + 1], (i) => size * i + (size * (size - 1)) / 2));
  const counts = ranks.map((r) => (r % 2) + 1);
  const av = await c.allgatherv(new Int8Array(counts[rank]!).fill(rank), counts);
  expect(av).toEqual(Int8Array.from(ranks.flatMap((r) => new Array(counts[r]).fill(r))));
  // alltoallv: rank r sends d + 1 copies of r to rank d; receives rank + 1 copies from everyone.
  const sendCounts = ranks.map((d) => d + 1);
  const send = Int16Array.from(ranks.flatMap((d) => new Array(d + 1).fill(rank)));
  const got = await c.alltoallv(send, sendCounts, ranks.map(() => rank + 1));
  expect(got).toEqual(Int16Array.from(ranks.flatMap((s) => new Array(rank + 1).fill(s))));
  await c.barrier();
}

describe.each([1, 2, 3, 4, 5, 6, 7, 8])('communicators - every collective x every root on world, dup and split, %i ranks', (size) => {
  it('world, dup, split odd/even, split with reversed keys', async () => {
    await withWorld(size, async (world) => {
      await everyCollective(world, 0);
      const dup = await world.dup();
      expect([dup.rank, dup.size]).toEqual([world.rank, world.size]);
      await everyCollective(dup, 1);
      const parity = await world.split(world.rank % 2, world.rank);
      expect(parity!.size).toBe(world.rank % 2 === 0 ? Math.ceil(size / 2) : Math.floor(size / 2));
      expect(parity!.rank).toBe(world.rank >> 1);
      await everyCollective(parity!, 2);
      const reversed = await world.split(0, -world.rank);
      expect(reversed!.rank).toBe(size - 1 - world.rank);
      await everyCollective(reversed!, 3);
      const dupOfSplit = await parity!.dup();
      await everyCollective(dupOfSplit, 4);
      for (const c of [dupOfSplit, reversed!, parity!, dup]) await c.free();
    });
  });
});

describe('communicators - isolation', () => {
  it('messages on one communicator never match another\'s', async () => {
    await withWorld(3, async (world) => {
      const dup = await world.dup();
      if (world.rank === 0) {
        await world.send('on world', 1, { tag: 5 });
        await dup.send('on dup', 1, { tag: 5 });
      } else if (world.rank === 1) {
        // Receive on dup first: the world message, sent earlier, must not match it.
        expect(await dup.recv(0, { tag: 5 })).toBe('on dup');
        expect(await world.recv(0, { tag: 5 })).toBe('on world');
      }
      await dup.free();
    });
  });

  it('split ranks translate: sub-communicator ranks and statuses are local', async () => {
    await withWorld(5, async (world) => {
      const sub = await world.split(world.rank >= 2 ? 1 : UNDEFINED, 0);
      if (world.rank < 2) {
        expect(sub).toBeNull();
        return;
      }
      expect(sub!.size).toBe(3);
      const status = new (await import('../src/index.js')).Status();
      if (sub!.rank === 0) await sub!.send(`from world ${world.rank}`, 2, { tag: 1 });
      if (sub!.rank === 2) {
        expect(await sub!.recv(-1, { tag: -1, status })).toBe('from world 2');
        expect([status.source, status.tag]).toEqual([0, 1]);
      }
      await expect(sub!.send(1, 3)).rejects.toMatchObject({ code: 'MPI_ERR_RANK' });
      await sub!.free();
      await expect(sub!.barrier()).rejects.toMatchObject({ code: 'FMI_CLOSED' });
    });
  });

  it('bad split arguments are typed errors', async () => {
    await withWorld(2, async (world) => {
      await expect(world.split(-5)).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
    });
  });
});

describe('communicators - size-optimized allreduce', () => {
  it('the large-buffer algorithm (Rabenseifner) gives the same bits on every rank and the right sum, on 3 to 6 ranks', async () => {
    const n = RABENSEIFNER_MIN_BYTES / 8 + 13; // just over the threshold, not divisible by the rank count
    for (const size of [3, 4, 6]) {
      const out = await withWorld(size, (c) => c.allreduce(Float64Array.from({ length: n }, (_, i) => Math.sqrt(i + c.rank)), Op.SUM));
      for (const r of out) expect(Buffer.from(r.buffer).equals(Buffer.from(out[0]!.buffer))).toBe(true);
      for (const i of [0, 1, n >> 1, n - 1]) {
        expect(out[0]![i]).toBeCloseTo(range(size).reduce((a, r) => a + Math.sqrt(i + r), 0), 9);
      }
      const ints = await withWorld(size, (c) => c.allreduce(Int32Array.from({ length: n }, (_, i) => (i % 7) - c.rank), Op.MIN));
      expect(ints[size - 1]![n - 1]).toBe(((n - 1) % 7) - (size - 1));
    }
  });
});

describe('communicators - allreduce algorithm choice', () => {
  it('ring and recursive doubling agree on small and large inputs, any size', async () => {
    for (const size of [2, 3, 5]) {
      await withWorld(size, async (c) => {
        for (const n of [1, 7, 100]) {
          const v = Int32Array.from(range(n), (i) => i * (c.rank + 1));
          const ring = await c.allreduce(v, Op.SUM, { algorithm: 'ring' });
          const rd = await c.allreduce(v, Op.SUM, { algorithm: 'recursive-doubling' });
          expect(ring).toEqual(rd);
          expect(rd[n - 1]).toBe((n - 1) * ((size * (size + 1)) / 2));
        }
        await expect(c.allreduce({ a: 1 }, Op.create((a) => a), { algorithm: 'ring' })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
      });
    }
  });
});

describe('communicators - allreduce into a caller buffer', () => {
  it('writes the result into `into`, in place too, on every algorithm and channel path', async () => {
    await withWorld(3, async (c) => {
      for (const n of [4, 5000]) {
        for (const algorithm of ['recursive-doubling', 'ring'] as const) {
          const data = Float64Array.from(range(n), (i) => i + c.rank);
          const out = new Float64Array(n);
          const r = await c.allreduce(data, Op.SUM, { into: out, algorithm });
          expect(r).toBe(out);
          expect(out[n - 1]).toBe(3 * (n - 1) + 3);
          const same = await c.allreduce(data, Op.MAX, { into: data, algorithm });
          expect(same).toBe(data);
          expect(data[0]).toBe(2);
        }
      }
      await expect(c.allreduce(new Float64Array(3), Op.SUM, { into: new Float32Array(3) })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
    });
  });
});

describe('communicators - reduce, scan, exscan and reduceScatter into a caller buffer', () => {
  it('write their result into `into` where a result arrives, and leave it alone elsewhere', async () => {
    await withWorld(4, async (c) => {
      for (const n of [4, 5000]) {
        for (const root of range(4)) {
          const data = Float64Array.from(range(n), (i) => i + c.rank);
          const out = new Float64Array(n).fill(-1);
          const r = await c.reduce(data, Op.SUM, root, { into: out });
          if (c.rank === root) {
            expect(r).toBe(out);
            expect(out[n - 1]).toBe(4 * (n - 1) + 6);
          } else {
            expect(r).toBeUndefined();
            expect(out[0]).toBe(-1);
          }
        }
        const ones = new Int32Array(n).fill(c.rank + 1);
        const scanned = new Int32Array(n);
        expect(await c.scan(ones, Op.SUM, { into: scanned })).toBe(scanned);
        expect(scanned[n - 1]).toBe(((c.rank + 1) * (c.rank + 2)) / 2);
        const ex = new Int32Array(n).fill(-1);
        const e = await c.exscan(ones, Op.SUM, { into: ex });
        if (c.rank === 0) expect([e, ex[0]]).toEqual([undefined, -1]);
        else expect([e === ex, ex[n - 1]]).toEqual([true, (c.rank * (c.rank + 1)) / 2]);
        expect(await c.scan(ones, Op.PROD, { into: ones })).toBe(ones); // in place
        expect(ones[0]).toBe(range(c.rank + 1).reduce((p, k) => p * (k + 1), 1));
        const blocks = Float32Array.from(range(4 * n), (i) => i % 13);
        const mine = new Float32Array(n + 3).fill(-1);
        const rs = await c.reduceScatter(blocks, Op.SUM, { into: mine });
        expect(rs.length).toBe(n);
        expect(rs.buffer).toBe(mine.buffer);
        expect([mine[1], mine[n]]).toEqual([((c.rank * n + 1) % 13) * 4, -1]);
      }
      await expect(c.scan(new Float64Array(3), Op.SUM, { into: new Float32Array(3) })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
      await expect(c.reduceScatter(new Float64Array(8), Op.SUM, { into: new Float64Array(1) })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
    });
  });
});

describe('communicators - a bad `into` at one rank', () => {
  it('fails that rank after the collective; the others get their results without waiting', async () => {
    const t0 = Date.now();
    const bad = new Float32Array(4);
    const results = await settleWorld(3, async (c) => {
      const into = (n: number) => (c.rank === 1 ? bad : new Float64Array(n));
      const data = new Float64Array(6).fill(c.rank + 1);
      const out: unknown[] = [];
      for (const run of [
        () => c.allreduce(data, Op.SUM, { into: into(6), timeoutMs: 20_000 }),
        () => c.reduce(data, Op.SUM, 1, { into: into(6), timeoutMs: 20_000 }),
        () => c.scan(data, Op.SUM, { into: into(6), timeoutMs: 20_000 }),
        () => c.reduceScatter(data, Op.SUM, { into: into(2), timeoutMs: 20_000 }),
      ]) out.push(await run().then((v) => (v as Float64Array)?.[0], (e: { code: string }) => e.code));
      return out;
    });
    expect(results.map((r) => (r as PromiseFulfilledResult<unknown[]>).value)).toEqual([
      [6, undefined, 1, 6],
      ['MPI_ERR_ARG', 'MPI_ERR_ARG', 'MPI_ERR_ARG', 'MPI_ERR_ARG'],
      [6, undefined, 6, 6],
    ]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
