// Domain-adversarial training (Ganin et al. 2016, "Domain-Adversarial Training
// of Neural Networks", JMLR 17). A feature extractor feeds a label classifier
// (trained on labelled source images) and, through a gradient reversal layer, a
// domain classifier (trained to tell source from target images). The reversal
// makes the features maximise the domain loss while the classifier minimises
// it, which pushes the two feature distributions together.

import * as mg from '../../engine/index';
import { Module } from '../../engine/nn/module';
import type { Tensor } from '../../engine/tensor';
import type { LabelledImages } from '../../data/fashion-mnist';
import { Rng } from '../../data/rng';
import { BlockNet, type BackboneOptions } from './backbone';
import { sampleBatch, step, toBatch } from './training';

/** Returns the adaptation factor of Ganin et al. (2016): lambda_p = 2 / (1 + exp(-gamma p)) - 1 with gamma = 10, for progress p in [0, 1]. */
export function dannLambda(progress: number, gamma = 10): number {
  return 2 / (1 + Math.exp(-gamma * progress)) - 1;
}

/** Returns the annealed learning rate of Ganin et al. (2016): mu_p = mu0 / (1 + alpha p)^beta with alpha = 10, beta = 0.75. */
export function dannLearningRate(mu0: number, progress: number, alpha = 10, beta = 0.75): number {
  return mu0 / (1 + alpha * progress) ** beta;
}

/** Feature extractor, label classifier and domain classifier. */
export class DannModel extends Module {
  readonly features: BlockNet;
  readonly classifier: mg.nn.Linear;
  readonly domain: mg.nn.Sequential;

  constructor(backbone: Omit<BackboneOptions, 'outFeatures'>, classes: number, domainHidden = 64) {
    super();
    this.features = this.registerModule('features', new BlockNet({ ...backbone, outFeatures: 0 }));
    const dim = this.features.featureDim;
    this.classifier = this.registerModule('classifier', new mg.nn.Linear(dim, classes));
    this.domain = this.registerModule(
      'domain',
      new mg.nn.Sequential(
        new mg.nn.Linear(dim, domainHidden),
        new mg.nn.ReLU(),
        new mg.nn.Linear(domainHidden, 1),
      ),
    );
  }

  /** Returns class logits. */
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.features.embed(x));
  }

  /** Returns domain logits [N] of features passed through gradient reversal with factor lambda. */
  domainLogits(features: Tensor, lambda: number): Tensor {
    return mg.reshape(this.domain.forward(mg.gradReverse(features, lambda)), [features.shape[0]]);
  }
}

export interface DannOptions {
  /** 'dann': the adversarial loss on; 'source-only': the same network and schedule without it. */
  mode: 'dann' | 'source-only';
  steps: number;
  batchSize: number;
  /** mu0 of the annealed learning rate (SGD with momentum 0.9, as in the paper). */
  lr: number;
  /** Scales lambda_p; the paper's schedule ramps it from 0 to this value. */
  lambdaMax: number;
  seed: number;
  onStep?: (
    iteration: number,
    metrics: { loss: number; lambda: number; lr: number },
  ) => Promise<void> | void;
  /** The first step to take, when resuming. */
  startStep?: number;
  /** The optimizer to use (to resume its momentum); one is created when absent. */
  optimizer?: mg.optim.SGD;
}

/**
 * Trains `model` on labelled `source` and unlabelled `target` images. Each step
 * draws a batch from each domain, passes both through the feature extractor
 * together, applies the class loss to the source half and the domain loss
 * (binary cross-entropy, source 0 and target 1) to all of it. Returns the optimizer.
 */
export async function trainDann(
  model: DannModel,
  source: LabelledImages,
  target: LabelledImages,
  options: DannOptions,
): Promise<mg.optim.SGD> {
  const optimizer =
    options.optimizer ?? new mg.optim.SGD(model.parameters(), { lr: options.lr, momentum: 0.9 });
  const half = options.batchSize;
  const domainLabels = mg.keep(
    mg.tensor(
      Array.from({ length: 2 * half }, (_, i) => (i < half ? 0 : 1)),
      { shape: [2 * half] },
    ),
  );
  try {
    for (let iteration = options.startStep ?? 0; iteration < options.steps; iteration++) {
      // A per-step generator makes a resumed run draw the same batches as an uninterrupted one.
      const rng = new Rng((options.seed * 1_000_003 + iteration) >>> 0);
      const progress = iteration / Math.max(1, options.steps);
      const lambda = options.lambdaMax * dannLambda(progress);
      const lr = dannLearningRate(options.lr, progress);
      for (const group of optimizer.paramGroups) group.lr = lr;
      const sourceIndices = sampleBatch(source.labels.length, half, rng);
      const targetIndices = sampleBatch(target.labels.length, half, rng);
      const loss = await step(optimizer, () => {
        const s = toBatch(source, sourceIndices);
        if (options.mode === 'source-only') return mg.crossEntropy(model.forward(s.x), s.y);
        const t = toBatch(target, targetIndices);
        const features = model.features.embed(mg.concat([s.x, t.x], 0));
        const classLoss = mg.crossEntropy(
          model.classifier.forward(mg.narrow(features, 0, 0, half)),
          s.y,
        );
        const domainLoss = mg.binaryCrossEntropyWithLogits(
          model.domainLogits(features, lambda),
          domainLabels,
        );
        return mg.add(classLoss, domainLoss);
      });
      await options.onStep?.(iteration, { loss, lambda, lr });
    }
  } finally {
    domainLabels.dispose();
  }
  return optimizer;
}
