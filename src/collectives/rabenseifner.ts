import { bytesOf, kindOfTyped } from '../codec.js';
import { FmiError } from '../errors.js';
import { kernels, typedArrayCtor, type ElemType, type NumericArray, type PredefinedOpName, type WasmBlock } from '../kernels/index.js';
import { raiseIfError, sendError, type CollContext } from './context.js';
import { equalBlocks } from './ring.js';
import { unfilled } from '../util/fresh.js';

/**
 * Rabenseifner's allreduce, for commutative predefined ops: a reduce-scatter
 * by recursive halving, then an allgather by recursive doubling. With p a
 * power of two, each rank sends and receives 2 (p - 1) / p of the buffer (as
 * the ring does) in 2 log2(p) messages (the ring needs 2 (p - 1)), and reduces
 * (p - 1) / p of it (recursive doubling reduces log2(p) whole buffers).
 *
 * Halving: the buffer is cut into p blocks; in the step at distance d
 * (p/2, p/4, ..., 1) a rank keeps the half of its current range on its side
 * of bit d of its rank, sends the other half to its partner (rank ^ d) and
 * folds the partner's copy of its half into its own, in Wasm memory. After
 * log2(p) steps rank r holds block r, complete. Doubling retraces the steps
 * (d = 1, 2, ..., p/2): partners swap what they hold, straight into the
 * result (`into`, or a new array made at the start of the call): the
 * finished blocks are never copied again.
 *
 * Other sizes: the first 2 * rem ranks (rem = size - p) pair up first, the
 * even one hands its whole buffer to the odd one and gets the result back
 * from it at the end (as recursive doubling does).
 *
 * Every element of the result is computed at one rank and copied to the
 * others, so all ranks get the same bits.
 */
export async function allreduceRabenseifner(c: CollContext, op: PredefinedOpName, type: ElemType, data: NumericArray, into?: NumericArray): Promise<NumericArray> {
  const { rank, size } = c;
  const bpe = typedArrayCtor(type).BYTES_PER_ELEMENT;
  const kind = kindOfTyped(type);
  const total = data.byteLength;
  let pof2 = 1;
  while (pof2 * 2 <= size) pof2 *= 2;
  const rem = size - pof2;
  const newRank = rank < 2 * rem ? (rank % 2 === 0 ? -1 : rank >> 1) : rank - rem;
  const toOld = (r: number) => (r < rem ? r * 2 + 1 : r + rem);
  const mine = new Uint8Array(data.buffer, data.byteOffset, total);

  // Messages this rank still owes, by peer: whoever still waits for one gets the error instead.
  const owed = new Map<number, number>();
  const owe = (peer: number) => owed.set(peer, (owed.get(peer) ?? 0) + 1);
  if (newRank < 0) owe(rank + 1);
  else {
    if (rank < 2 * rem) owe(rank - 1);
    for (let d = 1; d < pof2; d <<= 1) (owe(toOld(newRank ^ d)), owe(toOld(newRank ^ d)));
  }
  const send = (peer: number, bytes: Uint8Array) => {
    owed.set(peer, owed.get(peer)! - 1);
    return c.send(peer, { kind, bytes });
  };
  const recv = async (peer: number, dst: Uint8Array) => {
    const r = await c.recv(peer, dst, dst.byteLength);
    raiseIfError(c, r);
    if (r.kind !== kind || r.data.byteLength !== dst.byteLength) {
      throw new FmiError('MPI_ERR_SIZE', `rank ${peer} sent ${r.data.byteLength} bytes of kind ${r.kind}, this rank expected ${dst.byteLength} of kind ${kind}`, c.fields(peer));
    }
  };

  const arena = kernels();
  let acc: WasmBlock | undefined;
  let tmp: WasmBlock | undefined;
  // Without `into` the result is a new array, made now rather than copied out
  // of Wasm memory at the end: the allgather lands in it straight from the
  // socket, and a rank paid a third of the page faults per call (see
  // bench/README.md, "Allreduce algorithms").
  // Every element is written (the allgather covers all blocks); not zero-filled first.
  const res = into ?? unfilled(typedArrayCtor(type), data.length);
  const out = bytesOf(res);
  const result = () => res;
  /** The last receive posted: after a failure it may still write into Wasm memory, so blocks are freed once it settles. */
  let inflight: Promise<unknown> | undefined;
  let failed = false;
  const track = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => {}); // awaited by the caller; a failed send must not leave it unhandled
    inflight = p;
    return p;
  };
  try {
    if (newRank < 0) {
      // Hands its buffer to rank + 1 and gets the result back from it.
      await send(rank + 1, mine);
      await track(recv(rank + 1, out));
      return result();
    }
    const blocks = equalBlocks(total / bpe, pof2);
    const at = (lo: number, hi: number) => ({ from: blocks[lo]!.offset * bpe, to: (blocks[hi - 1]!.offset + blocks[hi - 1]!.count) * bpe });
    acc = arena.alloc(Math.max(16, total));
    // The largest receive: a whole buffer from the even partner, else half of one.
    tmp = arena.alloc(Math.max(16, rank < 2 * rem ? total : at(0, pof2 / 2).to));
    // This rank's data joins acc half by half: the first halving step sends
    // its half straight from `mine` and copies only the half it keeps, while
    // the partner's half is on its way.
    let inAcc = false;
    const fill = () => {
      if (!inAcc) arena.bytes(acc!, total).set(mine);
      inAcc = true;
    };
    const accBytes = (lo: number, hi: number) => {
      const r = at(lo, hi);
      return arena.bytes(acc!, total).subarray(r.from, r.to);
    };
    const fold = (lo: number, hi: number, got: number) => {
      const r = at(lo, hi);
      arena.apply(op, type, { ptr: acc!.ptr + r.from, byteLength: r.to - r.from }, { ptr: tmp!.ptr, byteLength: got }, (r.to - r.from) / bpe);
    };
    if (rank < 2 * rem) {
      // rank - 1's buffer joins this one (the lower rank's data on the left; predefined ops commute anyway).
      const incoming = track(recv(rank - 1, arena.bytes(tmp, total)));
      fill();
      await incoming;
      fold(0, pof2, total);
    }

    let lo = 0;
    let hi = pof2;
    for (let d = pof2 >> 1; d >= 1; d >>= 1) {
      const partner = toOld(newRank ^ d);
      const mid = lo + d;
      const lower = (newRank & d) === 0;
      const [keepLo, keepHi] = lower ? [lo, mid] : [mid, hi];
      const [giveLo, giveHi] = lower ? [mid, hi] : [lo, mid];
      const keep = at(keepLo, keepHi);
      const incoming = track(recv(partner, arena.bytes(tmp, keep.to - keep.from)));
      if (inAcc) await send(partner, accBytes(giveLo, giveHi));
      else {
        const give = at(giveLo, giveHi);
        await send(partner, mine.subarray(give.from, give.to));
        accBytes(keepLo, keepHi).set(mine.subarray(keep.from, keep.to));
        inAcc = true;
      }
      await incoming;
      fold(keepLo, keepHi, keep.to - keep.from);
      lo = keepLo;
      hi = keepHi;
    }

    // Block newRank is complete here; the doubling steps gather the others
    // straight into `out`. The first one sends it from acc and copies it to
    // `out` while the partner's block is on its way.
    fill(); // a single rank's halving loop never ran
    const own = at(lo, hi);
    for (let d = 1; d < pof2; d <<= 1) {
      const partner = toOld(newRank ^ d);
      const width = hi - lo;
      const [theirLo, theirHi] = (newRank & d) === 0 ? [hi, hi + width] : [lo - width, lo];
      const mineNow = at(lo, hi);
      const theirs = at(theirLo, theirHi);
      const incoming = track(recv(partner, out.subarray(theirs.from, theirs.to)));
      if (d === 1) {
        await send(partner, accBytes(lo, hi));
        out.set(accBytes(lo, hi), own.from);
      } else await send(partner, out.subarray(mineNow.from, mineNow.to));
      await incoming;
      lo = Math.min(lo, theirLo);
      hi = Math.max(hi, theirHi);
    }
    if (pof2 === 1) out.set(accBytes(lo, hi), own.from);
    if (rank < 2 * rem) await send(rank - 1, out);
    return result();
  } catch (err) {
    failed = true;
    await sendError(c, [...owed].filter(([, n]) => n > 0).map(([peer]) => peer), err);
    throw err;
  } finally {
    const free = () => {
      if (acc) arena.free(acc);
      if (tmp) arena.free(tmp);
    };
    if (failed && inflight) inflight.then(free, free);
    else free();
  }
}
