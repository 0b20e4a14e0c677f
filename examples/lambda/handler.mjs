// The SGD training job of ../train-sgd.mjs as an AWS Lambda function: every
// invocation is one rank (`fmi lambda invoke --function NAME -n 8` starts a
// job). The options come from the job's input, the same for every rank:
//
//   fmi lambda invoke --function fmi-sgd -n 8 --input input.json
//   input.json: {"epochs": 2, "batch": 256, "lr": 0.05, "samples": 20000, "hidden": 64}
//
// Rank 0's result carries the accuracy per epoch; every rank's carries the
// fingerprint of its weights, which must be the same on every rank.
import { Op } from 'fmi';
import { lambdaHandler } from 'fmi/lambda';
import * as M from '../sgd-model.mjs';

const DEFAULTS = { epochs: 2, batch: 256, lr: 0.05, momentum: 0.9, weightDecay: 1e-4, seed: 1, samples: 20000, hidden: 64, labelNoise: 0.05 };

/** Rank r's block of n items: [lo, hi). */
const block = (n, r, size) => [Math.floor((r * n) / size), Math.floor(((r + 1) * n) / size)];

/** Data-parallel SGD on `comm`: the same steps as ../train-sgd.mjs, without its console output. */
export async function train(comm, options = {}) {
  const o = { ...DEFAULTS, ...options };
  const cfg = { ...o, train: o.samples - Math.floor(o.samples / 5), test: Math.floor(o.samples / 5), dim: 64, classes: 10 };
  const { rank, size } = comm;
  const model = M.createModel(cfg);
  let shards;
  if (rank === 0) {
    const ds = M.makeDataset({ train: cfg.train, test: cfg.test, dim: cfg.dim, classes: cfg.classes, labelNoise: cfg.labelNoise, seed: cfg.seed });
    const cut = (part, lo, hi) => ({ x: part.x.slice(lo * cfg.dim, hi * cfg.dim), y: part.y.slice(lo, hi), n: hi - lo });
    shards = Array.from({ length: size }, (_, r) => {
      const [lo, hi] = block(cfg.train, r, size);
      const [tlo, thi] = block(cfg.test, r, size);
      return { lo, hi, train: cut(ds.train, lo, hi), test: cut(ds.test, tlo, thi) };
    });
  }
  const shard = await comm.scatter(shards, 0);
  const params = await comm.bcast(rank === 0 ? M.initParams(model, M.createRng(M.subSeed(cfg.seed, 10))) : undefined, 0);
  const P = model.size;
  const velocity = new Float64Array(P);
  const grad = new Float64Array(P + 2);
  const ws = M.createWorkspace(model);
  const mine = new Int32Array(cfg.batch);
  const opt = { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay };
  const epochs = [];
  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    const order = M.permutation(cfg.train, M.createRng(M.subSeed(cfg.seed, 100, epoch)));
    let loss = 0;
    for (let s = 0; s < cfg.train; s += cfg.batch) {
      const n = Math.min(cfg.batch, cfg.train - s);
      let count = 0;
      for (let q = s; q < s + n; q++) {
        const i = order[q];
        if (i >= shard.lo && i < shard.hi) mine[count++] = i - shard.lo;
      }
      grad.fill(0);
      const r = M.lossAndGrad(model, params, shard.train.x, shard.train.y, mine, count, grad, ws);
      grad[P] = r.loss;
      grad[P + 1] = r.correct;
      const sum = await comm.allreduce(grad, Op.SUM, { into: grad });
      M.sgdStep(model, params, velocity, sum, n, opt);
      loss += sum[P];
    }
    const e = M.lossAndGrad(model, params, shard.test.x, shard.test.y, null, shard.test.n, null, ws);
    const test = await comm.reduce(Float64Array.of(e.loss, e.correct, shard.test.n), Op.SUM, 0);
    if (rank === 0) epochs.push({ epoch, trainLoss: loss / cfg.train, testAcc: test[1] / test[2] });
  }
  const fp = M.fingerprint(params);
  return { rank, size, fingerprint: [fp.sum, fp.l2, fp.weighted], ...(rank === 0 && { epochs }) };
}

export const handler = lambdaHandler((comm, event) => train(comm, event.input ?? {}));
