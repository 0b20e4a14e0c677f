import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * Hole punching through real NATs: network namespaces on this machine, built
 * by scripts/netns-nat-up.sh (two MASQUERADE routers with a NAT's firewall,
 * one function behind each, an "internet" where the rendezvous server runs).
 * Ranks are real processes inside the functions' namespaces. Needs root, `ip`
 * and `iptables`; CI runs the suite as root (scripts/test.sh).
 */

const ROOT = new URL('..', import.meta.url).pathname;
// Its own prefix, so that a benchmark on the same machine (bench/nat.mjs) does not collide.
const PREFIX = 'fmi-t-';
const SERVER = '10.99.0.1:7400';
const FIXTURE = `${ROOT}test/fixtures/nat-rank.mjs`;

type Nat = 'default' | 'random-fully';
type Via = 'punch' | 'listener' | 'accepted';

interface RankRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Each connected peer and how, from this rank's FMI_DEBUG lines. */
  paths: Record<number, Via>;
  result?: { p2p: boolean; allreduce: boolean };
}

let mode: string | undefined;
let rendezvous: ChildProcess | undefined;
const running = new Set<ChildProcess>();

function script(name: string, ...args: string[]): void {
  execFileSync('sh', [`${ROOT}scripts/${name}`, ...args], { env: { ...process.env, NETNS_PREFIX: PREFIX }, stdio: 'pipe' });
}

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (network namespaces and iptables need it)');
  for (const tool of ['ip', 'iptables']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' });
    } catch {
      missing.push(`\`${tool}\` (Debian package ${tool === 'ip' ? 'iproute2' : 'iptables'})`);
    }
  }
  return missing;
}

/** (Re)builds the topology in this NAT mode and starts a rendezvous server in the "internet". */
async function topology(nat: Nat, inbound: string): Promise<void> {
  if (mode === `${nat} ${inbound}`) return;
  stopRendezvous();
  script('netns-nat-up.sh', nat, inbound);
  mode = `${nat} ${inbound}`;
  const rv = spawn('ip', ['netns', 'exec', `${PREFIX}pub`, 'node', `${ROOT}dist/cli/main.js`, 'rendezvous', '--host', '10.99.0.1', '--port', '7400'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  rendezvous = rv;
  await new Promise<void>((resolve, reject) => {
    rv.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('listening on')) resolve();
    });
    rv.once('exit', (code) => reject(new Error(`rendezvous server exited (${code}) before listening`)));
  });
}

function stopRendezvous(): void {
  rendezvous?.kill('SIGKILL');
  rendezvous = undefined;
}

/** Runs one job: rank r in namespace `where[r]` ('f1' or 'f2'); kills what is left after `limitMs`. */
async function runJob(where: string[], connectTimeoutMs: number, limitMs: number): Promise<{ ranks: RankRun[]; ms: number }> {
  const job = randomUUID();
  // As every deployed job should have: the connections through the NATs prove it.
  const secret = randomBytes(32).toString('base64url');
  const t0 = performance.now();
  const ranks = await Promise.all(
    where.map(
      (ns, rank) =>
        new Promise<RankRun>((resolve) => {
          const env = {
            ...process.env,
            FMI_RANK: String(rank),
            FMI_SIZE: String(where.length),
            FMI_JOB: job,
            FMI_SECRET: secret,
            FMI_RENDEZVOUS: SERVER,
            FMI_CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
            FMI_DEBUG: '1',
          };
          const child = spawn('ip', ['netns', 'exec', PREFIX + ns, 'node', FIXTURE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
          running.add(child);
          const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
          let stdout = '';
          let stderr = '';
          child.stdout!.on('data', (b: Buffer) => (stdout += b));
          child.stderr!.on('data', (b: Buffer) => (stderr += b));
          child.on('close', (code) => {
            clearTimeout(timer);
            running.delete(child);
            const paths: Record<number, Via> = {};
            for (const m of stderr.matchAll(/^fmi debug: direct rank \d+ <-> (\d+) via (\w+)/gm)) paths[Number(m[1])] = m[2] as Via;
            const last = stdout.trim().split('\n').pop();
            resolve({ code, stdout, stderr, paths, result: last?.startsWith('{') ? JSON.parse(last) : undefined });
          });
        }),
    ),
  );
  return { ranks, ms: performance.now() - t0 };
}

function expectSucceeded(ranks: RankRun[]): void {
  for (const [rank, r] of ranks.entries()) {
    expect(r.code, `rank ${rank} failed:\n${r.stderr}`).toBe(0);
    expect(r.result).toMatchObject({ p2p: true, allreduce: true });
  }
}

/** Both ranks of a two-rank job succeeded, connected by a hole punch. */
function expectPunched(ranks: RankRun[]): void {
  expectSucceeded(ranks);
  expect(ranks.map((r) => r.paths)).toEqual([{ 1: 'punch' }, { 0: 'punch' }]);
}

describe('nat', () => {
  beforeAll(async () => {
    const missing = missingPrerequisites();
    if (missing.length > 0) throw new Error(`the NAT tests need ${missing.join(' and ')}; run them as root on Linux (scripts/test.sh installs the packages)`);
    await topology('default', 'drop');
  });

  afterAll(() => {
    for (const c of running) c.kill('SIGKILL');
    stopRendezvous();
    script('netns-nat-down.sh');
  });

  it.each([
    ['drop unsolicited SYNs', 'drop'],
    // A RST fails the dial at once; the redial finds the way the other side's dropped SYN opened.
    ['answer unsolicited SYNs with a RST on one side and drop them on the other', 'rst,drop'],
  ])('nat - two ranks behind port-preserving NATs that %s pair by hole punching', async (_, inbound) => {
    await topology('default', inbound);
    expectPunched((await runJob(['f1', 'f2'], 8000, 15_000)).ranks);
  }, 20_000);

  it('nat - four ranks, two behind each NAT: pairs across the NATs punch, pairs on one LAN use the listener', async () => {
    await topology('default', 'drop');
    // Four node processes start on two cores: under a loaded runner that alone took most of 15 s.
    const { ranks } = await runJob(['f1', 'f1', 'f2', 'f2'], 8000, 30_000);
    expectSucceeded(ranks);
    // On one LAN the higher rank dials the lower one's listener, which accepts it.
    expect(ranks.map((r) => r.paths)).toEqual([
      { 1: 'accepted', 2: 'punch', 3: 'punch' },
      { 0: 'listener', 2: 'punch', 3: 'punch' },
      { 0: 'punch', 1: 'punch', 3: 'accepted' },
      { 0: 'punch', 1: 'punch', 2: 'listener' },
    ]);
  }, 45_000);

  it('nat - two NATs that both answer with RSTs: punched when the SYNs cross, else the clear error, never a hang', async () => {
    // Each SYN is reset unless the other side's SYN passed its NAT first; with
    // microseconds between these namespaces that is luck, redialing every
    // millisecond (on a WAN the round trip makes it likely).
    await topology('default', 'rst');
    const { ranks, ms } = await runJob(['f1', 'f2'], 8000, 15_000);
    expect(ms).toBeLessThan(14_000);
    const punched = ranks.every((r) => r.code === 0);
    console.log(`nat - both NATs reset: ${punched ? 'punched' : 'gave up with the error'} after ${Math.round(ms)} ms`);
    if (punched) {
      expectPunched(ranks);
    } else {
      expect(ranks.map((r) => r.stderr).join('\n')).toMatch(/hole-punching attempts? .* got no connection/);
    }
  }, 20_000);

  it('nat - a symmetric NAT (a new random port per connection) fails within the connect timeout, saying why', async () => {
    await topology('random-fully', 'drop');
    const { ranks, ms } = await runJob(['f1', 'f2'], 3000, 12_000);
    expect(ms).toBeLessThan(8000);
    for (const r of ranks) expect(r.code).not.toBe(0);
    const stderr = ranks.map((r) => r.stderr).join('\n');
    expect(stderr).toMatch(/FMI_CHANNEL: could not connect to rank \d within 3000 ms/);
    expect(stderr).toMatch(/did not keep its port .* symmetric NAT\) cannot be crossed by TCP hole punching/);
    expect(stderr).toMatch(/Use the redis or s3 channel/);
  }, 20_000);
});
