import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Op, PROC_NULL, ROOT, type InitOptions } from '../src/index.js';
import { DEFAULT_CONFIG } from '../src/config/index.js';
import { PROC_NULL as MPI_PROC_NULL, ROOT as MPI_ROOT } from '../src/mpi/abi.js';
import { startRedis } from './helpers/redis-server.js';
import { range, withWorld } from './helpers/world.js';

// Communicator methods on an intercommunicator (MPI 3.1 §5.2.2): each group
// gets the other group's data; in a rooted call the root passes ROOT, the
// rest of its group PROC_NULL, the other group the root's rank there.

/** Ranks 0..a-1 of an (a+b)-rank world are group 0, the rest group 1. */
async function groups(world: Communicator, a: number) {
  const side = world.rank < a ? 0 : 1;
  const local = (await world.split(side, world.rank))!;
  const inter = await Communicator.intercomm(local, 0, world, side === 0 ? a : 0, { tag: 7 });
  const other = side === 0 ? range(world.size).slice(a) : range(a);
  return { side, local, inter, other, mine: side === 0 ? range(a) : range(world.size).slice(a) };
}

const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
/** Splits 6 elements over a group of m ranks (both groups' counts add up to 6, as reduceScatter needs). */
const sixOver = (m: number) => ({ 1: [6], 2: [2, 4], 3: [1, 2, 3] })[m as 1 | 2 | 3]!;

/** Every collective method on one intercommunicator, checked at every rank. */
async function everyMethod(world: Communicator, a: number): Promise<void> {
  const { side, local, inter, other, mine } = await groups(world, a);
  const w = world.rank;
  const me = inter.rank;
  const n = other.length;
  expect([inter.isInter, inter.size, inter.remoteSize]).toEqual([true, mine.length, n]);

  // All-to-all kinds.
  expect(await inter.allreduce(w, Op.SUM)).toBe(sum(other));
  const into = new Float64Array(2);
  const ar = await inter.allreduce(Float64Array.of(w, 1), Op.SUM, { into });
  expect(ar).toBe(into);
  expect(Array.from(into)).toEqual([sum(other), n]);
  expect(await inter.allgather(w * 10)).toEqual(other.map((x) => x * 10));
  expect(await inter.allgather(Int32Array.of(w, -w))).toEqual(Int32Array.from(other.flatMap((x) => [x, -x])));
  // allgatherv: remote rank r sends r+1 elements; placed last to first.
  const counts = other.map((_, r) => r + 1);
  const displs = counts.map((_, r) => sum(counts.slice(r + 1)));
  const agv = await inter.allgatherv(Int32Array.from({ length: me + 1 }, () => w), counts, { displs });
  expect(agv).toEqual(Int32Array.from(range(n).reverse().flatMap((r) => new Array<number>(r + 1).fill(other[r]!))));
  expect(await inter.alltoall(other.map((_, r) => `${w}>${r}`))).toEqual(other.map((x) => `${x}>${me}`));
  expect(await inter.alltoall(Float64Array.from(range(2 * n), (i) => w * 100 + i))).toEqual(Float64Array.from(other.flatMap((x) => [x * 100 + 2 * me, x * 100 + 2 * me + 1])));
  // alltoallv: to remote rank r, r+1 copies of w*10+r; from remote rank s, me+1 elements.
  const sc = range(n).map((r) => r + 1);
  const atv = await inter.alltoallv(Int32Array.from(range(n).flatMap((r) => new Array<number>(r + 1).fill(w * 10 + r))), sc, other.map(() => me + 1));
  expect(atv).toEqual(Int32Array.from(other.flatMap((x) => new Array<number>(me + 1).fill(x * 10 + me))));
  // reduceScatter: block r (by this group's counts) of the sum of the other group's vectors.
  const rc = sixOver(mine.length);
  const rs = await inter.reduceScatter(Float64Array.from(range(6), (i) => w + i), Op.SUM, { counts: rc });
  const start = sum(rc.slice(0, me));
  expect(Array.from(rs)).toEqual(range(rc[me]!).map((i) => sum(other) + n * (start + i)));
  await inter.barrier();

  // Rooted kinds, from the last rank of either group.
  for (const rootSide of [0, 1]) {
    const rootGroup = rootSide === 0 ? range(a) : range(world.size).slice(a);
    const rootLocal = rootGroup.length - 1;
    const rootWorld = rootGroup[rootLocal]!;
    const root = side === rootSide ? (me === rootLocal ? ROOT : PROC_NULL) : rootLocal;
    const leaf = side !== rootSide;

    expect(await inter.bcast(root === ROOT ? { from: w } : undefined, root)).toEqual(leaf ? { from: rootWorld } : undefined);
    const bi = new Float64Array(3);
    const b = await inter.bcast(root === ROOT ? Float64Array.of(1, 2, w) : undefined, root, { into: leaf ? bi : undefined });
    if (leaf) expect([b === bi, Array.from(bi)]).toEqual([true, [1, 2, rootWorld]]);
    else expect(b).toBeUndefined();

    const ri = new Float64Array(2);
    const red = await inter.reduce(Float64Array.of(w, 1), Op.SUM, root, { into: root === ROOT ? ri : undefined });
    if (root === ROOT) expect([red === ri, Array.from(ri)]).toEqual([true, [sum(other), n]]);
    else expect(red).toBeUndefined();

    expect(await inter.gather(w, root)).toEqual(root === ROOT ? other : undefined);
    expect(await inter.gather(Int16Array.of(w, w), root)).toEqual(root === ROOT ? Int16Array.from(other.flatMap((x) => [x, x])) : undefined);

    expect(await inter.scatter(root === ROOT ? other.map((x) => ({ to: x })) : undefined, root)).toEqual(leaf ? { to: w } : undefined);
    const sTyped = root === ROOT ? Uint8Array.from(other.flatMap((x) => [x, x + 1])) : undefined;
    expect(await inter.scatter(sTyped, root)).toEqual(leaf ? Uint8Array.of(w, w + 1) : undefined);

    // gatherv: remote rank r gives r+1 elements, placed last to first.
    const gv = await inter.gatherv(Int32Array.from({ length: me + 1 }, () => w), root === ROOT ? counts : [], root, { displs: root === ROOT ? displs : undefined });
    expect(gv).toEqual(root === ROOT ? Int32Array.from(range(n).reverse().flatMap((r) => new Array<number>(r + 1).fill(other[r]!))) : undefined);
    // scatterv: remote rank r gets r+1 elements from its displacement.
    const sv = await inter.scatterv(root === ROOT ? Int32Array.from(range(sum(counts)), (i) => 1000 + i) : undefined, root === ROOT ? counts : [], root, { displs: root === ROOT ? displs : undefined });
    if (leaf) {
      const d = sum(range(mine.length).slice(me + 1).map((r) => r + 1));
      expect(sv).toEqual(Int32Array.from(range(me + 1), (i) => 1000 + d + i));
    } else expect(sv).toBeUndefined();
  }
  await inter.free();
  await local.free();
}

describe('Communicator methods on an intercommunicator (direct)', () => {
  it.each([
    [2, 1],
    [2, 2],
    [3, 2],
  ])('every collective, roots in both groups, PROC_NULL ranks: %i + %i ranks', async (a, b) => {
    await withWorld(a + b, (world) => everyMethod(world, a));
  });

  it('ROOT and PROC_NULL are MPI_ROOT and MPI_PROC_NULL', () => {
    expect([ROOT, PROC_NULL]).toEqual([MPI_ROOT, MPI_PROC_NULL]);
  });

  it('split and dup of an intercommunicator give intercommunicators whose collectives work', async () => {
    await withWorld(5, async (world) => {
      const { inter, local, side } = await groups(world, 3);
      // Colors: world rank parity; group 0 = {0,1,2}, group 1 = {3,4}. Color 0: {0,2} with {4}; color 1: {1} with {3}.
      const color = world.rank % 2;
      const sub = (await inter.split(color, -inter.rank))!;
      const expected = color === 0 ? (side === 0 ? [[2, 0], [4]] : [[4], [2, 0]]) : side === 0 ? [[1], [3]] : [[3], [1]];
      expect(sub.isInter).toBe(true);
      expect([sub.size, sub.remoteSize]).toEqual([expected[0]!.length, expected[1]!.length]);
      expect(sub.rank).toBe(expected[0]!.indexOf(world.rank));
      expect(await sub.allgather(world.rank)).toEqual(expected[1]);
      // UNDEFINED at some ranks: null there; a color only one group has: null too.
      const only = await inter.split(side === 0 && world.rank !== 1 ? 5 : world.rank === 3 ? 5 : -32766);
      if (world.rank === 1 || world.rank === 4) expect(only).toBeNull();
      else expect([only!.size, only!.remoteSize]).toEqual(side === 0 ? [2, 1] : [1, 2]);
      const dup = await inter.dup();
      expect(await dup.allreduce(world.rank, Op.MAX)).toBe(side === 0 ? 4 : 2);
      await Promise.all([sub.free(), only?.free(), dup.free()]);
      await inter.free();
      await local.free();
    });
  });

  it('errors are typed and reach the other group: nobody waits', async () => {
    await withWorld(4, async (world) => {
      const { inter, local, side, other } = await groups(world, 2);
      // A root that is no remote rank: MPI_ERR_ROOT at once, before the call takes its turn.
      await expect(inter.bcast(1, 7)).rejects.toMatchObject({ code: 'MPI_ERR_ROOT', message: expect.stringMatching(/ROOT, PROC_NULL or a rank of the remote group \(0\.\.1\)/) });
      await expect(inter.reduce(1, Op.SUM, -9)).rejects.toMatchObject({ code: 'MPI_ERR_ROOT' });
      // A root with the wrong number of items fails, and so does the group it sends to.
      const root = side === 0 ? (inter.rank === 0 ? ROOT : PROC_NULL) : 0;
      const s = inter.scatter(root === ROOT ? [1, 2, 3] : undefined, root);
      if (root === PROC_NULL) expect(await s).toBeUndefined();
      else await expect(s).rejects.toMatchObject({ code: 'MPI_ERR_COUNT' });
      // One group's bad input fails both groups' alltoall.
      const items = side === 0 ? [1] : other;
      await expect(inter.alltoall(items)).rejects.toMatchObject({ code: 'MPI_ERR_COUNT' });
      // An op that does not fit one group's data fails the other group's allreduce too.
      await expect(inter.allreduce(side === 0 ? { not: 'a number' } : 1, Op.SUM)).rejects.toMatchObject({ code: 'MPI_ERR_OP', message: expect.stringMatching(/SUM is not defined for Object/) });
      // gatherv counts that are not one per remote rank: the root fails.
      const gv = inter.gatherv(Int32Array.of(1), root === ROOT ? [1] : [], root);
      if (root === ROOT) await expect(gv).rejects.toMatchObject({ code: 'MPI_ERR_COUNT' });
      else expect(await gv).toBeUndefined();
      // reduceScatter with a vector the other group's counts do not add up to: every rank fails.
      await expect(inter.reduceScatter(Float64Array.of(1, 2, 3, 4).subarray(0, side === 0 ? 2 : 4), Op.SUM)).rejects.toMatchObject({ code: 'MPI_ERR_COUNT', message: expect.stringMatching(/the other group reduced/) });
      // An `into` that does not fit fails its own rank only, after the call.
      const ar = inter.allreduce(Float64Array.of(1), Op.SUM, { into: world.rank === 3 ? new Float32Array(1) : undefined });
      if (world.rank === 3) await expect(ar).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
      else expect(await ar).toEqual(Float64Array.of(2));
      // The groups call different collectives: FMI_MISMATCH in both, naming both calls.
      const mixed = side === 0 ? inter.allreduce(1, Op.SUM) : inter.allgather(1);
      await expect(mixed).rejects.toMatchObject({ code: 'FMI_MISMATCH', message: expect.stringMatching(side === 0 ? /sent a message of allgather.*this rank is in allreduce/ : /sent a message of allreduce.*this rank is in allgather/) });
      // Still usable after the failures: nothing stale is left between the groups.
      expect(await inter.allreduce(world.rank, Op.SUM)).toBe(sum(other));
      await inter.free();
      await expect(inter.allreduce(1, Op.SUM)).rejects.toMatchObject({ code: 'FMI_CLOSED' });
      await local.free();
    });
  });

  it('a group that never comes: the other fails with FMI_TIMEOUT, no hang', async () => {
    await withWorld(3, async (world) => {
      const { inter, local, side } = await groups(world, 2);
      // The first collective makes what the others run on, with both groups: without group 1, it fails in group 0.
      if (side === 0) await expect(inter.allreduce(1, Op.SUM, { timeoutMs: 300 })).rejects.toMatchObject({ code: expect.stringMatching(/^FMI_(TIMEOUT|MISMATCH)$/) });
      const again = await groups(world, 2);
      expect(await again.inter.allreduce(1, Op.SUM)).toBe(side === 0 ? 1 : 2);
      // Group 1 does not call this gather: group 0's root waits for it until its timeout; PROC_NULL returns at once.
      const root = side === 0 ? (again.inter.rank === 0 ? ROOT : PROC_NULL) : 0;
      if (side === 0) {
        const g = again.inter.gather(1, root, { timeoutMs: 300 });
        if (root === ROOT) await expect(g).rejects.toMatchObject({ code: 'FMI_TIMEOUT' });
        else expect(await g).toBeUndefined();
      }
      await Promise.all([again.local.free(), local.free()]);
    });
  });
});

describe('Communicator methods on an intercommunicator (Redis)', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('every collective, roots in both groups: 2 + 2 ranks', async () => {
    const opts: Partial<InitOptions> = { channel: 'redis', config: { ...DEFAULT_CONFIG, backends: { Direct: { enabled: true }, Redis: { enabled: true, url: redis.url } } } };
    await withWorld(4, (world) => everyMethod(world, 2), opts);
  });
});
