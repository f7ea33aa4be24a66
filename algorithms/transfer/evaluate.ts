// Evaluation of frozen features: a linear probe, k-nearest-neighbour
// classification, nearest-prototype few-shot episodes, and a PCA projection
// for plots. Features arrive as host arrays [N, D] (see extractFeatures).

import * as mg from '../../engine/index';
import { summarize, type Summary } from '../evaluation';
import { fixedEpisodes, type ClassSplit } from '../../data/episodes';
import { Rng } from '../../data/rng';

export interface FeatureSet {
  features: Float32Array;
  dim: number;
  labels: Int32Array;
}

/** Returns train and test features standardised by the training mean and standard deviation. */
function standardize(train: FeatureSet, test: FeatureSet): [Float32Array, Float32Array] {
  const { dim } = train;
  const n = train.labels.length;
  const mean = new Float64Array(dim);
  const variance = new Float64Array(dim);
  for (let i = 0; i < n; i++)
    for (let d = 0; d < dim; d++) mean[d] += train.features[i * dim + d] / n;
  for (let i = 0; i < n; i++)
    for (let d = 0; d < dim; d++) variance[d] += (train.features[i * dim + d] - mean[d]) ** 2 / n;
  const scale = (set: FeatureSet) =>
    set.features.map((v, j) => (v - mean[j % dim]) / Math.sqrt(variance[j % dim] + 1e-5));
  return [scale(train), scale(test)];
}

/**
 * Trains a linear classifier on frozen training features (full-batch Adam,
 * features standardised) and returns its test accuracy.
 */
export async function linearProbe(
  train: FeatureSet,
  test: FeatureSet,
  classes: number,
  options: { steps?: number; lr?: number; seed?: number } = {},
): Promise<number> {
  const [trainX, testX] = standardize(train, test);
  mg.manualSeed(options.seed ?? 0);
  const probe = new mg.nn.Linear(train.dim, classes);
  const optimizer = new mg.optim.Adam(probe.parameters(), { lr: options.lr ?? 0.01 });
  const x = mg.keep(mg.tensor(trainX, { shape: [train.labels.length, train.dim] }));
  const y = mg.keep(mg.tensor(train.labels, { shape: [train.labels.length], dtype: 'i32' }));
  for (let s = 0; s < (options.steps ?? 200); s++) {
    mg.tidy(() => {
      optimizer.zeroGrad();
      mg.backward(mg.crossEntropy(probe.forward(x), y));
      optimizer.step();
    });
    if (s % 20 === 19) await mg.yieldEventLoop();
  }
  const predicted = mg.tidy(() =>
    mg.noGrad(() =>
      mg.argmax(probe.forward(mg.tensor(testX, { shape: [test.labels.length, test.dim] })), 1),
    ),
  );
  const values = (await predicted.data()) as Int32Array;
  predicted.dispose();
  x.dispose();
  y.dispose();
  probe.dispose();
  let correct = 0;
  values.forEach((p, i) => {
    if (p === test.labels[i]) correct++;
  });
  return correct / test.labels.length;
}

function unitRows(set: FeatureSet): Float32Array {
  const { dim } = set;
  const out = new Float32Array(set.features.length);
  for (let i = 0; i < set.labels.length; i++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += set.features[i * dim + d] ** 2;
    const scale = 1 / Math.sqrt(norm + 1e-12);
    for (let d = 0; d < dim; d++) out[i * dim + d] = set.features[i * dim + d] * scale;
  }
  return out;
}

/**
 * k-nearest-neighbour accuracy by cosine similarity: each test image takes the
 * class with the largest summed similarity among its k nearest training images.
 * Similarities are computed on the GPU in chunks of test rows.
 */
export async function knnAccuracy(
  train: FeatureSet,
  test: FeatureSet,
  classes: number,
  k = 20,
): Promise<number> {
  const n = train.labels.length;
  const kk = Math.min(k, n);
  const bank = mg.keep(mg.tensor(unitRows(train), { shape: [n, train.dim] }));
  const queries = unitRows(test);
  let correct = 0;
  const chunk = 256;
  for (let start = 0; start < test.labels.length; start += chunk) {
    const rows = Math.min(chunk, test.labels.length - start);
    const sims = mg.tidy(() =>
      mg.matmulT(
        mg.tensor(queries.subarray(start * test.dim, (start + rows) * test.dim), {
          shape: [rows, test.dim],
        }),
        bank,
        false,
        true,
      ),
    );
    const values = (await sims.data()) as Float32Array;
    sims.dispose();
    for (let r = 0; r < rows; r++) {
      const row = values.subarray(r * n, (r + 1) * n);
      const order = Array.from({ length: n }, (_, i) => i)
        .sort((a, b) => row[b] - row[a])
        .slice(0, kk);
      const votes = new Float64Array(classes);
      for (const j of order) votes[train.labels[j]] += row[j];
      let best = 0;
      for (let c = 1; c < classes; c++) if (votes[c] > votes[best]) best = c;
      if (best === test.labels[start + r]) correct++;
    }
    await mg.yieldEventLoop();
  }
  bank.dispose();
  return correct / test.labels.length;
}

/**
 * Few-shot accuracy of frozen features: fixed N-way K-shot episodes from
 * `split` (whose store indices are rows of `features`), each query classified
 * by the nearest class mean (prototype) in squared Euclidean distance.
 */
export function prototypeEpisodes(
  features: Float32Array,
  dim: number,
  split: ClassSplit,
  shape: { ways: number; shots: number; queries: number },
  episodes: number,
  seed: number,
): Summary {
  const specs = fixedEpisodes(split, shape, episodes, seed);
  const scores = specs.map((spec) => {
    const prototypes = spec.classes.map((c, way) => {
      const proto = new Float64Array(dim);
      for (const pick of spec.picks[way].slice(0, shape.shots)) {
        const row = split.classes[c].images[pick];
        for (let d = 0; d < dim; d++) proto[d] += features[row * dim + d] / shape.shots;
      }
      return proto;
    });
    let correct = 0;
    spec.classes.forEach((c, way) => {
      for (const pick of spec.picks[way].slice(shape.shots)) {
        const row = split.classes[c].images[pick];
        let best = 0;
        let bestDistance = Infinity;
        prototypes.forEach((proto, w) => {
          let distance = 0;
          for (let d = 0; d < dim; d++) distance += (features[row * dim + d] - proto[d]) ** 2;
          if (distance < bestDistance) [best, bestDistance] = [w, distance];
        });
        if (best === way) correct++;
      }
    });
    return correct / (shape.ways * shape.queries);
  });
  return summarize(scores);
}

/**
 * Projects rows of x [N, D] on their first two principal components (power
 * iteration with deflation on the covariance). Returns [N, 2].
 */
export function pca2(x: Float32Array, dim: number, seed = 0): Float32Array {
  const n = x.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += x[i * dim + d] / n;
  const covariance = new Float64Array(dim * dim);
  for (let i = 0; i < n; i++)
    for (let a = 0; a < dim; a++) {
      const da = x[i * dim + a] - mean[a];
      for (let b = a; b < dim; b++)
        covariance[a * dim + b] += (da * (x[i * dim + b] - mean[b])) / n;
    }
  for (let a = 0; a < dim; a++)
    for (let b = 0; b < a; b++) covariance[a * dim + b] = covariance[b * dim + a];
  const rng = new Rng(seed);
  const components: Float64Array[] = [];
  for (let c = 0; c < 2; c++) {
    let v = Float64Array.from({ length: dim }, () => rng.uniform(-1, 1));
    for (let iteration = 0; iteration < 200; iteration++) {
      const next = new Float64Array(dim);
      for (let a = 0; a < dim; a++)
        for (let b = 0; b < dim; b++) next[a] += covariance[a * dim + b] * v[b];
      for (const previous of components) {
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += next[d] * previous[d];
        for (let d = 0; d < dim; d++) next[d] -= dot * previous[d];
      }
      const norm = Math.sqrt(next.reduce((s, value) => s + value * value, 0)) || 1;
      v = next.map((value) => value / norm);
    }
    components.push(v);
  }
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++)
    components.forEach((v, c) => {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += (x[i * dim + d] - mean[d]) * v[d];
      out[i * 2 + c] = dot;
    });
  return out;
}
