import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatJob } from '../../src/cli/lambda.js';
import { REQUEST_PRICE_USD, type JobResult } from '../../src/lambda/index.js';
import { doubles, fmiCli, JOB, job, root } from './job-setup.js';

/*
 * Several ranks per invocation (issue 13): lambdaHandler(fn, {
 * ranksPerFunction: 2 }) runs two worker-thread ranks per function, sharing
 * memory; the functions reach each other over the direct channel. Through
 * the Invoke API test double, each invocation a process of its own.
 */

const THREADS = join(root, 'test/lambda/fixtures/threads-handler.mjs');

const double = doubles();

const fmi = fmiCli;

type Sum = { rank: number; sum: number; pid: number; threadId: number };

describe('lambda - several ranks per function (worker threads)', () => {
  it('8 ranks as 4 functions x 2 through fmi lambda invoke --ranks-per-function 2: one allreduce result, a table per rank, cost per function', async () => {
    const d = await double({ functions: { f: { module: THREADS, timeoutMs: 120_000, memoryMiB: 2048 } } });
    const r = await fmi(['lambda', 'invoke', '--function', 'f', '-n', '8', '--ranks-per-function', '2', '--endpoint', d.endpoint, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as JobResult<Sum>;
    expect(out.ranks.map((o) => o.status)).toEqual(Array(8).fill('ok'));
    expect(out.ranks.map((o) => o.result!.sum)).toEqual(Array(8).fill(28));
    expect(out.ranks.map((o) => o.function)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    // Four invocations, each a process of its own holding two thread ranks.
    expect(d.calls.map((c) => c.rank).sort()).toEqual([0, 2, 4, 6]);
    for (let f = 0; f < 4; f++) {
      const [a, b] = [out.ranks[2 * f]!.result!, out.ranks[2 * f + 1]!.result!];
      expect(a.pid).toBe(b.pid);
      expect(a.threadId).not.toBe(b.threadId);
      expect(a.threadId).not.toBe(0);
    }
    expect(new Set(out.ranks.map((o) => o.result!.pid)).size).toBe(4);
    // Lambda bills invocations: four requests, four REPORT lines' GB-s.
    expect(out.cost.requestUsd).toBeCloseTo(4 * REQUEST_PRICE_USD, 15);
    const billed = [0, 2, 4, 6].reduce((s, k) => s + out.ranks[k]!.billedMs!, 0);
    expect(out.cost.billedGbSeconds).toBeCloseTo((billed / 1000) * 2, 6);
    expect(out.cost.estimatedRanks).toBe(0);
  }, 180_000);

  it('an error thrown in one thread rank is its own, the others fail with FMI_PEER_LOST; the table names each rank\'s function', async () => {
    const d = await double({ functions: { f: { module: THREADS, timeoutMs: 600_000 } } });
    const r = await job(d, { functionName: 'f', ranks: 8, ranksPerFunction: 2, input: { throwRank: 3 }, connectTimeoutMs: 500_000 });
    expect(r.ok).toBe(false);
    expect(r.ranks[3]).toMatchObject({ status: 'error', error: { code: 'Error', message: 'rank 3 was told to throw' } });
    for (const k of [0, 1, 2, 4, 5, 6, 7]) expect(r.ranks[k], JSON.stringify(r.ranks[k]!.error)).toMatchObject({ status: 'error', error: { code: 'FMI_PEER_LOST' } });
    expect(d.calls.map((c) => c.status)).toEqual([200, 200, 200, 200]);
    const table = formatJob(r);
    expect(table).toContain('8 ranks in 4 functions, 8 failed');
    expect(table).toMatch(/^rank\s+fn\s+status\s+calls/m);
    expect(table).toMatch(/^3\s+1\s+error\s+1\s+\d+\s+\d+\s+Error: rank 3 was told to throw$/m);
  }, 180_000);

  it('process.exit() in a thread rank ends that thread only: FMI_THREAD_EXIT for it, FMI_PEER_LOST for the others, the function answers', async () => {
    const d = await double({ functions: { f: { module: THREADS, timeoutMs: 600_000 } } });
    const r = await job(d, { functionName: 'f', ranks: 4, ranksPerFunction: 2, input: { exitRank: 1 }, connectTimeoutMs: 500_000 });
    expect(r.ranks[1]).toMatchObject({ status: 'error', error: { code: 'FMI_THREAD_EXIT', message: expect.stringContaining('exit code 3') } });
    for (const k of [0, 2, 3]) expect(r.ranks[k], JSON.stringify(r.ranks[k]!.error)).toMatchObject({ status: 'error', error: { code: 'FMI_PEER_LOST' } });
    expect(d.calls.map((c) => c.status)).toEqual([200, 200]);
  }, 180_000);

  it('a rank count that does not split, and a launcher and handler that disagree, are clear errors', async () => {
    const d = await double({ functions: { f: { module: THREADS, timeoutMs: 60_000 }, one: { module: JOB, timeoutMs: 60_000 } } });
    await expect(job(d, { functionName: 'f', ranks: 5, ranksPerFunction: 2 })).rejects.toMatchObject({ code: 'FMI_CONFIG', message: expect.stringContaining('5 ranks do not split into functions of 2') });
    const cli = await fmi(['lambda', 'invoke', '--function', 'f', '-n', '5', '--ranks-per-function', '2', '--endpoint', d.endpoint]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('-n 5 is not a multiple of --ranks-per-function 2');
    expect(d.calls).toHaveLength(0);
    // A two-rank handler invoked one rank per function, and the other way round: every rank says what to pass.
    const a = await job(d, { functionName: 'f', ranks: 2 });
    for (const o of a.ranks) expect(o).toMatchObject({ status: 'error', error: { code: 'FMI_CONFIG', message: expect.stringContaining('--ranks-per-function 2') } });
    const b = await job(d, { functionName: 'one', ranks: 2, ranksPerFunction: 2 });
    for (const o of b.ranks) expect(o).toMatchObject({ status: 'error', error: { code: 'FMI_CONFIG', message: expect.stringContaining('--ranks-per-function 1') } });
  }, 120_000);
});
