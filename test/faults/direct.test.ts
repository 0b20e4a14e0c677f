import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { RendezvousServer } from '../../src/rendezvous/server.js';
import { alive, expectFailedTyped, fmiRun, rankProcesses, SLACK_MS, spawnRendezvous } from './job.js';

/**
 * Faults of a job on the direct channel, with real processes: a rank killed
 * (kill -9) mid-allreduce, a rank that never starts, the rendezvous server
 * missing at init and killed after pairing. Every other rank must fail with a
 * typed error within a bound, `fmi run` must exit non-zero, and no rank
 * process may be left.
 */

const secret = () => randomBytes(32).toString('base64url');

describe('faults - direct channel', () => {
  it('kill -9 of a rank mid-allreduce: the others fail with FMI_PEER_LOST at once, fmi run exits non-zero', async () => {
    const run = await fmiRun({ size: 4, env: { FMI_FAULT: 'allreduce-kill', FMI_FAULT_VICTIM: '1' }, limitMs: 30_000 });
    expect(run.codes[0]).not.toBe(0);
    expect(run.codes[0]).not.toBeNull();
    expect(run.stderr).toContain('rank 1 was killed by SIGKILL');
    // No operation timeout is set: only the loss itself can end the others' allreduce.
    expectFailedTyped(run, ['FMI_PEER_LOST'], SLACK_MS, [1]);
  });

  it('a rank that never starts: the others fail with a typed error (FMI_TIMEOUT, FMI_CHANNEL, or FMI_PEER_LOST once a peer gave up) within their timeout, fmi run stops it', async () => {
    const run = await fmiRun({
      size: 3,
      env: { FMI_FAULT: 'never-starts', FMI_FAULT_VICTIM: '2', FMI_TIMEOUT_MS: '1500', FMI_CONNECT_TIMEOUT_MS: '1500' },
      limitMs: 30_000,
    });
    expect(run.codes[0]).toBe(3);
    // FMI_PEER_LOST: a rank whose peer timed out first and left sees that peer go.
    expectFailedTyped(run, ['FMI_TIMEOUT', 'FMI_CHANNEL', 'FMI_PEER_LOST'], 1500 + SLACK_MS, [2]);
    // The rank that never started was stopped by the launcher.
    expect(run.ranks[2]?.pid).toBeDefined();
    expect(run.ranks[2]?.code).toBeUndefined();
  });

  it('the rendezvous server is down before init: every rank fails with FMI_CHANNEL at once', async () => {
    const port = await freePort();
    const run = await rankProcesses({
      size: 3,
      env: { FMI_FAULT: 'allreduce-kill', FMI_JOB: randomUUID(), FMI_SECRET: secret(), FMI_RENDEZVOUS: `127.0.0.1:${port}` },
      limitMs: 20_000,
    });
    expect(run.codes).toEqual([3, 3, 3]);
    expectFailedTyped(run, ['FMI_CHANNEL'], SLACK_MS);
    for (const r of run.ranks) expect(r.message).toContain('unreachable');
  });

  it('the rendezvous server dies after pairing: paired ranks go on, a new pair fails at once on both sides (FMI_CHANNEL)', async () => {
    const go = join(tmpdir(), `fmi-fault-go-${randomUUID()}`);
    const port = await freePort();
    const server = await spawnRendezvous(['--host', '127.0.0.1', '--port', String(port)]);
    try {
      let ready = 0;
      const run = await rankProcesses({
        size: 3,
        // No operation timeout: without the fix, rank 2's receive waits forever (until limitMs).
        env: { FMI_FAULT: 'rendezvous-gone', FMI_JOB: randomUUID(), FMI_SECRET: secret(), FMI_RENDEZVOUS: `127.0.0.1:${port}`, FMI_FAULT_GO: go },
        limitMs: 20_000,
        onReport: (r) => {
          if (!r.ready || ++ready < 3) return;
          server.kill('SIGKILL');
          server.once('exit', () => writeFileSync(go, ''));
        },
      });
      expect(run.ranks[0]).toMatchObject({ still: true });
      expect(run.ranks[1]).toMatchObject({ still: true, ok: true });
      expect(run.codes).toEqual([3, 0, 3]);
      expectFailedTyped(run, ['FMI_CHANNEL'], SLACK_MS, [1]);
      expect(run.ranks[2]!.message).toContain('rendezvous server');
    } finally {
      const exited = new Promise((r) => (server.exitCode === null && server.signalCode === null ? server.once('exit', r) : r(null)));
      server.kill('SIGKILL');
      await exited;
      rmSync(go, { force: true });
    }
    expect(alive(server.pid!)).toBe(false);
  });
  it('the rendezvous server dies: a probe and a receive from any rank fail at once (FMI_CHANNEL) while some rank is not connected', async () => {
    const go = join(tmpdir(), `fmi-fault-go-${randomUUID()}`);
    const port = await freePort();
    const server = await spawnRendezvous(['--host', '127.0.0.1', '--port', String(port)]);
    try {
      let ready = 0;
      let probe: Record<string, unknown> | undefined;
      const run = await rankProcesses({
        size: 3,
        // No operation timeout: without the fix, rank 1's probe waits forever (until limitMs).
        env: { FMI_FAULT: 'rendezvous-gone-any', FMI_JOB: randomUUID(), FMI_SECRET: secret(), FMI_RENDEZVOUS: `127.0.0.1:${port}`, FMI_FAULT_GO: go },
        limitMs: 20_000,
        onReport: (r) => {
          if ('probe' in r) probe = r;
          if (!r.ready || ++ready < 3) return;
          server.kill('SIGKILL');
          server.once('exit', () => writeFileSync(go, ''));
        },
      });
      expect(probe).toMatchObject({ probe: 'FMI_CHANNEL' });
      expect(probe!.probeMs as number).toBeLessThan(SLACK_MS);
      expect(run.codes).toEqual([0, 3, 0]);
      expectFailedTyped(run, ['FMI_CHANNEL'], SLACK_MS, [0, 2]);
      expect(run.ranks[1]!.message).toContain('rank 2 cannot connect');
    } finally {
      const exited = new Promise((r) => (server.exitCode === null && server.signalCode === null ? server.once('exit', r) : r(null)));
      server.kill('SIGKILL');
      await exited;
      rmSync(go, { force: true });
    }
    expect(alive(server.pid!)).toBe(false);
  });

  it('a rank that registered and died before the others registered: they never met it, yet fail with FMI_PEER_LOST at once', async () => {
    // In this process, so that the test sees when the server has taken the victim's leaving in.
    const server = new RendezvousServer({ host: '127.0.0.1', port: 0, requireSecret: true });
    const { port } = await server.listen();
    const go = join(tmpdir(), `fmi-fault-go-${randomUUID()}`);
    try {
      const run = await rankProcesses({
        size: 3,
        // No operation timeout: without the fix the others wait for the victim until their connect timeout (30 s, FMI_CHANNEL).
        env: { FMI_FAULT: 'left-early', FMI_FAULT_VICTIM: '2', FMI_JOB: randomUUID(), FMI_SECRET: secret(), FMI_RENDEZVOUS: `127.0.0.1:${port}`, FMI_FAULT_GO: go },
        limitMs: 40_000,
        onReport: (r) => {
          if (r.rank !== 2 || !r.ready) return;
          const poll = setInterval(() => {
            if (server.stats().ranks > 0) return;
            clearInterval(poll);
            writeFileSync(go, '');
          }, 20);
        },
      });
      expect(run.codes).toEqual([3, 3, 5]);
      expectFailedTyped(run, ['FMI_PEER_LOST'], SLACK_MS, [2]);
      expect(run.ranks[0]!.message).toContain('rank 2 is gone');
    } finally {
      await server.close();
      rmSync(go, { force: true });
    }
  });
});
