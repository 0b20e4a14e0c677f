import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/index.js';
import { s3Client, s3Server } from '../helpers/rgw.js';
import { alive, CLI, expectFailedTyped, fmiRun, rankProcesses, SLACK_MS, type RankReport } from './job.js';
import { Relay } from './relay.js';

/**
 * Faults of a job on the S3 channel, under `fmi run` against the run's real
 * S3 server (Ceph RGW): a rank killed (kill -9) mid-gather, and the S3 server
 * gone mid-job (behind a relay the test cuts). The other ranks fail with a
 * typed error within a bound, `fmi run` exits non-zero, and the job leaves no
 * object in the bucket.
 */

// RGW's timestamps have whole seconds: 1 s is the shortest heartbeat period worth testing.
const ALIVE_MS = 1000;
// Dead after 3 periods of silence, + 1 s of timestamp grain, + up to a period until the next check.
const DETECT_MS = 5 * ALIVE_MS + 1000;

const s3 = s3Server();
const raw = s3Client(s3);
const dir = mkdtempSync(join(tmpdir(), 'fmi-faults-s3-'));
afterAll(() => {
  raw.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const awsEnv = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };

/** A config file that enables S3 at `endpoint`, for `fmi run --config`. */
function configFile(endpoint: string): string {
  const file = join(dir, `${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify({ ...DEFAULT_CONFIG, backends: { S3: { enabled: true, bucket_name: s3.bucket, endpoint } } }));
  return file;
}

async function objectsOf(job: string): Promise<string[]> {
  const out = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `fmi/${job}/` }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

const jobOf = (ranks: RankReport[]) => ranks.find((r) => r?.job)!.job!;

describe('faults - S3 channel', () => {
  it('kill -9 of a rank mid-gather: the others fail with FMI_PEER_LOST, and fmi clean removes what is left', async () => {
    // Rank processes of their own: under fmi run, the launcher would stop the others before they notice.
    const job = randomUUID();
    const run = await rankProcesses({
      size: 3,
      env: { ...awsEnv, FMI_ALIVE_MS: String(ALIVE_MS), FMI_FAULT: 'gather-kill', FMI_FAULT_VICTIM: '1', FMI_JOB: job, FMI_CONFIG: configFile(s3.endpoint), FMI_CHANNEL: 's3' },
      limitMs: 40_000,
    });
    // The victim is killed, unless on a starved machine a heartbeat came late and it failed (typed) first.
    expect([run.codes[0], run.codes[2]]).toEqual([3, 3]);
    expect([null, 3]).toContain(run.codes[1]);
    expectFailedTyped(run, ['FMI_PEER_LOST'], DETECT_MS + SLACK_MS, [1]);
    // Left: the heartbeat objects (a closed rank says so in its own), the dead
    // rank's inbox, and a message one survivor wrote to the other after that one
    // had closed (the two fail at about the same time): fmi clean finds all of it.
    const config = configFile(s3.endpoint);
    await promisify(execFile)(process.execPath, [CLI, 'clean', '--job', job, '--config', config], { env: { ...process.env, ...awsEnv } });
    expect(await objectsOf(job)).toEqual([]);
  });

  it('kill -9 of a rank mid-gather under fmi run: it exits non-zero and removes every object of the job', async () => {
    const run = await fmiRun({
      size: 3,
      args: ['--config', configFile(s3.endpoint), '--channel', 's3'],
      // The launcher's own part: the others die of its SIGTERM (their errors are the test above).
      env: { ...awsEnv, FMI_FAULT: 'gather-kill', FMI_FAULT_VICTIM: '1', FMI_FAULT_TERM: 'die' },
      // A bound on a hang, not a speed check: at load 45 this job took over 40 s.
      limitMs: 80_000,
    });
    expect(run.codes[0]).not.toBe(0);
    expect(run.codes[0]).not.toBeNull();
    expect(run.stderr).toMatch(/fmi run: after the failed job, s3: deleted [1-9]\d* objects/);
    for (const r of run.ranks) expect(alive(r.pid!), `rank ${r.rank}`).toBe(false);
    expect(await objectsOf(jobOf(run.ranks))).toEqual([]);
  }, 100_000);

  it('the S3 server gone mid-job: every rank fails with FMI_CHANNEL, fmi run exits non-zero; fmi clean removes the rest once it is back', async () => {
    const url = new URL(s3.endpoint);
    const relay = new Relay({ host: url.hostname, port: Number(url.port) });
    const port = await relay.up();
    const config = configFile(`http://127.0.0.1:${port}`);
    const go = join(dir, `go-${randomUUID()}`);
    let gathered = 0;
    try {
      const run = await fmiRun({
        size: 3,
        args: ['--config', config, '--channel', 's3'],
        env: { ...awsEnv, FMI_FAULT: 'store-gone', FMI_FAULT_GO: go, FMI_TIMEOUT_MS: '5000' },
        limitMs: 40_000,
        onReport: (r) => {
          if (r.gathered && ++gathered === 3) void relay.down().then(() => writeFileSync(go, ''));
        },
      });
      expect(run.codes[0]).not.toBe(0);
      // At the first request that finds the server gone (the operation timeout is only a guard against a hang).
      expectFailedTyped(run, ['FMI_CHANNEL'], SLACK_MS);
      const job = jobOf(run.ranks);
      // What the ranks could not delete stays until the server is back: then fmi clean finds all of it.
      await relay.up();
      const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'clean', '--job', job, '--config', config], { env: { ...process.env, ...awsEnv } });
      expect(stdout).toMatch(/s3: deleted \d+ objects/);
      expect(await objectsOf(job)).toEqual([]);
    } finally {
      await relay.down();
    }
  });
});
