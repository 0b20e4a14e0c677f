import { afterEach, describe, expect, it } from 'vitest';
import { createHook } from 'node:async_hooks';
import { NUDGE_KIND } from '../src/collectives/nudge.js';
import { DirectChannel } from '../src/channels/direct/direct-channel.js';
import { knomialTree, treeAt0, TREE_STAR_MAX_RANKS } from '../src/collectives/tree.js';
import { TREE_MAX_BYTES } from '../src/collectives/allreduce-tree.js';
import { Op, type Communicator } from '../src/index.js';
import { range, settleWorld, withWorld } from './helpers/world.js';

describe('k-nomial tree - shape', () => {
  it('every rank but the root has one parent, children lists agree with parents, subtrees are runs of ranks', () => {
    for (const radix of [2, 3, 4]) {
      for (let size = 1; size <= 40; size++) {
        for (const root of new Set([0, 1, size - 1].filter((r) => r < size))) {
          const rel = (r: number) => (r - root + size) % size;
          const trees = range(size).map((r) => knomialTree(r, root, size, radix));
          expect(trees[root]!.parent).toBe(-1);
          const childOf = new Map<number, number>();
          trees.forEach((t, r) => t.children.forEach((ch) => (expect(childOf.has(ch)).toBe(false), childOf.set(ch, r))));
          for (let r = 0; r < size; r++) if (r !== root) expect(childOf.get(r), `radix ${radix} size ${size} root ${root} rank ${r}`).toBe(trees[r]!.parent);
          // The size of a subtree, counted through the children lists, is the run up to the next sibling.
          const count = (r: number): number => 1 + trees[r]!.children.reduce((n, ch) => n + count(ch), 0);
          trees.forEach((t, r) => {
            const rels = t.children.map(rel);
            expect(rels).toEqual([...rels].sort((a, b) => a - b));
            const end = t.parent < 0 ? size : undefined;
            rels.forEach((c, i) => {
              const next = i + 1 < rels.length ? rels[i + 1]! : (end ?? rel(r) + count(r));
              expect(count(t.children[i]!)).toBe(next - c);
            });
          });
        }
      }
    }
  });

  it('on 4 ranks with radix 4 it is a star around the root', () => {
    expect(range(4).map((r) => knomialTree(r, 0, 4, 4))).toEqual([
      { parent: -1, children: [1, 2, 3] },
      { parent: 0, children: [] },
      { parent: 0, children: [] },
      { parent: 0, children: [] },
    ]);
    expect(knomialTree(0, 0, 16, 4).children).toEqual([1, 2, 3, 4, 8, 12]);
  });

  it('treeAt0 is the default tree rooted at rank 0, made once per rank and size', () => {
    for (const size of [1, 2, 4, 7, 32, 33, 100]) {
      for (const rank of [0, 1, size - 1]) {
        if (rank >= size) continue;
        expect(treeAt0(rank, size)).toEqual(knomialTree(rank, 0, size));
        expect(treeAt0(rank, size)).toBe(treeAt0(rank, size));
      }
    }
    expect(treeAt0(1, 4)).not.toBe(treeAt0(1, 5));
  });
});

/** Counts, per rank, the messages the direct channel sends (every rank runs in this process). */
function countSends(): { sent: Map<number, number>; restore(): void } {
  const send = DirectChannel.prototype.send;
  const sent = new Map<number, number>();
  DirectChannel.prototype.send = function (this: DirectChannel, ...args: Parameters<typeof send>) {
    // Nudges (a receive that waited 500 ms, on a loaded machine) are not the algorithm's messages.
    if (args[1].kind !== NUDGE_KIND) sent.set(this.rank, (sent.get(this.rank) ?? 0) + 1);
    return send.apply(this, args);
  };
  return { sent, restore: () => void (DirectChannel.prototype.send = send) };
}

describe('small collectives on few ranks - messages', () => {
  let spy: ReturnType<typeof countSends> | undefined;
  afterEach(() => spy?.restore());

  it('barrier and a small allreduce send 2(size-1) messages on every size (the tree; dissemination would send size·log2(size))', async () => {
    spy = countSends();
    const { sent } = spy;
    for (const size of [2, 3, 4, 5, 8, 13]) {
      const perRank = await withWorld(size, async (c) => {
        // Connect every pair first: what is counted below is the steady state.
        for (let i = 0; i < 3; i++) await c.allreduce(new Float64Array(128).fill(1), Op.SUM);
        const t0 = sent.get(c.rank) ?? 0;
        await c.barrier();
        const t1 = sent.get(c.rank)!;
        await c.allreduce(new Float64Array(128).fill(c.rank), Op.SUM);
        return [t1 - t0, sent.get(c.rank)! - t1];
      });
      const total = (i: number) => perRank.reduce((n, r) => n + r[i]!, 0);
      const want = 2 * (size - 1);
      expect([total(0), total(1)], `barrier, allreduce on ${size} ranks`).toEqual([want, want]);
    }
  });
});

describe('small collectives - the star', () => {
  let spy: ReturnType<typeof countSends> | undefined;
  afterEach(() => spy?.restore());

  it('up to TREE_STAR_MAX_RANKS ranks, barrier and a small allreduce are a star: rank 0 sends to every rank, every other rank once', async () => {
    expect(TREE_STAR_MAX_RANKS).toBeGreaterThanOrEqual(13);
    expect(knomialTree(0, 0, 13).children).toEqual(range(13).slice(1));
    expect(knomialTree(0, 0, TREE_STAR_MAX_RANKS + 1).children).toEqual(knomialTree(0, 0, TREE_STAR_MAX_RANKS + 1, 4).children);
    spy = countSends();
    const { sent } = spy;
    const perRank = await withWorld(13, async (c) => {
      for (let i = 0; i < 3; i++) await c.allreduce(new Float64Array(128).fill(1), Op.SUM);
      const t0 = sent.get(c.rank) ?? 0;
      await c.barrier();
      const t1 = sent.get(c.rank)!;
      const sum = await c.allreduce(new Float64Array(128).fill(c.rank), Op.SUM);
      return [t1 - t0, sent.get(c.rank)! - t1, sum[0]!];
    });
    perRank.forEach(([barrier, allreduce, sum], rank) => {
      expect([barrier, allreduce], `rank ${rank}`).toEqual(rank === 0 ? [12, 12] : [1, 1]);
      expect(sum).toBe(78);
    });
  });
});

describe('small collectives on few ranks - results', () => {
  it('an associative op that does not commute is folded in rank order at every rank (JS values and Wasm-sized arrays)', async () => {
    // 2x2 matrix product: associative, not commutative.
    const mul2 = (a: number[], b: number[]) => [a[0]! * b[0]! + a[1]! * b[2]!, a[0]! * b[1]! + a[1]! * b[3]!, a[2]! * b[0]! + a[3]! * b[2]!, a[2]! * b[1]! + a[3]! * b[3]!];
    const mul = Op.create(mul2);
    const m = (r: number) => [1, r + 1, 0, 1 + (r % 2)];
    for (const size of [2, 3, 4, 5, 8, 13]) {
      const want = range(size).map(m).reduce(mul2);
      const out = await withWorld(size, (c) => c.allreduce(m(c.rank), mul));
      expect(out).toEqual(range(size).map(() => want));
      // Floats whose sum depends on the order: every rank must hold the bits of (((v0 + v1) + v2) + v3).
      const n = TREE_MAX_BYTES / 8;
      const v = (r: number) => Float64Array.from(range(n), (i) => (r % 2 ? -1 : 1) * 1e16 + r + i * 0.1);
      const expect64 = range(size).map(v).reduce((a, b) => a.map((x, i) => x + b[i]!));
      const sums = await withWorld(size, async (c) => {
        const into = new Float64Array(n);
        const r = await c.allreduce(v(c.rank), Op.SUM, { into });
        return r === into ? Array.from(into) : 'not into';
      });
      for (const s of sums) expect(s).toEqual(Array.from(expect64));
    }
  });

  it('an op that throws at the root fails every rank at once', async () => {
    const t0 = Date.now();
    const out = await settleWorld(4, (c: Communicator) =>
      c.allreduce(c.rank, Op.create((a: number, b: number) => {
        if (c.rank === 0) throw new Error('no sum here');
        return a + b;
      }), { timeoutMs: 20_000 }),
    );
    for (const r of out) expect(r.status).toBe('rejected');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('small collectives on 4 ranks - promises per call (issue 11)', () => {
  /** Promises made per call and rank while `call` runs on every rank (all in this process), after warm-up calls. */
  async function promisesPerCall(comms: Communicator[], call: (c: Communicator) => Promise<unknown>): Promise<number> {
    const all = () => Promise.all(comms.map(call));
    for (let i = 0; i < 50; i++) await all();
    let made = 0;
    const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && made++) });
    const calls = 100;
    hook.enable();
    try {
      for (let i = 0; i < calls; i++) await all();
    } finally {
      hook.disable();
    }
    return made / calls / comms.length;
  }

  it('a barrier leaf awaits one receive that checks its message as it lands; an allreduce goes on past sends the kernel took', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const comms: Communicator[] = [];
    const world = withWorld(4, async (c) => {
      comms[c.rank] = c;
      await gate;
    });
    while (comms.filter(Boolean).length < 4) await new Promise((r) => setTimeout(r, 5));
    try {
      const data = comms.map((c) => new Float64Array(128).fill(c.rank));
      // Counted with async_hooks on (an await then makes a promise too): 12 and 13.5 per rank before (an async frame and a promise per layer and receive).
      expect(await promisesPerCall(comms, (c) => c.barrier())).toBeLessThanOrEqual(8);
      expect(await promisesPerCall(comms, (c) => c.allreduce(data[c.rank]!, Op.SUM))).toBeLessThanOrEqual(10);
    } finally {
      release();
      await world;
    }
  });
});
