import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, loadConfig, validateConfig } from '../src/config/index.js';
import { FmiError } from '../src/errors.js';
import { choose, directTraffic, estimate, modelParams, Policy } from '../src/model/index.js';
import { NODE_OPS, nodeTraffic } from '../src/model/node.js';

// shm (thread ranks of one process over shared memory) is a channel of the model in its own right:
// the direct channel's algorithms at model.Shm's overhead, bandwidth and gap, with no VM or transfer price.
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
const SHM = { overhead: 0.004, bandwidth: 3000, gap: 0.001 };
const config = validateConfig({ backends: { Direct: { enabled: true } }, model: { Shm: SHM } }, 'test');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('model - the shm channel', () => {
  it('reads model.Shm (ms, MB/s), defaults when absent, and rejects a bad value', () => {
    // alphaColl: the hop in a collective, the overhead until calibrated; alphaBarrier (the barrier's) and alphaFan (the star bcast's step) that hop until calibrated
    expect(modelParams(config).shm).toEqual({ alpha: 4e-6, beta: 3e9, gap: 1e-6, alphaColl: 4e-6, alphaBarrier: 4e-6, alphaFan: 4e-6 });
    expect(loadConfig({ backends: { Direct: { enabled: true } } }).model.Shm).toEqual(DEFAULT_CONFIG.model.Shm);
    expect(() => validateConfig({ backends: { Direct: { enabled: true } }, model: { Shm: { bandwidth: 0 } } })).toThrow(FmiError);
  });

  it('prices the node arena\'s collectives and the direct channel\'s other algorithms with its own link, and nothing but the functions\' time', () => {
    const link = { alpha: 4e-6, beta: 3e9, gap: 1e-6 };
    for (const [op, bytes] of [['bcast', 1024], ['bcast', 1 << 20], ['allreduce', 1024], ['allreduce', 64 << 10], ['reduce', 1 << 20], ['barrier', 0], ['gather', 1024], ['scan', 4096]] as const) {
      const e = estimate('shm', op, bytes, 4, config, { into: true });
      const t = NODE_OPS.has(op) ? nodeTraffic(op, bytes, 4, link) : directTraffic(op, bytes, 4, link);
      expect(e.time_s).toBeCloseTo(t.time_s, 15);
      expect(e.requests.messages).toBe(t.messages);
      expect(e.cost.infrastructure + e.cost.transfer + e.cost.requests).toBe(0);
      expect(e.cost_usd).toBeCloseTo(e.cost.functions, 20);
      expect(e.cost.functions).toBeGreaterThan(0);
    }
    // The node arena: no message; a barrier is one sync; a large allreduce two syncs and its copies, a small one a sync and n folds.
    expect(estimate('shm', 'barrier', 0, 4, config).requests.messages).toBe(0);
    expect(estimate('shm', 'barrier', 0, 4, config).time_s).toBeCloseTo(4e-6, 15);
    expect(estimate('shm', 'allreduce', 1 << 20, 4, config, { into: true }).time_s).toBeCloseTo(2 * 4e-6 + (2 + 3 / 4) * (1 << 20) / 6e9, 15);
    expect(estimate('shm', 'allreduce', 1024, 4, config, { into: true }).time_s).toBeCloseTo(4e-6 + 4 * 1024 / 6e9, 15);
    // Thread ranks in several processes: direct's collectives are two-level, the leaders' messages only.
    const flat = estimate('direct', 'allreduce', 1 << 20, 8, config, { into: true });
    const two = estimate('direct', 'allreduce', 1 << 20, 8, config, { into: true, ranksPerProcess: 4 });
    const leaders = directTraffic('allreduce', 1 << 20, 2, modelParams(config).direct);
    expect(two.requests.messages).toBe(leaders.messages);
    expect(two.time_s).toBeCloseTo(nodeTraffic('allreduce', 1 << 20, 4, link).time_s + leaders.time_s, 12);
    expect(two.requests.messages).toBeLessThan(flat.requests.messages);
    expect(estimate('direct', 'send', 8, 8, config, { ranksPerProcess: 4 }).time_s).toBe(estimate('direct', 'send', 8, 8, config).time_s);
    expect(() => estimate('direct', 'barrier', 0, 8, config, { ranksPerProcess: 0 })).toThrow(FmiError);
    // A direct message over TCP costs a VM share; the same over shared memory does not, and is faster.
    const d = estimate('direct', 'send', 1024, 2, config);
    const s = estimate('shm', 'send', 1024, 2, config);
    expect(s.time_s).toBeLessThan(d.time_s);
    expect(d.cost.infrastructure).toBeGreaterThan(0);
  });

  it('the policy takes it among others, and a Policy over it estimates it', () => {
    expect(choose('bcast', 1024, 4, 'fast', ['shm', 'redis'], config).channel).toBe('shm');
    expect(new Policy(config, { ranks: 4, channels: ['shm'] }).estimate('shm', 'allreduce', 1024).time_s).toBeGreaterThan(0);
  });
});

// A job of thread ranks: the shared-memory channel is registered under its own name, so stats() prices it.
describe('model - shm in a job of threads', { timeout: 180_000 }, () => {
  it('fmi run --threads: comm.channels is [shm], the allreduce ran on shm and has a modeled cost', async () => {
    const r = await run(['run', '-n', '3', '--threads', '--no-prefix', `${root}test/fixtures/thread-model.mjs`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { rank: number; channels: string[]; used: Record<string, number>; usd: number });
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l.channels).toEqual(['shm']);
      expect(l.used).toEqual({ shm: 1 });
      expect(l.usd).toBeGreaterThan(0);
    }
  });

  it('fmi calibrate --threads writes model.Shm from a job of threads, and model.Direct from one of processes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fmi-model-shm-'));
    try {
      const out = join(dir, 'fmi.json');
      const r = await run(['calibrate', '-n', '2', '--threads', '--quick', '--out', out, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as { model: Record<string, Record<string, number>>; channels: Record<string, unknown> };
      expect(Object.keys(j.channels)).toEqual(['direct', 'shm']);
      const any = expect.any(Number);
      expect(j.model.Shm).toEqual({ overhead: any, bandwidth: any, gap: any, exchange_overhead: any, exchange_bandwidth: any, collective_overhead: any, barrier_overhead: any, fanout_overhead: any });
      expect(j.model.Shm!.bandwidth).toBeGreaterThan(0);
      const written = JSON.parse(readFileSync(out, 'utf8')) as { model: Record<string, unknown> };
      expect(written.model.Shm).toEqual(j.model.Shm);
      expect(written.model.Direct).toEqual(j.model.Direct);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
