import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, expectFailedTyped, rankProcesses, SLACK_MS, spawnRendezvous } from './job.js';

/**
 * A network partition between two ranks: each in a network namespace of its
 * own, joined by a veth pair; the rendezvous server next to rank 0. Once the
 * ranks are connected, iptables in rank 0's namespace drops every packet
 * between them (but not those to the server): nothing closes, nothing
 * arrives, so each rank's operation ends with its timeout. Needs root, `ip`
 * and `iptables` (scripts/test.sh installs them), as test/nat.test.ts.
 */

// Names of this process's own: other tests and benchmarks build namespaces too.
const NS = [`fmif-${process.pid}-a`, `fmif-${process.pid}-b`];
const ADDR = ['10.97.0.1', '10.97.0.2'];
const SERVER_PORT = 7400;
const TIMEOUT_MS = 1500;

const sh = (...cmd: string[]) => execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'pipe' });
const inNs = (i: number, ...cmd: string[]) => sh('ip', 'netns', 'exec', NS[i]!, ...cmd);

function down(): void {
  for (const ns of NS) {
    try {
      sh('ip', 'netns', 'del', ns);
    } catch {
      // Not there (never made, or already gone).
    }
  }
}

describe('faults - network partition', () => {
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('the partition test needs root (network namespaces and iptables); CI runs the suite as root');
    // A run cut short skips afterAll: the namespaces must not outlive it.
    process.once('exit', down);
    down();
    for (const ns of NS) sh('ip', 'netns', 'add', ns);
    sh('ip', 'link', 'add', 'fa', 'netns', NS[0]!, 'type', 'veth', 'peer', 'name', 'fb', 'netns', NS[1]!);
    for (const [i, dev] of ['fa', 'fb'].entries()) {
      inNs(i, 'ip', 'addr', 'add', `${ADDR[i]}/24`, 'dev', dev);
      inNs(i, 'ip', 'link', 'set', dev, 'up');
      inNs(i, 'ip', 'link', 'set', 'lo', 'up');
    }
  });

  afterAll(() => {
    down();
    process.off('exit', down);
  });

  it('the ranks of a cut pair fail with FMI_TIMEOUT within their timeout (or FMI_PEER_LOST once the other left), and exit', async () => {
    const go = join(tmpdir(), `fmi-fault-go-${randomUUID()}`);
    const server = await spawnRendezvous(['--host', ADDR[0]!, '--port', String(SERVER_PORT), '--require-secret'], ['ip', 'netns', 'exec', NS[0]!]);
    try {
      let paired = 0;
      const run = await rankProcesses({
        size: 2,
        prefix: (rank) => ['ip', 'netns', 'exec', NS[rank]!],
        env: {
          FMI_FAULT: 'partition',
          FMI_FAULT_GO: go,
          FMI_JOB: randomUUID(),
          FMI_SECRET: randomBytes(32).toString('base64url'),
          FMI_RENDEZVOUS: `${ADDR[0]}:${SERVER_PORT}`,
          FMI_TIMEOUT_MS: String(TIMEOUT_MS),
        },
        limitMs: 20_000,
        onReport: (r) => {
          if (!r.paired || ++paired < 2) return;
          // Rank 0's side of the link drops all TCP but the server's.
          inNs(0, 'iptables', '-A', 'INPUT', '-i', 'fa', '-p', 'tcp', '!', '--dport', String(SERVER_PORT), '-j', 'DROP');
          inNs(0, 'iptables', '-A', 'OUTPUT', '-o', 'fa', '-p', 'tcp', '!', '--sport', String(SERVER_PORT), '-j', 'DROP');
          writeFileSync(go, '');
        },
      });
      expect(run.codes).toEqual([3, 3]);
      // The first rank to time out closes; the other may then hear from the server that it is gone.
      expectFailedTyped(run, ['FMI_TIMEOUT', 'FMI_PEER_LOST'], TIMEOUT_MS + SLACK_MS);
      expect(run.ranks.map((r) => r.code)).toContain('FMI_TIMEOUT');
    } finally {
      const exited = new Promise((r) => (server.exitCode === null && server.signalCode === null ? server.once('exit', r) : r(null)));
      server.kill('SIGKILL');
      await exited;
      rmSync(go, { force: true });
    }
    expect(alive(server.pid!)).toBe(false);
  });
});
