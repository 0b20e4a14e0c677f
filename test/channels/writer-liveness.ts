import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StoreChannel } from '../../src/channels/channel.js';
import type { RankProcess } from '../helpers/rank-process.js';

export interface WriterLivenessSetup {
  channel: 'redis' | 's3';
  aliveMs: number;
  /** Opens rank `rank` of `job` in this process. */
  open(job: string, rank: number, size: number): Promise<StoreChannel>;
  /** Rank `rank` of `job` in a process of its own, running `then` (with `ch`, its channel) once it is open. */
  remoteRank(job: string, rank: number, size: number, then: string): RankProcess;
  /** A get must fail within this long of its writer's SIGKILL. */
  detectMs: number;
  /** After this long a killed rank is known dead. */
  deadMs: number;
}

/** A get that names its writer: a writer gone without the value fails it with FMI_PEER_LOST; a value written is always read. */
export function writerLivenessTests(o: WriterLivenessSetup): void {
  describe(`${o.channel} - liveness of a get's writer`, () => {
    it('a writer killed before its put fails the get naming it with FMI_PEER_LOST', async () => {
      const job = randomUUID();
      const r0 = await o.open(job, 0, 2);
      try {
        const r1 = o.remoteRank(job, 1, 2, `process.stdout.write('up\\n');`);
        await r1.said('up');
        const get = r0.get('v', undefined, 1);
        get.catch(() => {});
        await r1.kill();
        const t0 = Date.now();
        await expect(get).rejects.toMatchObject({ code: 'FMI_PEER_LOST', peer: 1, channel: o.channel, message: expect.stringMatching(/rank 1 died.* before writing v/) });
        const ms = Date.now() - t0;
        expect(ms).toBeLessThan(o.detectMs);
        process.stdout.write(`${o.channel} liveness: get failed ${ms} ms after its writer's SIGKILL (aliveMs ${o.aliveMs})\n`);
      } finally {
        await r0.close();
      }
    });

    it('a writer that put and then died: gets posted before and after its death still return the value', async () => {
      const job = randomUUID();
      const r0 = await o.open(job, 0, 2);
      try {
        const r1 = o.remoteRank(job, 1, 2, `
          process.stdout.write('up\\n');
          await new Promise((r) => setTimeout(r, 300));
          await ch.put('v', 11, new Uint8Array([5]), 2);
          process.stdout.write('put\\n');
        `);
        await r1.said('up');
        const early = r0.get('v', undefined, 1);
        await r1.said('put');
        await r1.kill();
        expect(Array.from((await early).data)).toEqual([5]);
        // The writer is known dead when the next get waits.
        await new Promise((r) => setTimeout(r, o.deadMs));
        const late = await r0.get('v', AbortSignal.timeout(o.detectMs), 1);
        expect(late.kind).toBe(11);
        expect(Array.from(late.data)).toEqual([5]);
      } finally {
        await r0.close();
      }
    });

    it('a writer that closed without writing fails the get, saying it closed', async () => {
      const job = randomUUID();
      const [r0, r1] = await Promise.all([o.open(job, 0, 2), o.open(job, 1, 2)]);
      try {
        const get = r0.get('v', undefined, 1);
        get.catch(() => {});
        await r1.close();
        await expect(get).rejects.toMatchObject({ code: 'FMI_PEER_LOST', peer: 1, message: expect.stringContaining('rank 1 closed its channel before writing v') });
      } finally {
        await r0.close();
      }
    });
  });
}
