// The model, data set and random numbers behind train-sgd.mjs, in plain JS
// (Float64Array math, no dependencies), kept apart so tests can check them.
//
// Model: a 2-layer perceptron, x -> ReLU(W1 x + b1) -> W2 h + b2 -> softmax,
// trained with cross-entropy. All parameters live in one Float64Array, so one
// allreduce moves the whole gradient.

/**
 * A seeded generator of uniform and normal numbers (xorshift128 state, filled
 * from the seed with an integer hash): the same seed gives the same stream on
 * every rank and every run.
 */
export function createRng(seed) {
  const s = new Uint32Array(4);
  let h = (seed >>> 0) ^ 0x9e3779b9;
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    s[i] = h || 0x6d2b79f5 + i;
    h += 0x9e3779b9 + i;
  }
  let spare = NaN;
  const rng = {
    /** A uniform 32-bit unsigned integer. */
    u32() {
      let t = s[3];
      const x = s[0];
      s[3] = s[2];
      s[2] = s[1];
      s[1] = x;
      t ^= t << 11;
      t ^= t >>> 8;
      s[0] = t ^ x ^ (x >>> 19);
      return s[0];
    },
    /** Uniform in [0, 1), 53 random bits. */
    uniform() {
      return ((rng.u32() >>> 5) * 67108864 + (rng.u32() >>> 6)) / 9007199254740992;
    },
    /** Uniform integer in [0, n). */
    int(n) {
      return Math.floor(rng.uniform() * n);
    },
    /** Standard normal (Box-Muller, both values used). */
    normal() {
      if (!Number.isNaN(spare)) {
        const v = spare;
        spare = NaN;
        return v;
      }
      let u = 0;
      while (u === 0) u = rng.uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      const a = 2 * Math.PI * rng.uniform();
      spare = r * Math.sin(a);
      return r * Math.cos(a);
    },
  };
  return rng;
}

/** A seed for a named sub-stream, so streams do not depend on each other's length. */
export function subSeed(seed, ...parts) {
  let h = (seed >>> 0) ^ 0x5bd1e995;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n, rng) {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/**
 * One epoch's batches of `n` samples, `batch` at a time: the samples fall
 * into `batch` strata of consecutive indexes (n / batch each), each stratum
 * is shuffled, and batch s takes the s-th sample of every stratum. The
 * batches then do not depend on any rank count, and a contiguous block of
 * samples (a rank's shard) holds the same share of each batch, up to the
 * two strata its ends cut: with a plain shuffle a shard's share of a batch
 * varies by its square root (a batch of 256 on 2 ranks: 128 +- 8), and every
 * step the ranks with fewer samples wait for the one with most.
 * Returns the samples batch after batch, and where each batch starts (and the last ends).
 */
export function stratifiedBatches(n, batch, rng) {
  const strata = Math.max(1, Math.min(batch, n));
  const at = (j) => Math.floor((j * n) / strata);
  const shuffled = Array.from({ length: strata }, (_, j) => permutation(at(j + 1) - at(j), rng));
  const steps = Math.ceil(n / strata);
  const order = new Int32Array(n);
  const starts = new Int32Array(steps + 1);
  let k = 0;
  for (let s = 0; s < steps; s++) {
    starts[s] = k;
    for (let j = 0; j < strata; j++) if (s < shuffled[j].length) order[k++] = at(j) + shuffled[j][s];
  }
  starts[steps] = k;
  return { order, starts };
}

/**
 * A classification problem that a linear model cannot solve well: each class
 * is a mixture of several Gaussian clusters whose centres lie in a
 * low-dimensional latent space (so clusters of different classes interleave),
 * embedded into `dim` dimensions by a random linear map, plus isotropic noise
 * in every dimension. A fraction `labelNoise` of the training labels is
 * replaced by a random class; test labels stay clean.
 *
 * Returns features as Float32Array (row-major, n x dim) and labels as Uint8Array.
 */
export function makeDataset({ train, test, dim = 64, classes = 10, latent = 8, clustersPerClass = 4, spread = 0.45, noise = 0.6, labelNoise = 0.05, seed = 1 }) {
  const rng = createRng(subSeed(seed, 1));
  const k = classes * clustersPerClass;
  const centres = new Float64Array(k * latent);
  for (let i = 0; i < centres.length; i++) centres[i] = rng.normal();
  // Columns of the embedding have unit norm, so latent distances carry over.
  const embed = new Float64Array(dim * latent);
  for (let i = 0; i < embed.length; i++) embed[i] = rng.normal() / Math.sqrt(dim);
  // Unit variance per feature on average.
  const scale = Math.sqrt(dim / (latent * (1 + spread * spread) + noise * noise));
  const z = new Float64Array(latent);
  const split = (n, rngSplit, noisy) => {
    const x = new Float32Array(n * dim);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const label = rngSplit.int(classes);
      const c = label * clustersPerClass + rngSplit.int(clustersPerClass);
      for (let a = 0; a < latent; a++) z[a] = centres[c * latent + a] + spread * rngSplit.normal();
      for (let d = 0; d < dim; d++) {
        let v = 0;
        for (let a = 0; a < latent; a++) v += embed[d * latent + a] * z[a];
        x[i * dim + d] = (v + (noise / Math.sqrt(dim)) * rngSplit.normal()) * scale;
      }
      y[i] = noisy && rngSplit.uniform() < labelNoise ? rngSplit.int(classes) : label;
    }
    return { x, y, n };
  };
  return {
    dim,
    classes,
    train: split(train, createRng(subSeed(seed, 2)), true),
    test: split(test, createRng(subSeed(seed, 3)), false),
  };
}

/** Where each tensor sits in the flat parameter vector. */
export function createModel({ dim, hidden, classes }) {
  const w1 = 0;
  const b1 = w1 + hidden * dim;
  const w2 = b1 + hidden;
  const b2 = w2 + classes * hidden;
  return { dim, hidden, classes, w1, b1, w2, b2, size: b2 + classes };
}

/** He-normal first layer, Glorot-normal second layer, zero biases. */
export function initParams(m, rng) {
  const p = new Float64Array(m.size);
  const s1 = Math.sqrt(2 / m.dim);
  for (let i = m.w1; i < m.b1; i++) p[i] = s1 * rng.normal();
  const s2 = Math.sqrt(2 / (m.hidden + m.classes));
  for (let i = m.w2; i < m.b2; i++) p[i] = s2 * rng.normal();
  return p;
}

/** Scratch space for one rank: reused every step, nothing allocated per sample. */
export function createWorkspace(m) {
  return {
    x: new Float64Array(m.dim),
    h: new Float64Array(m.hidden),
    dh: new Float64Array(m.hidden),
    z: new Float64Array(m.classes),
  };
}

/**
 * Forward and backward pass over samples `idx[0..count)` of (x, y). ADDS the
 * gradient of the summed cross-entropy to `grad` (it is not cleared, not
 * averaged), and returns the summed loss and the number of correct argmax
 * predictions. With `grad` null it only evaluates.
 */
export function lossAndGrad(m, p, x, y, idx, count, grad, ws) {
  const D = m.dim;
  const H = m.hidden;
  const C = m.classes;
  const { w1, b1, w2, b2 } = m;
  const xv = ws.x;
  const h = ws.h;
  const dh = ws.dh;
  const z = ws.z;
  let loss = 0;
  let correct = 0;
  for (let t = 0; t < count; t++) {
    const i = idx === null ? t : idx[t];
    const xo = i * D;
    for (let k = 0; k < D; k++) xv[k] = x[xo + k];
    for (let j = 0; j < H; j++) {
      const r = w1 + j * D;
      let s = p[b1 + j];
      for (let k = 0; k < D; k++) s += p[r + k] * xv[k];
      h[j] = s > 0 ? s : 0;
    }
    let zmax = -Infinity;
    let best = 0;
    for (let c = 0; c < C; c++) {
      const r = w2 + c * H;
      let s = p[b2 + c];
      for (let j = 0; j < H; j++) s += p[r + j] * h[j];
      z[c] = s;
      if (s > zmax) {
        zmax = s;
        best = c;
      }
    }
    const label = y[i];
    const margin = z[label] - zmax;
    let sum = 0;
    for (let c = 0; c < C; c++) {
      z[c] = Math.exp(z[c] - zmax);
      sum += z[c];
    }
    // -log softmax_label, without exp underflow for confident mistakes.
    loss += Math.log(sum) - margin;
    if (best === label) correct++;
    if (grad === null) continue;

    // dLoss/dlogit_c = softmax_c - [c == label]
    dh.fill(0);
    for (let c = 0; c < C; c++) {
      const g = z[c] / sum - (c === label ? 1 : 0);
      grad[b2 + c] += g;
      const r = w2 + c * H;
      for (let j = 0; j < H; j++) {
        grad[r + j] += g * h[j];
        dh[j] += g * p[r + j];
      }
    }
    for (let j = 0; j < H; j++) {
      if (h[j] <= 0) continue; // ReLU: no gradient through inactive units
      const g = dh[j];
      grad[b1 + j] += g;
      const r = w1 + j * D;
      for (let k = 0; k < D; k++) grad[r + k] += g * xv[k];
    }
  }
  return { loss, correct };
}

/**
 * SGD with heavy-ball momentum and L2 weight decay on the weights:
 * v = mu v + (g / n + wd w); w -= lr v. `g` holds summed gradients of n samples.
 */
export function sgdStep(m, p, v, g, n, { lr, momentum, weightDecay }) {
  const inv = 1 / n;
  for (let i = 0; i < m.size; i++) {
    const isBias = (i >= m.b1 && i < m.w2) || i >= m.b2;
    const gi = g[i] * inv + (isBias ? 0 : weightDecay * p[i]);
    v[i] = momentum * v[i] + gi;
    p[i] -= lr * v[i];
  }
}

/** Order-independent summary of a parameter vector, for comparing runs. */
export function fingerprint(p) {
  let sum = 0;
  let sq = 0;
  let weighted = 0;
  for (let i = 0; i < p.length; i++) {
    sum += p[i];
    sq += p[i] * p[i];
    weighted += p[i] * (((i * 2654435761) >>> 0) / 4294967296 - 0.5);
  }
  return { sum, l2: Math.sqrt(sq), weighted };
}
