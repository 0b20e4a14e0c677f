import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobResult } from '../../src/lambda/index.js';
import { builtProgram } from '../helpers/built-program.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { doubles, fmiCli, JOB, job, root } from './job-setup.js';

const SGD = join(root, 'examples/lambda/handler.mjs');
const HANG = join(root, 'test/lambda/fixtures/hang-handler.mjs');
const PROGRAM = join(root, 'test/lambda/fixtures/program-handler.mjs');
/** Small enough for 2 busy cores; the same steps as the full example. */
const SGD_INPUT = { epochs: 2, samples: 4000, hidden: 32, batch: 256 };

const double = doubles();

const fmi = fmiCli;

const codes = (r: JobResult) => r.ranks.map((o) => (o.status === 'ok' ? 'ok' : o.error?.code));

describe('lambda - jobs in the Invoke API test double', () => {
  it('8 ranks train the SGD example through fmi lambda invoke: every rank ends with the same weights', async () => {
    const d = await double({ functions: { sgd: { module: SGD, timeoutMs: 120_000, memoryMiB: 2048 } } });
    const input = join(tmpdir(), `fmi-lambda-sgd-${process.pid}.json`);
    writeFileSync(input, JSON.stringify(SGD_INPUT));
    const r = await fmi(['lambda', 'invoke', '--function', 'sgd', '-n', '8', '--input', input, '--endpoint', d.endpoint, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as JobResult<{ fingerprint: number[]; epochs?: { testAcc: number }[] }>;
    expect(out.ok).toBe(true);
    expect(out.ranks.map((o) => o.status)).toEqual(Array(8).fill('ok'));
    // Every rank registered, then was paired with a peer (its allreduces), then answered.
    for (const o of out.ranks) expect(o.at.invoked! <= o.at.joined! && o.at.joined! <= o.at.paired! && o.at.paired! <= o.at.done!, JSON.stringify(o.at)).toBe(true);
    const fps = out.ranks.map((o) => o.result!.fingerprint);
    for (const fp of fps) expect(fp).toEqual(fps[0]);
    // Ten classes: chance is 0.1; two epochs learn far more.
    expect(out.ranks[0]!.result!.epochs!.at(-1)!.testAcc).toBeGreaterThan(0.5);
    // Billed time from the log tail's REPORT line, at the function's 2048 MiB.
    for (const o of out.ranks) expect(o.billedMs).toBeGreaterThan(0);
    expect(out.cost.estimatedRanks).toBe(0);
    const billed = out.ranks.reduce((s, o) => s + o.billedMs!, 0);
    expect(out.cost.billedGbSeconds).toBeCloseTo((billed / 1000) * 2, 6);
    expect(out.cost.channelUsd).toBeGreaterThan(0);
    expect(out.cost.totalUsd).toBeCloseTo(out.cost.functionUsd + out.cost.requestUsd + out.cost.channelUsd, 12);
  }, 240_000);

  it('the SGD example over Redis alone', async () => {
    let redis: RedisServer | undefined;
    try {
      redis = await startRedis();
      // Heartbeats every 3 s are missed on this machine under a load of 40; liveness is tested elsewhere.
      const d = await double({ functions: { sgd: { module: SGD, timeoutMs: 120_000, env: { FMI_ALIVE_MS: '30000' } } } });
      const config = JSON.parse(readFileSync(join(root, 'test/fixtures/fmi.json'), 'utf8'));
      config.backends.Redis = { ...config.backends.Redis, enabled: true, port: redis.port };
      config.backends.Direct.enabled = false;
      const r = await job(d, { functionName: 'sgd', ranks: 4, input: SGD_INPUT, config });
      expect(codes(r), JSON.stringify(r.ranks.map((o) => o.error))).toEqual(Array(4).fill('ok'));
      const fps = r.ranks.map((o) => (o.result as { fingerprint: number[] }).fingerprint);
      for (const fp of fps) expect(fp).toEqual(fps[0]);
      expect(Object.keys(r.ranks[0]!.stats!.ops!.allreduce!.channels)).toEqual(['redis']);
    } finally {
      await redis?.stop();
    }
  }, 240_000);

  it('a rank throttled twice (429) is retried and runs once', async () => {
    const d = await double({ functions: { f: { module: JOB, timeoutMs: 60_000 } }, throttleRank: { 3: 2 } });
    const r = await job(d, { functionName: 'f', ranks: 4, retry: { baseDelayMs: 20 } });
    expect(codes(r)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(r.ranks[3]!.attempts).toBe(3);
    expect(r.ranks.map((o) => (o.result as { sum: number }).sum)).toEqual([6, 6, 6, 6]);
    expect(d.calls.filter((c) => c.rank === 3).map((c) => c.status)).toEqual([429, 429, 200]);
  }, 120_000);

  it('--concurrency 2 of 4 ranks: a rank\'s slot frees once it registered, so all four run', async () => {
    const d = await double({ functions: { f: { module: JOB, timeoutMs: 60_000 } } });
    let most = 0;
    const r = await job(d, { functionName: 'f', ranks: 4, concurrency: 2, onProgress: (p) => (most = Math.max(most, p.invoked - p.joined)) });
    expect(codes(r)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(most).toBeLessThanOrEqual(2);
    await expect(job(d, { functionName: 'f', ranks: 4, concurrency: 2, channel: 'redis' })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
  }, 120_000);

  it('a rank that never starts is given up, and the ranks that started fail with FMI_PEER_LOST at once, not at their connect timeout', async () => {
    const d = await double({ functions: { f: { module: JOB, timeoutMs: 600_000 } }, neverStart: [2] });
    // A connect timeout far beyond this test's own: only being told can end these ranks in time.
    const r = await job(d, { functionName: 'f', ranks: 4, retry: { attempts: 3, baseDelayMs: 20 }, connectTimeoutMs: 500_000 });
    expect(r.ok).toBe(false);
    expect(r.ranks[2]).toMatchObject({ status: 'not started', attempts: 3, error: { code: 'TooManyRequestsException' } });
    for (const k of [0, 1, 3]) expect(r.ranks[k]).toMatchObject({ status: 'error', error: { code: 'FMI_PEER_LOST' } });
  }, 60_000);

  it('a rank that runs out of time answers FMI_TIMEOUT before Lambda kills it; the others fail with FMI_PEER_LOST', async () => {
    const d = await double({ functions: { f: { module: JOB, timeoutMs: 600_000 } }, timeoutMsByRank: { 1: 3000 } });
    const r = await job(d, { functionName: 'f', ranks: 4, input: { stallRank: 1, stallMs: 600_000 }, connectTimeoutMs: 500_000 });
    expect(r.ranks[1]).toMatchObject({ status: 'error', error: { code: 'FMI_TIMEOUT' } });
    expect(r.ranks[1]!.error!.message).toContain('before its Lambda timeout');
    for (const k of [0, 2, 3]) expect(r.ranks[k]).toMatchObject({ status: 'error', error: { code: 'FMI_PEER_LOST' } });
  }, 60_000);

  it('a function Lambda kills at its timeout is "crashed" (FunctionError), and the launcher tells the others: FMI_PEER_LOST', async () => {
    const d = await double({ functions: { f: { module: HANG, timeoutMs: 600_000 } }, timeoutMsByRank: { 1: 2000 } });
    const r = await job(d, { functionName: 'f', ranks: 3, input: { hangRank: 1 }, connectTimeoutMs: 500_000 });
    expect(r.ranks[1]).toMatchObject({ status: 'crashed', attempts: 1, error: { code: 'LAMBDA_TIMEOUT', message: expect.stringContaining('Task timed out after 2.00 seconds') } });
    expect(r.ranks[1]!.billedMs).toBeGreaterThanOrEqual(2000);
    for (const k of [0, 2]) expect(r.ranks[k]).toMatchObject({ status: 'error', error: { code: 'FMI_PEER_LOST' } });
  }, 60_000);

  it('an error thrown in the user function is that rank\'s result; the table shows it and fmi lambda invoke exits 1', async () => {
    const d = await double({ functions: { f: { module: JOB, timeoutMs: 600_000 } } });
    const input = join(tmpdir(), `fmi-lambda-throw-${process.pid}.json`);
    writeFileSync(input, JSON.stringify({ throwRank: 2 }));
    // The SDK's own variable, instead of --endpoint.
    // The SDK's warning on Node < 22 left on (the test setup turns it off): printed once at most, never per rank or call.
    const r = await fmi(['lambda', 'invoke', '--function', 'f', '-n', '3', '--input', input], { AWS_ENDPOINT_URL_LAMBDA: d.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' });
    expect(r.code).toBe(1);
    expect(r.stderr.match(/NodeVersionSupportWarning/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(r.stdout).toMatch(/^2\s+error\s+1\s+\d+\s+\d+\s+Error: rank 2 was told to throw$/m);
    expect(r.stdout).toMatch(/^0\s+error\s+.*FMI_PEER_LOST/m);
    expect(r.stdout).toContain('3 ranks, 3 failed');
    expect(r.stdout).toMatch(/^cost: [\d.]+ GB-s billed = \$/m);
    // The handler answered every invocation (an error is a result, not a Lambda failure that would be retried).
    expect(d.calls.map((c) => c.status)).toEqual([200, 200, 200]);
  }, 60_000);
});

describe('lambda - a C program from fmi cc via lambdaProgram', () => {
  let program: string;
  beforeAll(async () => {
    program = await builtProgram('hello');
  }, 600_000);

  it('runs main on every rank; stdout lines and exit status are the results', async () => {
    const d = await double({ functions: { hello: { module: PROGRAM, timeoutMs: 120_000, env: { FMI_TEST_PROGRAM: program } } } });
    const r = await job(d, { functionName: 'hello', ranks: 3, input: { args: ['a', 'b'] } });
    expect(codes(r)).toEqual(['ok', 'ok', 'ok']);
    const res = r.ranks.map((o) => o.result as { exitCode: number; stdout: string[] });
    for (const [k, x] of res.entries()) {
      expect(x.exitCode).toBe(0);
      expect(x.stdout[0]).toBe(`hello from rank ${k} of 3 (MPI 3.1, argc 3)`);
    }
    expect(res[0]!.stdout).toContain('PASS hello 3');
  }, 120_000);
});
