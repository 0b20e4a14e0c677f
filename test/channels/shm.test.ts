import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ShmChannel, createRegion, type ShmRegion } from '../../src/channels/shm/index.js';
import { channelCompliance } from './compliance.js';

// The ranks of a compliance world share one region (one per job), as worker threads of one process would.
const regions = new Map<string, ShmRegion>();
function regionOf(job: string, size: number, ringBytes?: number, bulkBytes?: number): ShmRegion {
  let r = regions.get(job);
  if (!r) regions.set(job, (r = createRegion(Array.from({ length: size }, (_, i) => i), ringBytes, bulkBytes)));
  return r;
}

channelCompliance('shm', (o) => ShmChannel.create({ ...o, region: regionOf(o.job, o.size) }));
// A small ring: every message larger than 4 KiB goes through it in chunks.
channelCompliance('shm, 4 KiB rings', (o) => ShmChannel.create({ ...o, region: regionOf(o.job, o.size, 4096) }), { sizes: [3], largeBytes: 1 << 20 });
// No staging areas: large messages stream through the rings, as where the address space cannot be reserved.
channelCompliance('shm, no staging', (o) => ShmChannel.create({ ...o, region: regionOf(o.job, o.size, 4096, 0) }), { sizes: [2], largeBytes: 1 << 20 });
// A 64 KiB staging area: a 1 MiB message streams through it.
channelCompliance('shm, 64 KiB staging', (o) => ShmChannel.create({ ...o, region: regionOf(o.job, o.size, 4096, 64 * 1024) }), { sizes: [3], largeBytes: 1 << 20 });
channelCompliance('shm, spinning', (o) => ShmChannel.create({ ...o, region: regionOf(o.job, o.size), spinUs: 50 }), { sizes: [2] });

async function pair(ringBytes = 4096, bulkBytes?: number): Promise<[ShmChannel, ShmChannel]> {
  const region = createRegion([0, 1], ringBytes, bulkBytes);
  const job = randomUUID();
  return [await ShmChannel.create({ job, rank: 0, size: 2, region }), await ShmChannel.create({ job, rank: 1, size: 2, region })];
}
const env = { ctx: 0, tag: 1, kind: 0 };

describe('shm - close and errors', () => {
  it('a peer that closed: its messages still arrive, then receives from it fail with FMI_PEER_LOST', async () => {
    const [a, b] = await pair();
    await a.send(1, env, new Uint8Array([7]));
    await a.close();
    expect(Array.from((await b.recv({ source: 0, ctx: 0, tag: 1 })).data)).toEqual([7]);
    await expect(b.recv({ source: 0, ctx: 0, tag: 1 })).rejects.toMatchObject({ code: 'FMI_PEER_LOST', peer: 0 });
    await expect(b.send(0, env, new Uint8Array(1))).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
    await b.close();
  });

  // Staging 0: a 64 KiB message waits for room in the ring; 16 KiB: it waits for room in the staging area.
  it.each([0, 16 * 1024])('a receive already waiting fails when its source closes; a send waiting for room fails when its reader closes (staging %i bytes)', async (bulkBytes) => {
    const [a, b] = await pair(4096, bulkBytes);
    const waiting = b.recv({ source: 0, ctx: 0, tag: 5 });
    // Larger than the ring: it waits for b to take it, and b closes instead.
    const big = expect(a.send(1, { ...env, tag: 6 }, new Uint8Array(64 * 1024))).rejects.toMatchObject({ code: 'FMI_CLOSED' });
    await a.close();
    await expect(waiting).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
    await big;
    await b.close();
    const [c, d] = await pair(4096, bulkBytes);
    const stuck = expect(c.send(1, env, new Uint8Array(64 * 1024))).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
    // d takes in the first part of the message (into the matcher), then closes: c's send must end.
    await d.close();
    await stuck;
    await c.close();
  });

  it('after close every operation fails with FMI_CLOSED; a rank not in the region is a clear error', async () => {
    const [a, b] = await pair();
    await a.close();
    await expect(a.send(1, env, new Uint8Array(1))).rejects.toMatchObject({ code: 'FMI_CLOSED' });
    await expect(a.recv({ source: 1, ctx: 0, tag: 1 })).rejects.toMatchObject({ code: 'FMI_CLOSED' });
    await b.close();
    const region = createRegion([0, 1]);
    await expect(ShmChannel.create({ job: 'j', rank: 2, size: 3, region })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
    const c = await ShmChannel.create({ job: 'j', rank: 0, size: 3, region });
    await expect(ShmChannel.create({ job: 'j', rank: 0, size: 3, region })).rejects.toMatchObject({ code: 'FMI_CHANNEL' });
    await expect(c.send(2, env, new Uint8Array(1))).rejects.toMatchObject({ code: 'FMI_CHANNEL', peer: 2 });
    await c.close();
    expect(() => createRegion([0, 1], 3000)).toThrow(/power of two/);
  });

  it('a send that times out half written: the receiver still gets the whole message, the sender may reuse its buffer', async () => {
    const [a, b] = await pair();
    const payload = new Uint8Array(20_000).fill(5);
    const ac = new AbortController();
    const s = a.send(1, env, payload, ac.signal);
    ac.abort(new Error('late'));
    await expect(s).rejects.toThrow('late');
    payload.fill(0);
    const got = await b.recv({ source: 0, ctx: 0, tag: 1 });
    expect(got.data.byteLength).toBe(20_000);
    expect(got.data.every((x) => x === 5)).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });
});
