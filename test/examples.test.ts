import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- plain JS example module, no type declarations
import * as M from '../examples/sgd-model.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Small enough for ~1 s per run, big enough to learn well above chance (0.1). */
const SMALL = ['--epochs', '2', '--samples', '8000', '--hidden', '64', '--batch', '128', '--lr', '0.1', '--seed', '7'];
const trainSgd = (ranks: number) => run([cli, 'run', '-n', String(ranks), 'examples/train-sgd.mjs', ...SMALL]);

const RESULT = /\[0\] result: test accuracy (\d\.\d+) after 2 epochs on (\d) ranks? \(comm [\d.]+ s of [\d.]+ s\)/;
const WEIGHTS = /\[0\] weights: sum (\S+)\s+l2 (\S+)\s+mix (\S+)\s+\(identical on all ranks\)/;

describe('examples - hello', () => {
  it('runs on 3 ranks: bcast and allreduce reach everyone', async () => {
    const r = await run([cli, 'run', '-n', '3', 'examples/hello.mjs']);
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1, 2]) {
      expect(r.stdout).toContain(`[${rank}] hello from rank ${rank} of 3`);
      expect(r.stdout).toContain(`[${rank}] rank ${rank} got: greetings from rank 0`);
      expect(r.stdout).toContain(`[${rank}] rank ${rank}: sum of ranks = 3, number of ranks = 3`);
    }
  });
});

describe('examples - train-sgd', () => {
  it('trains on 4 ranks to a test accuracy far above chance', async () => {
    const r = await trainSgd(4);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\[0\] epoch 1\/2 /);
    expect(r.stdout).toMatch(/\[0\] epoch 2\/2 /);
    const m = r.stdout.match(RESULT);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![2])).toBe(4);
    expect(Number(m![1])).toBeGreaterThan(0.6);
    expect(r.stdout).toMatch(WEIGHTS);
  });

  it('ends with the same weights on 1 and 3 ranks (uneven shards), up to rounding', async () => {
    const [one, three] = [await trainSgd(1), await trainSgd(3)];
    expect(one.code, one.stderr).toBe(0);
    expect(three.code, three.stderr).toBe(0);
    const a = one.stdout.match(WEIGHTS)!.slice(1).map(Number);
    const b = three.stdout.match(WEIGHTS)!.slice(1).map(Number);
    for (let i = 0; i < 3; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-8 * Math.max(1, Math.abs(a[i])));
    expect(one.stdout.match(RESULT)![1]).toBe(three.stdout.match(RESULT)![1]);
  });

  it('--split-wait splits the comm and, on Linux, gives each rank compute time on a CPU and runnable', async () => {
    const r = await run([cli, 'run', '-n', '2', 'examples/train-sgd.mjs', ...SMALL, '--split-wait']);
    expect(r.code, r.stderr).toBe(0);
    const m = r.stdout.match(/\[0\] epoch 2\/2 .*\(wait ([\d.]+) \+ allreduce ([\d.]+); compute imbalance ([\d.]+) of the wait(; ranks' compute on a CPU ([\d.]+)(?:-([\d.]+))? s, runnable [\d.]+(?:-[\d.]+)? s)?\)/);
    expect(m, r.stdout).not.toBeNull();
    if (process.platform !== 'linux') return;
    expect(m![4], r.stdout).toBeDefined();
    // Every rank computed something: time on a CPU shows.
    expect(Number(m![5])).toBeGreaterThan(0);
  });

  it('a bad option at rank 0 stops every rank', async () => {
    const r = await run([cli, 'run', '-n', '2', 'examples/train-sgd.mjs', '--epochs', 'many']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--epochs needs a non-negative integer');
  });
});

describe('examples - sgd-model', () => {
  const model = M.createModel({ dim: 5, hidden: 7, classes: 4 });
  const rng = M.createRng(3);
  const n = 6;
  const x = Float64Array.from({ length: n * model.dim }, () => rng.normal());
  const y = Uint8Array.from({ length: n }, () => rng.int(model.classes));
  const p = M.initParams(model, rng);
  for (let i = model.b1; i < model.w2; i++) p[i] = 0.1 * rng.normal(); // non-zero biases, so they are checked too
  for (let i = model.b2; i < model.size; i++) p[i] = 0.1 * rng.normal();
  const ws = M.createWorkspace(model);
  const loss = (q: Float64Array) => M.lossAndGrad(model, q, x, y, null, n, null, ws).loss as number;

  it('gradient matches central differences on every parameter', () => {
    const g = new Float64Array(model.size);
    const r = M.lossAndGrad(model, p, x, y, null, n, g, ws);
    expect(r.loss).toBeCloseTo(loss(p), 12);
    const h = 1e-5;
    let worst = 0;
    for (let i = 0; i < model.size; i++) {
      const q = p.slice();
      q[i] = p[i] + h;
      const up = loss(q);
      q[i] = p[i] - h;
      const numeric = (up - loss(q)) / (2 * h);
      // Central differences are good to ~1e-10 here; a wrong term is off by 1e-3 or more.
      worst = Math.max(worst, Math.abs(numeric - g[i]) / (1e-7 + 1e-6 * Math.abs(numeric)));
    }
    expect(worst).toBeLessThan(1);
  });

  it('gradient over an index list equals the sum of per-sample gradients', () => {
    const all = new Float64Array(model.size);
    M.lossAndGrad(model, p, x, y, Int32Array.from([0, 1, 2, 3, 4, 5]), n, all, ws);
    const parts = new Float64Array(model.size);
    M.lossAndGrad(model, p, x, y, Int32Array.from([4, 5, 0]), 3, parts, ws);
    M.lossAndGrad(model, p, x, y, Int32Array.from([1, 2, 3]), 3, parts, ws);
    for (let i = 0; i < model.size; i++) expect(parts[i]).toBeCloseTo(all[i], 12);
  });

  it('sgdStep: weight decay on weights only, momentum accumulates', () => {
    const q = Float64Array.from({ length: model.size }, (_, i) => (i % 7) - 3);
    const v = new Float64Array(model.size);
    const g = Float64Array.from({ length: model.size }, (_, i) => i % 5);
    const opt = { lr: 0.1, momentum: 0.5, weightDecay: 0.01 };
    const before = q.slice();
    M.sgdStep(model, q, v, g, 2, opt);
    const w = model.w1;
    const b = model.b1;
    expect(q[w]).toBeCloseTo(before[w] - 0.1 * (g[w] / 2 + 0.01 * before[w]), 14);
    expect(q[b]).toBeCloseTo(before[b] - 0.1 * (g[b] / 2), 14);
    const v0 = v[w];
    const mid = q[w];
    M.sgdStep(model, q, v, g, 2, opt);
    expect(q[w]).toBeCloseTo(mid - 0.1 * (0.5 * v0 + g[w] / 2 + 0.01 * mid), 14);
  });

  it('data set and shuffles are deterministic in the seed', () => {
    const a = M.makeDataset({ train: 50, test: 20, seed: 9 });
    const b = M.makeDataset({ train: 50, test: 20, seed: 9 });
    const c = M.makeDataset({ train: 50, test: 20, seed: 10 });
    expect(a.train.x).toEqual(b.train.x);
    expect(a.test.y).toEqual(b.test.y);
    expect(a.train.x).not.toEqual(c.train.x);
    const perm = M.permutation(100, M.createRng(1));
    expect([...perm].sort((u, v) => u - v)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(perm).toEqual(M.permutation(100, M.createRng(1)));
  });

  it('stratified batches: every sample once per epoch, and any contiguous shard holds its share of every batch', () => {
    const n = 1000;
    const batch = 64;
    const { order, starts } = M.stratifiedBatches(n, batch, M.createRng(3));
    expect([...order].sort((u, v) => u - v)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(starts.length - 1).toBe(Math.ceil(n / batch));
    expect(starts[starts.length - 1]).toBe(n);
    expect(M.stratifiedBatches(n, batch, M.createRng(3)).order).toEqual(order);
    // Shards of 1, 2, 3 and 7 ranks (uneven): a plain shuffle gives a shard of half the data 32 +- 4 of a batch of 64.
    for (const ranks of [1, 2, 3, 7]) {
      for (let r = 0; r < ranks; r++) {
        const [lo, hi] = [Math.floor((r * n) / ranks), Math.floor(((r + 1) * n) / ranks)];
        for (let b = 0; b + 1 < starts.length; b++) {
          const members = order.subarray(starts[b]!, starts[b + 1]!);
          const mine = members.filter((i) => i >= lo && i < hi).length;
          expect(Math.abs(mine - (members.length * (hi - lo)) / n)).toBeLessThanOrEqual(2);
        }
      }
    }
  });
});

describe('examples - mpi/heat.c', () => {
  it('compiles with fmi cc and gives the same plate on 1 and 4 ranks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fmi-heat-'));
    try {
      const out = join(dir, 'heat.js');
      const cc = await run([cli, 'cc', '-O2', 'examples/mpi/heat.c', '-o', out]);
      expect(cc.code, cc.stderr).toBe(0);
      const result = async (ranks: number) => {
        const r = await run([cli, 'run', '-n', String(ranks), out, '48']);
        expect(r.code, r.stderr).toBe(0);
        return /heat: (\d+) iterations, last change (\S+), centre (\S+), mean (\S+)/.exec(r.stdout)?.slice(1);
      };
      const one = await result(1);
      expect(one).toBeDefined();
      expect(Number(one![0])).toBeGreaterThan(100);
      expect(await result(4)).toEqual(one);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
