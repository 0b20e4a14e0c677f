import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import type { TestProject } from 'vitest/node';

// The SDK warns once per process that its 2027 releases will need Node 22: noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** An S3 server tests can use: where it is, how to sign in, a bucket that exists. */
export interface S3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

export interface Rgw extends S3Server {
  /** How long the cluster took to start, in ms. */
  startMs: number;
  stop(): Promise<void>;
  /** The same, blocking: for process 'exit' handlers. */
  stopSync(): void;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's S3 server, or why there is none. */
    rgw: S3Server | { error: string };
  }
}

const root = new URL('../..', import.meta.url).pathname;
export const TEST_BUCKET = 'fmi-test';

function run(script: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(join(root, 'scripts', script), args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(new Error(`scripts/${script} failed (${err.code ?? err.signal}):\n${stderr.trim()}`), { cause: err }));
      else resolve({ stdout, stderr });
    });
  });
}

export function s3Client(s: S3Server): S3Client {
  return new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * Starts a single-node Ceph RADOS Gateway on loopback (scripts/rgw-start.sh,
 * ~3 s) in a scratch directory and creates the bucket `fmi-test`. Fails
 * loudly, with the script's message, when Ceph is not installed.
 */
export async function startRgw(): Promise<Rgw> {
  const dir = await mkdtemp(join(tmpdir(), 'fmi-rgw-'));
  const accessKeyId = 'fmi-test';
  const secretAccessKey = 'fmi-test-secret';
  const t0 = performance.now();
  const stop = async () => {
    await run('rgw-stop.sh', [dir], 60_000);
  };
  let out;
  try {
    out = await run('rgw-start.sh', [dir], 120_000);
  } catch (err) {
    await stop().catch(() => {});
    // The directory is ours (mkdtemp above), whatever the script got to do in it.
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const port = Number(out.stdout.trim().split('\n').pop());
  const server: S3Server = { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId, secretAccessKey, bucket: TEST_BUCKET };
  const client = s3Client(server);
  try {
    await client.send(new CreateBucketCommand({ Bucket: TEST_BUCKET }));
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  } finally {
    client.destroy();
  }
  const stopSync = () => {
    execFileSync(join(root, 'scripts', 'rgw-stop.sh'), [dir], { stdio: 'ignore', timeout: 60_000 });
  };
  return { ...server, startMs: performance.now() - t0, stop, stopSync };
}

/**
 * The S3 server of this test run (from the globalSetup below). Throws, so the
 * test file fails rather than skips, when there is none.
 */
export function s3Server(): S3Server {
  const s = inject('rgw');
  if (s === undefined) throw new Error('no S3 server for tests: test/helpers/rgw.ts must be in globalSetup of vitest.config.ts');
  if ('error' in s) throw new Error(`no S3 server for tests: ${s.error}`);
  return s;
}

/**
 * vitest globalSetup: one RGW for the whole run, shared by every test file
 * (s3Server(), or inject('rgw')). With FMI_TEST_S3_ENDPOINT set, tests use that
 * server instead (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
 * bucket FMI_TEST_S3_BUCKET, which must exist). When RGW cannot start, the
 * other tests still run and the S3 tests fail with the reason.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const env = process.env;
  if (env.FMI_TEST_S3_ENDPOINT) {
    project.provide('rgw', {
      endpoint: env.FMI_TEST_S3_ENDPOINT,
      region: env.AWS_REGION ?? 'us-east-1',
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '',
      bucket: env.FMI_TEST_S3_BUCKET ?? TEST_BUCKET,
    });
    return undefined;
  }
  let rgw: Rgw;
  try {
    rgw = await startRgw();
  } catch (err) {
    const message = (err as Error).message;
    console.error(`\n*** S3 tests will fail: RGW did not start ***\n${message}\n`);
    project.provide('rgw', { error: message });
    return undefined;
  }
  console.error(`RGW for S3 tests at ${rgw.endpoint} (started in ${(rgw.startMs / 1000).toFixed(1)} s)`);
  const { stop, stopSync, startMs: _startMs, ...server } = rgw;
  project.provide('rgw', server);
  // A run cut short (Ctrl-C) may skip the teardown: the daemons must not outlive it.
  process.once('exit', stopSync);
  return async () => {
    process.off('exit', stopSync);
    await stop();
  };
}
