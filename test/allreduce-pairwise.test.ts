import { afterEach, describe, expect, it } from 'vitest';
import { DirectChannel } from '../src/channels/direct/direct-channel.js';
import { NUDGE_KIND } from '../src/collectives/nudge.js';
import { ELEM_TYPES, OP_NAMES, reduceJs, supports, typedArrayCtor, type ElemType, type NumericArray } from '../src/kernels/index.js';
import { TREE_MAX_BYTES } from '../src/collectives/allreduce-tree.js';
import { Op, type Communicator } from '../src/index.js';
import { range, withWorld } from './helpers/world.js';
import { expectFailedTyped, fmiRun, SLACK_MS } from './faults/job.js';

// Allreduce and barrier on 2 ranks are one pairwise exchange (allreduce.ts,
// barrier.ts; chosen in allreduce-choice.ts and barrier-choice.ts): both
// ranks send at once and both fold lower op higher. On more ranks the small
// ones stay on the star (allreduce-tree.ts, barrier-tree.ts).

/** Calls `then` at rank `rank`'s next message on the direct channel (not a nudge: those are the watch's, not the algorithm's). */
function sendWatch(): { onNextSend(rank: number, then: () => void): void; restore(): void } {
  const send = DirectChannel.prototype.send;
  const waiting = new Map<number, () => void>();
  DirectChannel.prototype.send = function (this: DirectChannel, ...args: Parameters<typeof send>) {
    const then = args[1].kind === NUDGE_KIND ? undefined : waiting.get(this.rank);
    if (then) {
      waiting.delete(this.rank);
      then();
    }
    return send.apply(this, args);
  };
  return { onNextSend: (rank, then) => void waiting.set(rank, then), restore: () => void (DirectChannel.prototype.send = send) };
}

/** Where the ranks' bits are compared: every rank's bytes of `a`. */
const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Rank r's contribution: floats whose sums depend on the order ((a + b) + c against a + (b + c)), small integers elsewhere. */
function contribution(t: ElemType, n: number, rank: number): NumericArray {
  const Ctor = typedArrayCtor(t);
  if (t === 'f32' || t === 'f64') return Ctor.from(range(n), (i) => [1e16, 1, -1e16, 3.25][(i + rank) % 4]! * (1 + i / 7) + Math.sqrt(rank + i)) as NumericArray;
  if (t === 'i64' || t === 'u64') return (Ctor as BigInt64ArrayConstructor).from(range(n), (i) => BigInt(((i * 3 + rank * 5) % 7) + 1)) as unknown as NumericArray;
  return Ctor.from(range(n), (i) => ((i * 3 + rank * 5) % 7) + (i % 2)) as NumericArray;
}

/**
 * The result in the order its algorithm folds, in JS: v0 op v1 op ... left to
 * right (the star; on 2 and 3 ranks recursive doubling too), but on 4 ranks
 * above the tree's bytes recursive doubling's (v0 op v1) op (v2 op v3).
 */
function expected(op: string, t: ElemType, n: number, size: number): NumericArray {
  const v = range(size).map((r) => contribution(t, n, r));
  const f = (a: NumericArray, b: NumericArray) => (reduceJs(op as never, a, b), a);
  if (size === 4 && v[0]!.byteLength > TREE_MAX_BYTES) return f(f(v[0]!, v[1]!), f(v[2]!, v[3]!));
  return v.reduce(f);
}

describe('allreduce and barrier on 2 ranks - one pairwise exchange', () => {
  let watch: ReturnType<typeof sendWatch> | undefined;
  afterEach(() => watch?.restore());

  it('each rank\'s message leaves before it hears from its partner (the star\'s root would wait for its leaf)', async () => {
    watch = sendWatch();
    const w = watch;
    // Each case: one rank ("early") calls first; the other calls only once the early one has sent, or, failing that, after 5 s.
    const calls: [string, (c: Communicator) => Promise<unknown>][] = [
      ['barrier', (c) => c.barrier()],
      ['allreduce 8 B', (c) => c.allreduce(new Float64Array(1).fill(c.rank + 1), Op.SUM)],
      ['allreduce 1 KiB into', (c) => c.allreduce(new Float64Array(128).fill(c.rank + 1), Op.SUM, { into: new Float64Array(128) })],
      ['allreduce 8 KiB (Wasm engine)', (c) => c.allreduce(new Float64Array(1024).fill(c.rank + 1), Op.SUM)],
      ['allreduce of a number', (c) => c.allreduce(c.rank + 1, Op.SUM)],
    ];
    const cases = calls.flatMap(([name, run]) => [0, 1].map((early) => ({ name, run, early })));
    const gates = cases.map(() => {
      let open!: (first: boolean) => void;
      const p = new Promise<boolean>((r) => (open = r));
      return { p, open };
    });
    const out = await withWorld(2, async (c) => {
      await c.barrier(); // connected: what follows is the steady state
      const first: boolean[] = [];
      const results: unknown[] = [];
      for (const [k, { run, early }] of cases.entries()) {
        if (c.rank === early) w.onNextSend(c.rank, () => gates[k]!.open(true));
        else {
          const timer = setTimeout(() => gates[k]!.open(false), 5000);
          first.push(await gates[k]!.p);
          clearTimeout(timer);
        }
        const r = await run(c);
        results.push(ArrayBuffer.isView(r) ? (r as Float64Array)[0] : r);
      }
      return { first, results };
    });
    const names = cases.map((x) => `${x.name}, rank ${x.early} first`);
    // What the late rank saw, in case order: its partner's message was out before it called.
    const sentFirst = cases.map((x, k) => out[1 - x.early]!.first[cases.slice(0, k + 1).filter((y) => y.early === x.early).length - 1]);
    expect(Object.fromEntries(names.map((n, k) => [n, sentFirst[k]]))).toEqual(Object.fromEntries(names.map((n) => [n, true])));
    for (const r of out) expect(r.results).toEqual(cases.map((x) => (x.name === 'barrier' ? undefined : 3)));
  }, 120_000);

  it('every type and op, with and without into, mixed sizes in a row: both ranks get v0 op v1 bit for bit; on 3 and 4 ranks every rank the order of its algorithm', async () => {
    for (const size of [2, 3, 4]) {
      const out = await withWorld(size, async (c) => {
        const bad: string[] = [];
        // Lengths around the JS/Wasm engine switch and the tree's byte limit, back to back with no barrier between.
        for (const n of [1, 3, 255, 2048, 2049, 9000]) {
          for (const t of ELEM_TYPES) {
            for (const op of OP_NAMES) {
              if (!supports(op, t)) continue;
              const data = contribution(t, n, c.rank);
              const copy = data.slice();
              const want = expected(op, t, n, size);
              const into = new (typedArrayCtor(t))(n) as NumericArray;
              const fresh = (await c.allreduce(data, Op[op], {})) as NumericArray;
              const got = (await c.allreduce(data, Op[op], { into })) as NumericArray;
              const where = `${size} ranks, ${t}[${n}] ${op}`;
              if (got !== into) bad.push(`${where}: not into`);
              if (!Buffer.from(bytes(fresh)).equals(bytes(want))) bad.push(`${where}: result`);
              if (!Buffer.from(bytes(into)).equals(bytes(want))) bad.push(`${where}: into`);
              if (!Buffer.from(bytes(data)).equals(bytes(copy))) bad.push(`${where}: data changed`);
            }
          }
        }
        return bad;
      });
      for (const [rank, bad] of out.entries()) expect(bad, `rank ${rank}`).toEqual([]);
    }
  }, 120_000);

  it('a non-commutative op: lower op higher on both ranks, for values, TypedArrays and structured values', async () => {
    type M = [number, number, number, number];
    const matmul = Op.create((a: M, b: M): M => [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]]);
    const concat = Op.create((a: string, b: string) => a + b);
    // Changes its left operand in place (allowed: "a" is the op's to change): rank 0's own data must not be it.
    const leftMinusRight = Op.create((a: Float64Array, b: Float64Array) => {
      for (let i = 0; i < a.length; i++) a[i] = a[i]! * 2 - b[i]!;
      return a;
    });
    const out = await withWorld(2, async (c) => {
      const mine = Float64Array.from(range(600), (i) => i + 10 * c.rank);
      const copy = mine.slice();
      const m = await c.allreduce<M>([1, c.rank + 2, c.rank, 3], matmul);
      const s = await c.allreduce(`<${c.rank}>`, concat);
      const a = await c.allreduce(mine, leftMinusRight);
      const into = new Float64Array(600);
      await c.allreduce(mine, leftMinusRight, { into });
      return { m, s, a: Array.from(a as Float64Array), into: Array.from(into), untouched: mine.every((v, i) => v === copy[i]) };
    });
    const diff = range(600).map((i) => 2 * i - (i + 10));
    for (const r of out) expect(r).toEqual({ m: matmul.fn!([1, 2, 0, 3], [1, 3, 1, 3]), s: '<0><1>', a: diff, into: diff, untouched: true });
  });
});

describe('allreduce and barrier on 2 ranks - mismatched calls', () => {
  it.each([
    ['barrier at one rank, allreduce at the other', (c: Communicator) => (c.rank === 0 ? c.barrier() : c.allreduce(1, Op.SUM))],
    ['SUM at one rank, MAX at the other', (c: Communicator) => c.allreduce(c.rank + 1, c.rank === 0 ? Op.SUM : Op.MAX)],
    ['Float64Array(4) and Float64Array(8)', (c: Communicator) => c.allreduce(new Float64Array(c.rank === 1 ? 8 : 4).fill(1), Op.SUM)],
    ['Wasm-sized arrays of different lengths', (c: Communicator) => c.allreduce(new Float64Array(c.rank === 0 ? 2048 : 1024).fill(1), Op.SUM)],
  ])('%s: both ranks fail with FMI_MISMATCH in the call, and the next calls agree', async (_, call) => {
    const out = await withWorld(2, async (c) => {
      const first = await call(c).then(() => 'ok', (err: { code?: string }) => err.code);
      await c.barrier();
      return [first, await c.allreduce(c.rank + 1, Op.SUM)];
    }, { timeoutMs: 10_000 });
    expect(out).toEqual([['FMI_MISMATCH', 3], ['FMI_MISMATCH', 3]]);
  });
});

describe('allreduce and barrier on 2 ranks - a peer that dies', () => {
  it('kill -9 of one rank amid small allreduces and barriers: the other fails with FMI_PEER_LOST, fmi run exits non-zero', async () => {
    const run = await fmiRun({ size: 2, env: { FMI_FAULT: 'small-kill', FMI_FAULT_VICTIM: '1' }, limitMs: 30_000 });
    expect(run.codes[0]).not.toBe(0);
    expect(run.stderr).toContain('rank 1 was killed by SIGKILL');
    // No operation timeout is set: only the loss itself can end the other's wait.
    expectFailedTyped(run, ['FMI_PEER_LOST'], SLACK_MS, [1]);
  }, 60_000);
});
