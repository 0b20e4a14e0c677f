// Synchronous data-parallel SGD: a 2-layer MLP learns a 10-class problem,
// every rank trains on its own shard of the data, gradients are summed across
// ranks with allreduce after every step, so all ranks keep identical weights.
//
//   node dist/cli/main.js run -n 4 examples/train-sgd.mjs [--epochs 5] [--batch 256] [--lr 0.05] [--seed 1]
//
// What goes over the network:
//   bcast    rank 0's hyper-parameters (structured value), then its initial weights (Float64Array)
//   scatter  rank 0 generates the data set and sends each rank its shard (uneven shards are fine)
//   allreduce(SUM) the summed gradient of each step (+ loss and hit count in two extra slots)
//   reduce(SUM) test-set loss and hits per epoch; gather per-rank timings and a weight fingerprint
//
// The global batch is the same whatever the number of ranks: every rank draws
// the same shuffled order of all training samples and computes the gradient of
// the batch members it holds; the allreduce adds the pieces up. So -n 1, 2, 3,
// 4, 5 give the same weights, up to the order of floating-point additions.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { init, Op } from 'fmi';
import * as M from './sgd-model.mjs';

const USAGE = `usage: fmi run -n N examples/train-sgd.mjs [options]
  --epochs E         passes over the training set             (default 5)
  --batch B          global batch size, split over the ranks  (default 256)
  --lr LR            learning rate                            (default 0.05)
  --momentum MU      heavy-ball momentum                      (default 0.9)
  --weight-decay WD  L2 penalty on the weights                (default 1e-4)
  --seed S           seed of data, initial weights, shuffles  (default 1)
  --samples N        samples generated; 20% are held out      (default 50000)
  --hidden H         hidden units; 75*H+10 parameters         (default 256)
  --label-noise P    share of training labels made random     (default 0.05)
  --split-wait       barrier before each allreduce: reports waiting for slower
                     ranks apart from the allreduce itself, how much of that
                     wait the ranks' compute times explain, and (Linux) how long
                     each rank's compute ran on a CPU and waited for one: equal
                     CPU times and unequal waits are the scheduler, not the
                     work (adds latency)`;

const DEFAULTS = { epochs: 5, batch: 256, lr: 0.05, momentum: 0.9, 'weight-decay': 1e-4, seed: 1, samples: 50000, hidden: 256, 'label-noise': 0.05 };
const INTEGER = new Set(['epochs', 'batch', 'seed', 'samples', 'hidden']);

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { ...Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, { type: 'string' }])), help: { type: 'boolean', short: 'h' }, 'split-wait': { type: 'boolean' } },
    strict: true,
  });
  if (values.help) return { help: true };
  const o = {};
  for (const [k, d] of Object.entries(DEFAULTS)) {
    const v = values[k] === undefined ? d : Number(values[k]);
    if (!Number.isFinite(v) || v < 0 || (INTEGER.has(k) && !Number.isInteger(v))) throw new Error(`--${k} needs a ${INTEGER.has(k) ? 'non-negative integer' : 'non-negative number'}, got ${values[k]}`);
    o[k] = v;
  }
  if (o.epochs < 1 || o.batch < 1 || o.hidden < 1) throw new Error('--epochs, --batch and --hidden must be at least 1');
  if (o.samples < 10) throw new Error('--samples must be at least 10');
  if (o['label-noise'] > 1) throw new Error('--label-noise is a share between 0 and 1');
  return {
    epochs: o.epochs,
    batch: o.batch,
    lr: o.lr,
    momentum: o.momentum,
    weightDecay: o['weight-decay'],
    seed: o.seed,
    train: o.samples - Math.floor(o.samples / 5),
    test: Math.floor(o.samples / 5),
    dim: 64,
    classes: 10,
    hidden: o.hidden,
    labelNoise: o['label-noise'],
    splitWait: values['split-wait'] === true,
  };
}

const MiB = 1024 * 1024;
const now = () => performance.now();
const secs = (ms) => (ms / 1000).toFixed(2);
const mib = (bytes) => (bytes / MiB).toFixed(1);
/** A word nobody notifies: a short sleep on it makes the kernel book this thread's time. */
const nap = new Int32Array(new SharedArrayBuffer(4));
/**
 * This thread's time on a CPU and runnable but waiting for one, in ms
 * (/proc/thread-self/schedstat), or undefined where there is none (not
 * Linux). A running thread's schedstat is only as fresh as the kernel's last
 * tick or switch (4 ms at HZ=250: a busy 7 ms step read as 3-7 ms), so it
 * sleeps 0.1 ms first: the switch books its time exactly.
 */
const schedstat = () => {
  try {
    Atomics.wait(nap, 0, 0, 0.1);
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return [run / 1e6, wait / 1e6];
  } catch {
    return undefined;
  }
};
const spread = (v) => (Math.min(...v) === Math.max(...v) ? secs(v[0]) : `${secs(Math.min(...v))}-${secs(Math.max(...v))}`);
/** Rank r's block of n items: [lo, hi). Blocks differ by at most one item. */
const block = (n, r, size) => [Math.floor((r * n) / size), Math.floor(((r + 1) * n) / size)];

const comm = await init();
const { rank, size } = comm;
const log = (line) => {
  if (rank === 0) console.log(line);
};

// 1. Hyper-parameters: rank 0 decides, everyone follows (a bad option stops all ranks, not just one).
let cfg;
if (rank === 0) {
  try {
    cfg = parseOptions(process.argv.slice(2));
  } catch (err) {
    cfg = { error: err.message };
  }
}
cfg = await comm.bcast(cfg, 0);
if (cfg.help || cfg.error) {
  if (rank === 0) (cfg.error ? console.error : console.log)(cfg.error ? `train-sgd: ${cfg.error}\n${USAGE}` : USAGE);
  await comm.close();
  process.exit(cfg.error ? 2 : 0);
}
const model = M.createModel(cfg);
const gradBytes = (model.size + 2) * 8;

// 2. Data: rank 0 generates the whole set and scatters one shard to each rank.
let t = now();
let shards;
let genMs = 0;
if (rank === 0) {
  const ds = M.makeDataset({ train: cfg.train, test: cfg.test, dim: cfg.dim, classes: cfg.classes, labelNoise: cfg.labelNoise, seed: cfg.seed });
  genMs = now() - t;
  // slice(), not subarray(): a view would carry its whole underlying buffer through structured clone.
  const cut = (part, lo, hi) => ({ x: part.x.slice(lo * cfg.dim, hi * cfg.dim), y: part.y.slice(lo, hi), n: hi - lo });
  shards = Array.from({ length: size }, (_, r) => {
    const [lo, hi] = block(cfg.train, r, size);
    const [tlo, thi] = block(cfg.test, r, size);
    return { lo, hi, train: cut(ds.train, lo, hi), test: cut(ds.test, tlo, thi) };
  });
}
t = now();
const shard = await comm.scatter(shards, 0);
shards = undefined;
const scatterMs = now() - t;
const dataBytes = (cfg.train + cfg.test) * (cfg.dim * 4 + 1);

// 3. Initial weights: drawn once at rank 0, broadcast as a Float64Array.
t = now();
const params = await comm.bcast(rank === 0 ? M.initParams(model, M.createRng(M.subSeed(cfg.seed, 10))) : undefined, 0);
const bcastMs = now() - t;

log(`train-sgd: ${size} rank${size > 1 ? 's' : ''}, MLP ${cfg.dim}-${cfg.hidden}-${cfg.classes} (ReLU, softmax cross-entropy), ${model.size} parameters, gradient ${(gradBytes / 1024).toFixed(1)} KiB`);
log(`data: ${cfg.train} train / ${cfg.test} test samples, ${cfg.dim} features, ${cfg.classes} classes, ${(cfg.labelNoise * 100).toFixed(0)}% train label noise; generated on rank 0 in ${secs(genMs)} s`);
log(`setup: scatter of the shards (${mib(dataBytes)} MiB) ${secs(scatterMs)} s, bcast of the initial weights ${secs(bcastMs)} s`);
log(`sgd: global batch ${cfg.batch}, lr ${cfg.lr}, momentum ${cfg.momentum}, weight decay ${cfg.weightDecay}, seed ${cfg.seed}, ${cfg.epochs} epoch${cfg.epochs > 1 ? 's' : ''}`);

// 4. Training.
const P = model.size;
const velocity = new Float64Array(P);
const grad = new Float64Array(P + 2); // [gradient..., summed loss, hits]
const ws = M.createWorkspace(model);
const mine = new Int32Array(cfg.batch);
const { lo, hi } = shard;
const opt = { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay };
const stepsPerEpoch = Math.ceil(cfg.train / cfg.batch);
/** With --split-wait: each step's compute time at this rank (ms), for the imbalance. */
const stepMs = new Float64Array(stepsPerEpoch);
let totalComm = 0;
let testAcc = NaN;
const tTrain = now();

for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
  const tEpoch = now();
  let computeMs = 0;
  let commMs = 0;
  let waitMs = 0;
  /** With --split-wait: this rank's compute on a CPU and waiting for one (schedstat), NaN without it. */
  let cpuMs = 0;
  let runnableMs = 0;
  let trainLoss = 0;
  let trainHits = 0;
  // Same batches on every rank, whatever the rank count; each rank holds an even share of each.
  const { order, starts } = M.stratifiedBatches(cfg.train, cfg.batch, M.createRng(M.subSeed(cfg.seed, 100, epoch)));
  for (let b = 0; b + 1 < starts.length; b++) {
    const sched0 = cfg.splitWait ? schedstat() : undefined;
    const t0 = now();
    const s = starts[b];
    const n = starts[b + 1] - s;
    let count = 0;
    for (let q = s; q < s + n; q++) {
      const i = order[q];
      if (i >= lo && i < hi) mine[count++] = i - lo;
    }
    grad.fill(0);
    const r = M.lossAndGrad(model, params, shard.train.x, shard.train.y, mine, count, grad, ws);
    grad[P] = r.loss;
    grad[P + 1] = r.correct;
    const t1 = now();
    if (cfg.splitWait) {
      stepMs[b] = t1 - t0;
      const sched1 = sched0 && schedstat();
      cpuMs += sched1 ? sched1[0] - sched0[0] : NaN;
      runnableMs += sched1 ? sched1[1] - sched0[1] : NaN;
      await comm.barrier();
      waitMs += now() - t1;
    }
    // In place: the summed gradient replaces this rank's, no new array per step.
    const sum = await comm.allreduce(grad, Op.SUM, { into: grad });
    const t2 = now();
    M.sgdStep(model, params, velocity, sum, n, opt);
    trainLoss += sum[P];
    trainHits += sum[P + 1];
    computeMs += t1 - t0 + (now() - t2);
    commMs += t2 - t1;
  }

  // Evaluation: each rank scores its test shard; rank 0 gets the sums.
  const t3 = now();
  const e = M.lossAndGrad(model, params, shard.test.x, shard.test.y, null, shard.test.n, null, ws);
  computeMs += now() - t3;
  const t4 = now();
  const test = await comm.reduce(Float64Array.of(e.loss, e.correct, shard.test.n), Op.SUM, 0);
  commMs += now() - t4;
  totalComm += commMs;
  // A rank's share of the wait that compute explains: each step, the slowest rank's compute less its own.
  let imbalanceMs = 0;
  if (cfg.splitWait) {
    const slowest = await comm.allreduce(stepMs, Op.MAX);
    for (let k = 0; k < stepsPerEpoch; k++) imbalanceMs += slowest[k] - stepMs[k];
  }
  const times = await comm.gather(Float64Array.of(computeMs, commMs, waitMs, imbalanceMs, cpuMs, runnableMs), 0);
  if (rank === 0) {
    testAcc = test[1] / test[2];
    // Means over ranks: a rank's comm time includes waiting for slower ranks.
    let comp = 0;
    let com = 0;
    let wait = 0;
    let imbalance = 0;
    for (let r = 0; r < size; r++) {
      comp += times[6 * r] / size;
      com += times[6 * r + 1] / size;
      wait += times[6 * r + 2] / size;
      imbalance += times[6 * r + 3] / size;
    }
    // Each rank's compute on a CPU and runnable (min-max over the ranks), where every rank could read its schedstat.
    const cpus = Array.from({ length: size }, (_, r) => times[6 * r + 4]);
    const runnable = Array.from({ length: size }, (_, r) => times[6 * r + 5]);
    const sched = cpus.every(Number.isFinite) ? `; ranks' compute on a CPU ${spread(cpus)} s, runnable ${spread(runnable)} s` : '';
    const split = cfg.splitWait ? ` (wait ${secs(wait)} + allreduce ${secs(com - wait)}; compute imbalance ${secs(imbalance)} of the wait${sched})` : '';
    console.log(
      `epoch ${epoch}/${cfg.epochs}  train loss ${(trainLoss / cfg.train).toFixed(4)} acc ${(trainHits / cfg.train).toFixed(4)}  ` +
        `test loss ${(test[0] / test[2]).toFixed(4)} acc ${testAcc.toFixed(4)}  |  ${secs(now() - tEpoch)} s: ` +
        `compute ${secs(comp)} s, comm ${secs(com)} s${split}  |  ` +
        `${stepsPerEpoch} allreduces x ${(gradBytes / 1024).toFixed(1)} KiB = ${mib(stepsPerEpoch * gradBytes)} MiB/rank`,
    );
  }
}
const trainMs = now() - tTrain;

// 5. Every rank must hold the very same weights: rank 0 compares fingerprints
// and tells everyone the verdict, so all ranks exit with the same status.
const fp = M.fingerprint(params);
const all = await comm.gather(Float64Array.of(fp.sum, fp.l2, fp.weighted, totalComm), 0);
let same = true;
if (rank === 0) {
  let commMean = 0;
  for (let r = 0; r < size; r++) {
    for (let k = 0; k < 3; k++) if (all[4 * r + k] !== all[k]) same = false;
    commMean += all[4 * r + 3] / size;
  }
  console.log(`weights: sum ${fp.sum.toPrecision(12)}  l2 ${fp.l2.toPrecision(12)}  mix ${fp.weighted.toPrecision(12)}  (${same ? 'identical on all ranks' : 'DIFFER between ranks'})`);
  console.log(`result: test accuracy ${testAcc.toFixed(4)} after ${cfg.epochs} epoch${cfg.epochs > 1 ? 's' : ''} on ${size} rank${size > 1 ? 's' : ''} (comm ${secs(commMean)} s of ${secs(trainMs)} s)`);
}
same = await comm.bcast(same, 0);
await comm.close();
if (!same) {
  console.error(`rank ${rank}: ranks ended with different weights`);
  process.exit(1);
}
