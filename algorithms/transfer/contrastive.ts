// Self-supervised pretraining by contrastive learning. SimCLR (Chen et al.
// 2020): two augmented views of each image, a projection head, and the NT-Xent
// loss. MoCo v2 (Chen, Fan, Girshick and He 2020): a query encoder trained by
// InfoNCE against keys from a momentum (exponential moving average) copy of
// it, with a queue of past keys as negatives.

import * as mg from '../../engine/index';
import { Module } from '../../engine/nn/module';
import type { Tensor } from '../../engine/tensor';
import { copyInto } from '../../kernels/optim';
import type { LabelledImages } from '../../data/fashion-mnist';
import { Rng } from '../../data/rng';
import { BlockNet, type BackboneOptions } from './backbone';
import { augment } from './augment';
import { sampleBatch, step, toBatch } from './training';

// Added to the self-similarity logits, so exp() of them is 0 in float32.
const MASKED = -1e9;

/** Scales each row of x [N, D] to unit L2 norm (eps guards a zero row). */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  return mg.div(x, mg.sqrt(mg.add(mg.sum(mg.square(x), 1, true), eps)));
}

/**
 * NT-Xent (normalised temperature-scaled cross-entropy) of two views z1, z2
 * [N, D]: for each of the 2N embeddings, cross-entropy over the cosine
 * similarities / tau to the other 2N - 1, with its other view as the positive.
 * Returns the mean over the 2N.
 */
export function ntXent(z1: Tensor, z2: Tensor, temperature: number): Tensor {
  if (!(temperature > 0))
    throw new Error(`--temperature ${temperature} is invalid; use a positive number.`);
  const n = z1.shape[0];
  const z = l2Normalize(mg.concat([z1, z2], 0));
  const logits = mg.add(
    mg.div(mg.matmulT(z, z, false, true), temperature),
    mg.mul(mg.eye(2 * n), MASKED),
  );
  const labels = mg.tensor(
    Array.from({ length: 2 * n }, (_, i) => (i < n ? i + n : i - n)),
    { shape: [2 * n], dtype: 'i32' },
  );
  return mg.crossEntropy(logits, labels);
}

/**
 * InfoNCE of queries q [N, D] against their keys k [N, D] (positives) and a
 * queue [K, D] of negatives, all L2-normalised here: cross-entropy over
 * [q.k, q.queue_1, ..., q.queue_K] / tau with the positive at index 0. The keys
 * and queue are constants: no gradient flows into them.
 */
export function infoNce(q: Tensor, k: Tensor, queue: Tensor, temperature: number): Tensor {
  if (!(temperature > 0))
    throw new Error(`--temperature ${temperature} is invalid; use a positive number.`);
  const qn = l2Normalize(q);
  const kn = l2Normalize(k.detach());
  const positives = mg.sum(mg.mul(qn, kn), 1, true);
  const negatives = mg.matmulT(qn, l2Normalize(queue.detach()), false, true);
  const logits = mg.div(mg.concat([positives, negatives], 1), temperature);
  const labels = mg.zeros([q.shape[0]], { dtype: 'i32' });
  return mg.crossEntropy(logits, labels);
}

/** A backbone with a two-layer MLP projection head, as SimCLR and MoCo v2 use. */
export class ContrastiveModel extends Module {
  readonly backbone: BlockNet;
  readonly projection: mg.nn.Sequential;

  constructor(backbone: Omit<BackboneOptions, 'outFeatures'>, projectionDim: number) {
    super();
    this.backbone = this.registerModule('backbone', new BlockNet({ ...backbone, outFeatures: 0 }));
    const dim = this.backbone.featureDim;
    this.projection = this.registerModule(
      'projection',
      new mg.nn.Sequential(
        new mg.nn.Linear(dim, dim),
        new mg.nn.ReLU(),
        new mg.nn.Linear(dim, projectionDim),
      ),
    );
  }

  forward(x: Tensor): Tensor {
    return this.projection.forward(this.backbone.embed(x));
  }
}

/**
 * Updates every tensor of `key` to m * key + (1 - m) * query, outside the
 * graph. Running statistics are averaged the same way.
 */
export function momentumUpdate(key: Module, query: Module, momentum: number): void {
  const queryState = query.stateDict();
  mg.tidy(() =>
    mg.noGrad(() => {
      for (const [name, k] of key.stateDict()) {
        const q = queryState.get(name);
        if (!q) throw new Error(`momentumUpdate: the query encoder has no tensor "${name}".`);
        if (k.dtype !== 'f32' || k.size === 0) continue;
        const next = mg.add(mg.mul(k, momentum), mg.mul(q, 1 - momentum));
        copyInto(next.buffer, k.buffer, k.size * 4);
      }
    }),
  );
}

/** The key side of MoCo: a momentum encoder that never requires grad, and the queue of keys. */
export class MocoKeys {
  readonly encoder: ContrastiveModel;
  /** [queueSize, projectionDim], the newest keys first. */
  queue: Tensor;

  constructor(
    query: ContrastiveModel,
    backbone: Omit<BackboneOptions, 'outFeatures'>,
    projectionDim: number,
    queueSize: number,
  ) {
    this.encoder = new ContrastiveModel(backbone, projectionDim);
    this.encoder.loadStateDict(query.stateDict());
    for (const p of this.encoder.parameters()) p.requiresGrad_(false);
    this.queue = mg.keep(mg.tidy(() => l2Normalize(mg.randn([queueSize, projectionDim]))));
  }

  /** Returns keys for a batch, computed without a graph. */
  keys(x: Tensor): Tensor {
    return mg.noGrad(() => this.encoder.forward(x));
  }

  /** Puts the newest keys at the front and drops as many of the oldest. */
  enqueue(keys: Tensor): void {
    const size = this.queue.shape[0];
    const n = Math.min(keys.shape[0], size);
    const next = mg.keep(
      mg.tidy(() =>
        mg.noGrad(() =>
          mg.concat(
            [l2Normalize(mg.narrow(keys, 0, 0, n)), mg.narrow(this.queue, 0, 0, size - n)],
            0,
          ),
        ),
      ),
    );
    this.queue.dispose();
    this.queue = next;
  }
}

export interface PretrainOptions {
  method: 'simclr' | 'moco';
  steps: number;
  batchSize: number;
  lr: number;
  temperature: number;
  /** moco: momentum of the key encoder and the queue length. */
  momentum: number;
  queueSize: number;
  seed: number;
  startStep?: number;
  optimizer?: mg.optim.Adam;
  onStep?: (iteration: number, loss: number) => Promise<void> | void;
}

/** Pretrains `model` on unlabelled `images`; returns the optimizer and, for MoCo, the key side. */
export async function pretrain(
  model: ContrastiveModel,
  images: LabelledImages,
  options: PretrainOptions,
  keys: MocoKeys | null = null,
): Promise<{ optimizer: mg.optim.Adam; keys: MocoKeys | null }> {
  const optimizer = options.optimizer ?? new mg.optim.Adam(model.parameters(), { lr: options.lr });
  if (options.method === 'moco' && !keys)
    throw new Error('pretrain: MoCo needs its key encoder and queue (MocoKeys).');
  for (let iteration = options.startStep ?? 0; iteration < options.steps; iteration++) {
    const rng = new Rng((options.seed * 1_000_003 + iteration) >>> 0);
    const indices = sampleBatch(images.labels.length, options.batchSize, rng);
    let newKeys: Tensor | null = null;
    const loss = await step(optimizer, () => {
      const { x } = toBatch(images, indices);
      const view1 = augment(x, rng);
      const view2 = augment(x, rng);
      if (options.method === 'simclr')
        return ntXent(model.forward(view1), model.forward(view2), options.temperature);
      const k = keys!.keys(view2);
      newKeys = mg.keep(k);
      return infoNce(model.forward(view1), k, keys!.queue, options.temperature);
    });
    if (keys && newKeys) {
      // Order of MoCo's Algorithm 1: the query step, then the key encoder's update, then the queue.
      momentumUpdate(keys.encoder, model, options.momentum);
      keys.enqueue(newKeys);
      (newKeys as Tensor).dispose();
    }
    await options.onStep?.(iteration, loss);
  }
  return { optimizer, keys };
}
