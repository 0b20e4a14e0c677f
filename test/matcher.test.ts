import { describe, expect, it } from 'vitest';
import { ANY_SOURCE, ANY_TAG } from '../src/channels/channel.js';
import { Matcher } from '../src/channels/matcher.js';
import { PeerLostError } from '../src/errors.js';

const bytes = (...xs: number[]) => Uint8Array.from(xs);

describe('matcher - MPI matching rules', () => {
  it('an arriving message matches the earliest posted receive that fits', async () => {
    const m = new Matcher(0, 'test');
    const wild = m.post({ source: ANY_SOURCE, ctx: 0, tag: 5 });
    const exact = m.post({ source: 2, ctx: 0, tag: 5 });
    m.deliver(2, 0, 5, 1, bytes(1));
    m.deliver(2, 0, 5, 1, bytes(2));
    expect((await wild).data).toEqual(bytes(1));
    expect((await exact).data).toEqual(bytes(2));
  });

  it('a wildcard receive takes the earliest unexpected message of its context', async () => {
    const m = new Matcher(0, 'test');
    m.deliver(3, 1, 9, 1, bytes(0)); // another context
    m.deliver(2, 0, 7, 1, bytes(1));
    m.deliver(1, 0, 8, 1, bytes(2));
    const a = await m.post({ source: ANY_SOURCE, ctx: 0, tag: ANY_TAG });
    expect([a.source, a.tag]).toEqual([2, 7]);
    const b = await m.post({ source: 1, ctx: 0, tag: ANY_TAG });
    expect(b.data).toEqual(bytes(2));
  });

  it('streams a payload into the posted buffer, and truncates with MPI_ERR_TRUNCATE', async () => {
    const m = new Matcher(0, 'test');
    const into = new Uint8Array(4);
    const p = m.post({ source: 1, ctx: 0, tag: 0, into });
    const a = m.arrive(1, 0, 0, 1, 3);
    a.target().set(bytes(9, 8), 0);
    a.target().set(bytes(7), 2);
    a.complete();
    const r = await p;
    expect(r.data).toEqual(bytes(9, 8, 7));
    expect(r.data.buffer).toBe(into.buffer);
    const q = m.post({ source: 1, ctx: 0, tag: 0, into: new Uint8Array(1) });
    m.deliver(1, 0, 0, 1, bytes(1, 2));
    await expect(q).rejects.toMatchObject({ code: 'MPI_ERR_TRUNCATE' });
  });

  it('a receive that matched a message still arriving waits for all of it', async () => {
    const m = new Matcher(0, 'test');
    const a = m.arrive(1, 0, 0, 1, 2);
    a.target().set(bytes(5), 0);
    let done = false;
    const p = m.post({ source: 1, ctx: 0, tag: 0 }).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    a.target().set(bytes(6), 1);
    a.complete();
    expect((await p).data).toEqual(bytes(5, 6));
  });

  it('a lost source fails receives naming it, not receives from any source', async () => {
    const m = new Matcher(0, 'test');
    const named = m.post({ source: 1, ctx: 0, tag: 0 });
    const namedAnyTag = m.post({ source: 1, ctx: 0, tag: ANY_TAG });
    const any = m.post({ source: ANY_SOURCE, ctx: 0, tag: 0 });
    m.failSource(1, new PeerLostError('gone', { peer: 1 }));
    await expect(named).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
    await expect(namedAnyTag).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
    m.deliver(2, 0, 0, 1, bytes(3));
    expect((await any).source).toBe(2);
  });

  it('an aborted receive is withdrawn: the message goes to the next one', async () => {
    const m = new Matcher(0, 'test');
    const ac = new AbortController();
    const first = m.post({ source: 1, ctx: 0, tag: 0, signal: ac.signal });
    const second = m.post({ source: 1, ctx: 0, tag: 0 });
    ac.abort(new Error('no'));
    await expect(first).rejects.toThrow('no');
    m.deliver(1, 0, 0, 1, bytes(4));
    expect((await second).data).toEqual(bytes(4));
  });

  it('a receive without `into` whose message cannot be allocated fails at once, and its payload is dropped', async () => {
    const m = new Matcher(0, 'test');
    const p = m.post({ source: 1, ctx: 0, tag: 0, signal: AbortSignal.timeout(60_000) });
    const a = m.arrive(1, 0, 0, 1, 2 ** 50);
    await expect(p).rejects.toMatchObject({ code: 'FMI_CHANNEL', peer: 1 });
    expect(a.sink()).toBeUndefined();
    a.complete();
  });

  it('a payload too large for its receive is dropped without a scratch buffer, then fails with MPI_ERR_TRUNCATE', async () => {
    const m = new Matcher(0, 'test');
    const p = m.post({ source: 1, ctx: 0, tag: 0, into: new Uint8Array(4) });
    const a = m.arrive(1, 0, 0, 1, 2 ** 40);
    expect(a.sink()).toBeUndefined();
    a.complete();
    await expect(p).rejects.toMatchObject({ code: 'MPI_ERR_TRUNCATE' });
  });

  it('early messages copied out to a receive give their buffer back for the next one', async () => {
    const m = new Matcher(0, 'test');
    const seen = new Set<ArrayBufferLike>();
    for (let i = 0; i < 5; i++) {
      const a = m.arrive(1, 0, 0, 1, 100_000 + i);
      seen.add(a.target().buffer);
      a.target().fill(i);
      a.complete();
      const into = new Uint8Array(200_000);
      const r = await m.post({ source: 1, ctx: 0, tag: 0, into });
      expect(r.data.byteLength).toBe(100_000 + i);
      expect(r.data.every((x) => x === i)).toBe(true);
    }
    expect(seen.size).toBe(1);
  });

  it('only a receive that cannot be cancelled, into memory that stays put, lets the transport write straight into it', () => {
    const m = new Matcher(0, 'test');
    const into = new Uint8Array(10);
    void m.post({ source: 1, ctx: 0, tag: 0, into });
    expect(m.arrive(1, 0, 0, 1, 10).stable?.buffer).toBe(into.buffer);
    void m.post({ source: 1, ctx: 0, tag: 0, into, signal: new AbortController().signal }).catch(() => {});
    expect(m.arrive(1, 0, 0, 1, 10).stable).toBeUndefined();
    void m.post({ source: 1, ctx: 0, tag: 0, into: () => into, capacity: 10 });
    expect(m.arrive(1, 0, 0, 1, 10).stable).toBeUndefined();
  });
  it('cancel fails the receives of one context and source that no message matched, and no other', async () => {
    const m = new Matcher(0, 'test');
    const err = new Error('failed elsewhere');
    const wild = m.post({ source: 2, ctx: 1, tag: ANY_TAG });
    const exact = m.post({ source: 2, ctx: 1, tag: 4 });
    const otherSource = m.post({ source: 3, ctx: 1, tag: ANY_TAG });
    const otherCtx = m.post({ source: 2, ctx: 5, tag: ANY_TAG });
    m.cancel(1, 2, err);
    await expect(wild).rejects.toBe(err);
    await expect(exact).rejects.toBe(err);
    m.deliver(3, 1, 7, 1, bytes(3));
    m.deliver(2, 5, 7, 1, bytes(5));
    expect((await otherSource).data).toEqual(bytes(3));
    expect((await otherCtx).data).toEqual(bytes(5));
    // A later receive is not affected, and takes the next message.
    m.deliver(2, 1, 4, 1, bytes(9));
    expect((await m.post({ source: 2, ctx: 1, tag: 4 })).data).toEqual(bytes(9));
  });

  it('asks `unmatched` with the receive\'s source, and only when no message waits', async () => {
    const m = new Matcher(0, 'test');
    const asked: number[] = [];
    const gone = new Error('rank 4 is gone');
    const unmatched = (source: number) => (asked.push(source), source === 4 ? gone : undefined);
    m.deliver(3, 0, 1, 1, bytes(7));
    expect((await m.post({ source: 3, ctx: 0, tag: 1 }, unmatched)).data).toEqual(bytes(7));
    expect(asked).toEqual([]);
    await expect(m.post({ source: 4, ctx: 0, tag: 1 }, unmatched)).rejects.toBe(gone);
    const waiting = m.post({ source: 2, ctx: 0, tag: 1 }, unmatched);
    expect(asked).toEqual([4, 2]);
    m.deliver(2, 0, 1, 1, bytes(8));
    expect((await waiting).data).toEqual(bytes(8));
  });

  it('a receive that settles itself (postOwn) is settled synchronously, in posting order with promised receives', async () => {
    const m = new Matcher(0, 'test');
    const got: number[] = [];
    const failed: Error[] = [];
    const own = (source: number) => ({
      req: { source, ctx: 0, tag: ANY_TAG },
      seq: 0,
      onAbort: undefined,
      resolve: (r: { data: Uint8Array }) => void got.push(r.data[0]!),
      reject: (e: Error) => void failed.push(e),
    });
    m.postOwn(own(ANY_SOURCE));
    const later = m.post({ source: 2, ctx: 0, tag: 3 });
    m.deliver(2, 0, 3, 1, bytes(7));
    expect(got).toEqual([7]);
    m.deliver(2, 0, 3, 1, bytes(8));
    expect((await later).data).toEqual(bytes(8));
    // A message waiting already: settled within postOwn.
    m.deliver(4, 0, 9, 1, bytes(5));
    m.postOwn(own(4));
    expect(got).toEqual([7, 5]);
    // Withdrawn: rejected at once.
    const err = new Error('call failed elsewhere');
    m.postOwn(own(6));
    m.cancel(0, 6, err);
    expect(failed).toEqual([err]);
  });

  it('an empty message completes its receive at once: a view of `into`, an array of its own, or the one shared empty array a receive may ask for', async () => {
    const m = new Matcher(0, 'test');
    const into = new Uint8Array(4);
    const a = m.post({ source: 1, ctx: 0, tag: 1 });
    const b = m.post({ source: 1, ctx: 0, tag: 1 });
    const c = m.post({ source: 1, ctx: 0, tag: 1, into });
    const d = m.post({ source: 1, ctx: 0, tag: 1, sharedEmpty: true });
    const e = m.post({ source: 1, ctx: 0, tag: 1, sharedEmpty: true });
    for (let i = 0; i < 5; i++) m.arriveEmpty(1, 0, 1, 1);
    const [ra, rb, rc, rd, re] = await Promise.all([a, b, c, d, e]);
    for (const r of [ra, rb, rc, rd, re]) expect([r.source, r.tag, r.kind, r.data.byteLength]).toEqual([1, 1, 1, 0]);
    expect(ra.data).not.toBe(rb.data);
    expect(ra.data.buffer).not.toBe(rb.data.buffer);
    expect(rc.data.buffer).toBe(into.buffer);
    expect(rd.data).toBe(re.data);
    // Before its receive: kept, and taken by the next one.
    m.arriveEmpty(3, 0, 2, 1);
    expect(m.peek({ source: 3, ctx: 0, tag: 2 })).toEqual({ source: 3, tag: 2, kind: 1, length: 0 });
    expect((await m.post({ source: 3, ctx: 0, tag: 2 })).data.byteLength).toBe(0);
  });
});
