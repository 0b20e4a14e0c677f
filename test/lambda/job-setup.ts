import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import type { FmiConfig } from '../../src/config/types.js';
import { invokeJob, type InvokeJobOptions, type JobResult } from '../../src/lambda/index.js';
import { s3Server } from '../helpers/rgw.js';
// @ts-expect-error: a plain .mjs module (the bench uses it too)
import { startInvokeDouble } from './invoke-double.mjs';

/* What the tests of jobs through the Invoke API test double share. */

export const root = fileURLToPath(new URL('../..', import.meta.url));
/** The test job: a sum over ranks; input can stall a rank (stallRank, stallMs). */
export const JOB = join(root, 'test/lambda/fixtures/job-handler.mjs');
export const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
/** Liveness checks every 5 s: far from a false death under load, far below the functions' 600 s. */
export const ALIVE = { FMI_ALIVE_MS: '10000' };

/** One Invoke call the double answered. */
export interface Call {
  rank?: number;
  status: number;
  lost?: boolean;
  log?: string[];
  answer?: unknown;
}

export interface Double {
  endpoint: string;
  calls: Call[];
  /** Starts the held first call of `rank` (loseFirst: 'hold'). */
  release(rank: number): Promise<Call>;
  close(): Promise<void>;
}

/** Starts Invoke doubles for this test file; they close after its last test. */
export function doubles(): (opts: Record<string, unknown>) => Promise<Double> {
  const made: Double[] = [];
  afterAll(async () => {
    await Promise.all(made.map((d) => d.close()));
  });
  return async (opts) => {
    const d = (await startInvokeDouble(opts)) as Double;
    made.push(d);
    return d;
  };
}

/** Runs a job through the double `d`. */
export function job<R = unknown>(d: Double, o: Partial<InvokeJobOptions> & { functionName: string; ranks: number }): Promise<JobResult<R>> {
  return invokeJob<R>({ endpoint: d.endpoint, region: 'us-east-1', clientConfig: { credentials: CREDENTIALS }, ...o });
}

/** The test config with Direct off and only `store` on (Redis at `redisPort`, S3 the run's RGW). */
export function storeConfig(store: 'redis' | 's3', redisPort: number): FmiConfig {
  const c = JSON.parse(readFileSync(join(root, 'test/fixtures/fmi.json'), 'utf8')) as FmiConfig;
  c.backends.Direct!.enabled = false;
  if (store === 'redis') c.backends.Redis = { ...c.backends.Redis!, enabled: true, port: redisPort };
  else {
    const s = s3Server();
    c.backends.S3 = { ...c.backends.S3!, enabled: true, bucket_name: s.bucket, s3_region: s.region, endpoint: s.endpoint };
  }
  return c;
}

/** The S3 server's credentials, for the functions (their environment) and the launcher (the AWS chain). */
export function s3Env(): Record<string, string> {
  const s = s3Server();
  process.env.AWS_ACCESS_KEY_ID = s.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s.secretAccessKey;
  return { AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey };
}

/** Runs the built CLI (`fmi ARGS`) with test AWS credentials; resolves with its exit code and output. */
export function fmiCli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1', ...extraEnv };
    const p = spawn(process.execPath, [join(root, 'dist/cli/main.js'), ...args], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
