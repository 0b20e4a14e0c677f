import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Op, RendezvousServer } from '../../src/index.js';
import { lambdaHandler, lambdaProgram, MAX_RESPONSE_BYTES } from '../../src/lambda/index.js';

/* lambdaHandler called as Lambda's runtime calls it, in this process: real ranks over loopback. */

/** Lambda's context: `ms` left from now. */
const context = (ms: number) => {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now() };
};
const saved = process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
afterEach(() => {
  if (saved === undefined) delete process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
  else process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE = saved;
});

describe('lambda - handler', () => {
  it('runs the function as the payload\'s rank and returns its result with the stats; memory from AWS_LAMBDA_FUNCTION_MEMORY_SIZE', async () => {
    process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE = '3008';
    const server = new RendezvousServer();
    const addr = await server.listen();
    try {
      const job = randomUUID();
      const h = lambdaHandler(async (comm, event) => (await comm.allreduce(Float64Array.of((event.input as number) * comm.rank), Op.SUM))[0]);
      const out = await Promise.all([0, 1, 2].map((rank) => h({ fmi: { rank, size: 3, job, rendezvous: `127.0.0.1:${addr.port}` }, input: 10 }, context(60_000))));
      expect(out.map((o) => ({ rank: o.rank, ok: o.ok, result: o.ok ? o.result : undefined }))).toEqual([0, 1, 2].map((rank) => ({ rank, ok: true, result: 30 })));
      for (const o of out) {
        expect(o.stats).toMatchObject({ memoryMiB: 3008 });
        expect(o.stats!.ops!.allreduce!.calls).toBe(1);
      }
    } finally {
      await server.close();
    }
  });

  it('a bad payload, a thrown error and a non-JSON result are results with a code, never a rejection', async () => {
    const h = lambdaHandler(async (_c, event) => {
      if (event.input === 'throw') throw new RangeError('nope');
      return event.input === 'bigint' ? 1n : 'fine';
    });
    const one = (input: unknown) => ({ fmi: { rank: 0, size: 1, job: randomUUID() }, input });
    expect(await h(null, context(10_000))).toMatchObject({ rank: -1, ok: false, error: { code: 'FMI_CONFIG' } });
    expect(await h({ fmi: { rank: 2, size: 2, job: 'j' } }, context(10_000))).toMatchObject({ rank: 2, ok: false, error: { code: 'FMI_CONFIG', message: expect.stringContaining('fmi.rank 2 is not below fmi.size 2') } });
    expect(await h({ fmi: { rank: 0, size: 1, job: 'j', extra: 1 } }, context(10_000))).toMatchObject({ ok: false, error: { message: expect.stringContaining('fmi.extra is not a payload field') } });
    expect(await h(one('throw'), context(10_000))).toMatchObject({ rank: 0, ok: false, error: { code: 'RangeError', message: 'nope' } });
    expect(await h(one('bigint'), context(10_000))).toMatchObject({ ok: false, error: { code: 'FMI_RESULT_NOT_JSON' } });
    expect(await h(one('ok'), context(10_000))).toMatchObject({ ok: true, result: 'fine' });
  });

  it('a bad ranksPerFunction is refused when the handler is made, by lambdaHandler and lambdaProgram', () => {
    for (const k of [0, 1.5, 65]) expect(() => lambdaHandler(() => 1, { ranksPerFunction: k })).toThrow(expect.objectContaining({ code: 'FMI_CONFIG' }));
    for (const k of [0, 1.5, 65]) expect(() => lambdaProgram('prog.js', { ranksPerFunction: k })).toThrow(expect.objectContaining({ code: 'FMI_CONFIG' }));
    expect(typeof lambdaProgram('prog.js', { ranksPerFunction: 4 })).toBe('function');
  });

  it('a response over 6 MiB is an error that says to gather to rank 0 or write to S3', async () => {
    const h = lambdaHandler(() => 'x'.repeat(MAX_RESPONSE_BYTES));
    const out = await h({ fmi: { rank: 0, size: 1, job: randomUUID() } }, context(10_000));
    expect(out).toMatchObject({ ok: false, error: { code: 'FMI_RESULT_TOO_LARGE' } });
    expect(!out.ok && out.error.message).toMatch(/6\.0 MiB limit.*gather .* to rank 0.*S3/);
  });

  it('the deadline is the remaining time less the margin: FMI_TIMEOUT, the communicator closed, the peer told', async () => {
    const server = new RendezvousServer();
    const addr = await server.listen();
    try {
      const job = randomUUID();
      const fmi = (rank: number) => ({ rank, size: 2, job, rendezvous: `127.0.0.1:${addr.port}`, timeoutMarginMs: 500 });
      // Rank 1 stalls past its deadline; rank 0 (a long deadline) waits for it in a receive.
      const h = lambdaHandler(async (comm) => (comm.rank === 1 ? new Promise(() => {}) : comm.recv(1)));
      const [r0, r1] = await Promise.all([h({ fmi: fmi(0) }, context(600_000)), h({ fmi: fmi(1) }, context(1500))]);
      expect(r1).toMatchObject({ rank: 1, ok: false, error: { code: 'FMI_TIMEOUT' } });
      expect(r0).toMatchObject({ rank: 0, ok: false, error: { code: 'FMI_PEER_LOST' } });
    } finally {
      await server.close();
    }
  });
});
