import { describe, expect, it } from 'vitest';
import {
  Communicator, interAllgather, interAllreduce, interAlltoall, interBcast, interGather, interReduce, interScatter, Op,
} from '../src/index.js';
import { range, withWorld } from './helpers/world.js';

// Collectives on an intercommunicator through the TS API (MPI 3.1 §5.2.2):
// each group gets the other group's data; in a rooted one the root passes
// 'root', the rest of its group 'idle', the other group the root's rank.

/** The world split in halves: the even ranks (group 0) and the odd ones (group 1). */
async function halves(world: Communicator): Promise<{ side: number; inter: Communicator; local: Communicator }> {
  const side = world.rank % 2;
  const local = (await world.split(side, world.rank))!;
  const inter = await Communicator.intercomm(local, 0, world, 1 - side, { tag: 9 });
  return { side, inter, local };
}

/** World ranks of group `side` of an n-rank world, by local rank. */
const members = (n: number, side: number) => range(n).filter((r) => r % 2 === side);

describe('intercommunicator collectives (TS API)', () => {
  it.each([2, 3, 5])('allreduce, allgather, alltoall: the other group\'s data (%i ranks)', async (n) => {
    await withWorld(n, async (world) => {
      const { side, inter, local } = await halves(world);
      const other = members(n, 1 - side);
      expect(await interAllreduce(inter, world.rank, Op.SUM)).toBe(other.reduce((a, b) => a + b, 0));
      expect(await interAllgather(inter, world.rank * 10)).toEqual(other.map((r) => r * 10));
      // To remote rank r: "from <me> to <r>"; back: what each remote rank sent me.
      const got = await interAlltoall(inter, other.map((_, r) => `${world.rank}>${r}`));
      expect(got).toEqual(other.map((w) => `${w}>${inter.rank}`));
      await inter.free();
      await local.free();
    });
  });

  it.each([2, 3, 5])('bcast, reduce, gather, scatter from a root in either group (%i ranks)', async (n) => {
    await withWorld(n, async (world) => {
      const { side, inter, local } = await halves(world);
      const other = members(n, 1 - side);
      for (const rootSide of [0, 1]) {
        // The root is the last rank of group rootSide.
        const rootLocal = members(n, rootSide).length - 1;
        const root = side === rootSide ? (inter.rank === rootLocal ? 'root' : 'idle') : rootLocal;
        const b = await interBcast(inter, root === 'root' ? { from: world.rank } : undefined, root);
        if (side === rootSide) expect(b).toBeUndefined();
        else expect(b).toEqual({ from: members(n, rootSide)[rootLocal] });

        const red = await interReduce(inter, Float64Array.of(world.rank, 1), Op.SUM, root);
        if (root === 'root') expect(Array.from(red as Float64Array)).toEqual([other.reduce((a, x) => a + x, 0), other.length]);
        else expect(red).toBeUndefined();

        const g = await interGather(inter, world.rank, root);
        expect(g).toEqual(root === 'root' ? other : undefined);

        const s = await interScatter(inter, root === 'root' ? other.map((w) => w * 2) : undefined, root);
        expect(s).toEqual(side === rootSide ? undefined : world.rank * 2);
      }
      await inter.free();
      await local.free();
    });
  });

  it('a root that is no remote rank is MPI_ERR_ROOT; a plain communicator is MPI_ERR_COMM', async () => {
    await withWorld(2, async (world) => {
      const { inter, local } = await halves(world);
      await expect(interBcast(inter, 1, 5)).rejects.toMatchObject({ code: 'MPI_ERR_ROOT' });
      await expect(interAllreduce(world, 1, Op.SUM)).rejects.toMatchObject({ code: 'MPI_ERR_COMM' });
      await inter.free();
      await local.free();
    });
  });
});
