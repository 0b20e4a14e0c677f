import { describe, expect, it } from 'vitest';
import { ANY_SOURCE, Communicator, init, Op, Status } from '../src/index.js';
import { range, withWorld } from './helpers/world.js';

/** The world split in halves: the even ranks (group 0) and the odd ones (group 1), leaders world ranks 0 and 1. */
async function halves(world: Communicator, tag = 7): Promise<{ side: number; local: Communicator; inter: Communicator }> {
  const side = world.rank % 2;
  const local = (await world.split(side, world.rank))!;
  const inter = await Communicator.intercomm(local, 0, world, 1 - side, { tag });
  return { side, local, inter };
}

const sizeOf = (n: number, side: number) => (side === 0 ? Math.ceil(n / 2) : Math.floor(n / 2));

describe('createGroup', () => {
  it.each([2, 3, 5, 6])('a subset of %i ranks, in its own order, made by its members only', async (n) => {
    await withWorld(n, async (world) => {
      const ranks = range(n).filter((r) => r % 2 === 0).reverse();
      if (!ranks.includes(world.rank)) {
        // Non-members go on with other work on the parent meanwhile.
        if (world.rank === 1) expect(await world.recv(n - 1 - ((n - 1) % 2), { tag: 3 })).toBe('during');
        return;
      }
      if (world.rank === ranks[0]) await world.send('during', 1, { tag: 3 }).catch(() => {});
      const g = await world.createGroup(ranks, { tag: 5 });
      expect([g.rank, g.size]).toEqual([ranks.indexOf(world.rank), ranks.length]);
      expect(await g.allgather(world.rank)).toEqual(ranks);
      expect(await g.allreduce(world.rank, Op.SUM)).toBe(ranks.reduce((a, b) => a + b, 0));
      await g.free();
    });
  });

  it.each([3, 4, 6])('concurrent calls over overlapping groups with different tags do not mix (%i ranks)', async (n) => {
    await withWorld(n, async (world) => {
      const all = range(n);
      const firstHalf = range(Math.ceil(n / 2) + 1); // overlaps the second
      const secondHalf = all.slice(Math.ceil(n / 2) - 1);
      // Members start them in opposite orders: queued behind each other they would deadlock.
      const mine: Promise<Communicator>[] = [];
      const make = (ranks: number[], tag: number) => ranks.includes(world.rank) && mine.push(world.createGroup(ranks, { tag }));
      if (world.rank % 2 === 0) {
        make(firstHalf, 1);
        make(secondHalf, 2);
        make(all, 3);
      } else {
        make(all, 3);
        make(secondHalf, 2);
        make(firstHalf, 1);
      }
      const comms = await Promise.all(mine);
      // Used at once too (in different orders at different ranks): their traffic stays apart.
      const members = await Promise.all(comms.map((c) => c.allgather(world.rank)));
      expect(members).toEqual(world.rank % 2 === 0 ? [firstHalf, secondHalf, all].filter((g) => g.includes(world.rank)) : [all, secondHalf, firstHalf].filter((g) => g.includes(world.rank)));
      await world.barrier();
    });
  });

  it('refuses bad input with clear codes', async () => {
    await withWorld(3, async (world) => {
      await expect(world.createGroup([0, 7])).rejects.toMatchObject({ code: 'MPI_ERR_RANK' });
      await expect(world.createGroup([world.rank, world.rank])).rejects.toMatchObject({ code: 'MPI_ERR_GROUP' });
      await expect(world.createGroup([])).rejects.toMatchObject({ code: 'MPI_ERR_GROUP' });
      await expect(world.createGroup([(world.rank + 1) % 3])).rejects.toMatchObject({ code: 'MPI_ERR_GROUP', message: expect.stringMatching(/only the members/) });
      await expect(world.createGroup([world.rank], { tag: -1 })).rejects.toMatchObject({ code: 'MPI_ERR_TAG' });
      await expect(world.createGroup([world.rank], { tag: 0x80000000 })).rejects.toMatchObject({ code: 'MPI_ERR_TAG' });
      // A group of one needs no traffic. createGroup has a context of its own: every tag up to TAG_UB is free.
      const self = await world.createGroup([world.rank], { tag: 0x7fffffff });
      expect([self.rank, self.size]).toEqual([0, 1]);
      expect(await self.allreduce(world.rank, Op.SUM)).toBe(world.rank);
    });
  });
});

describe('intercommunicators', () => {
  it.each([2, 3, 4, 5, 6])('from the halves of %i ranks: sizes, p2p both ways, ANY_SOURCE, barrier', async (n) => {
    await withWorld(n, async (world) => {
      const { side, local, inter } = await halves(world);
      expect(inter.isInter).toBe(true);
      expect(world.isInter).toBe(false);
      expect(world.remoteSize).toBeUndefined();
      expect([inter.rank, inter.size, inter.remoteSize]).toEqual([local.rank, sizeOf(n, side), sizeOf(n, 1 - side)]);
      const remoteSize = inter.remoteSize!;
      // Each rank sends its world rank to every remote rank, then receives from every one with ANY_SOURCE.
      await Promise.all(range(remoteSize).map((d) => inter.send({ from: world.rank, to: d }, d, { tag: 4 })));
      const got: number[] = [];
      for (let k = 0; k < remoteSize; k++) {
        const status = new Status();
        const m = await inter.recv<{ from: number; to: number }>(ANY_SOURCE, { tag: 4, status });
        expect(m.to).toBe(inter.rank);
        // status.source is the sender's rank in the remote group: world rank 2r + (1 - side).
        expect(m.from).toBe(2 * status.source + (1 - side));
        got.push(status.source);
      }
      expect(got.sort((a, b) => a - b)).toEqual(range(remoteSize));
      // Ping-pong between the local ranks 0 of both groups, and a typed array into a buffer.
      if (inter.rank === 0) {
        if (side === 0) {
          await inter.send(Float64Array.of(1, 2, 3), 0, { tag: 9 });
          expect(await inter.recv(0, { tag: 9, into: new Float64Array(3) })).toEqual(Float64Array.of(2, 4, 6));
        } else {
          const x = await inter.recv<Float64Array>(0, { tag: 9 });
          await inter.send(x.map((v) => 2 * v), 0, { tag: 9 });
        }
      }
      await inter.barrier();
      // The remote group's ranks are checked, not the local one's.
      await expect(inter.send(1, remoteSize)).rejects.toMatchObject({ code: 'MPI_ERR_RANK' });
      const dup = await inter.dup();
      expect([dup.isInter, dup.rank, dup.remoteSize]).toEqual([true, inter.rank, remoteSize]);
      if (dup.rank === 0) expect(await dup.sendrecv(world.rank, 0, 0)).toBe(1 - side);
      for (const c of [dup, inter, local]) await c.free();
    });
  });

  it.each([2, 3, 5, 6])('merge on %i ranks: the low group first; equal `high` in an order both agree on', async (n) => {
    await withWorld(n, async (world) => {
      const { side, inter } = await halves(world);
      const evens = range(n).filter((r) => r % 2 === 0);
      const odds = range(n).filter((r) => r % 2 === 1);
      // Odd ranks low: they come first.
      const a = await inter.merge(side === 0);
      expect(a.size).toBe(n);
      expect(await a.allgather(world.rank)).toEqual([...odds, ...evens]);
      // Both the same: the group whose leader has the lower world rank (the evens) first.
      for (const high of [false, true]) {
        const b = await inter.merge(high);
        expect(await b.allgather(world.rank)).toEqual([...evens, ...odds]);
        expect(b.rank).toBe([...evens, ...odds].indexOf(world.rank));
        expect(await b.allreduce(Float64Array.of(b.rank), Op.SUM)).toEqual(Float64Array.of((n * (n - 1)) / 2));
        await b.free();
      }
      // The merged communicator is an ordinary one: its ranks see each other.
      const c = await a.split(0, -a.rank);
      expect(c!.rank).toBe(n - 1 - a.rank);
    });
  });

  it('refuses scan and exscan (MPI defines no intercommunicator form), and intercommunicator-only calls on others', async () => {
    await withWorld(4, async (world) => {
      const { inter, local } = await halves(world);
      await expect(inter.scan(1, Op.SUM)).rejects.toMatchObject({ code: 'MPI_ERR_COMM', message: expect.stringMatching(/collective scan on an intercommunicator is not supported/) });
      await expect(inter.exscan(1, Op.SUM)).rejects.toMatchObject({ code: 'MPI_ERR_COMM' });
      await expect(inter.createGroup([0])).rejects.toMatchObject({ code: 'MPI_ERR_COMM' });
      await expect(local.merge(true)).rejects.toMatchObject({ code: 'MPI_ERR_COMM' });
      await expect(Communicator.intercomm(inter, 0, world, 0)).rejects.toMatchObject({ code: 'MPI_ERR_COMM' });
      await expect(Communicator.intercomm(local, 5, world, 0)).rejects.toMatchObject({ code: 'MPI_ERR_RANK' });
      // Still usable after refusals.
      await inter.barrier();
    });
  });

  it('groups that overlap fail at every rank of both', async () => {
    await withWorld(3, async (world) => {
      // A = world ranks [0, 1], B = [1, 2]: rank 1 is in both (and calls for each).
      const a = world.rank <= 1 ? await world.createGroup([0, 1], { tag: 1 }) : undefined;
      const b = world.rank >= 1 ? await world.createGroup([1, 2], { tag: 2 }) : undefined;
      const calls: Promise<Communicator>[] = [];
      if (a) calls.push(Communicator.intercomm(a, 0, world, 2, { tag: 3 }));
      if (b) calls.push(Communicator.intercomm(b, 1, world, 0, { tag: 3 }));
      for (const r of await Promise.allSettled(calls)) {
        expect(r).toMatchObject({ status: 'rejected', reason: { code: 'MPI_ERR_COMM', message: expect.stringMatching(/overlap/) } });
      }
    });
  });

  it('a leader whose local communicator is of another job fails, and so does the other side, at once', async () => {
    const t0 = Date.now();
    await withWorld(2, async (world) => {
      // Rank 1's local communicator is a one-rank job of its own: not the peer's job.
      const local = world.rank === 0 ? await world.createGroup([0], { tag: 1 }) : await init({ env: {} });
      const r = await Communicator.intercomm(local, 0, world, 1 - world.rank, { tag: 4, timeoutMs: 20_000 }).catch((e: unknown) => e);
      expect(r).toMatchObject({ code: 'MPI_ERR_COMM', message: world.rank === 0 ? expect.stringMatching(/remote leader failed/) : expect.stringMatching(/another job/) });
      await local.close();
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
