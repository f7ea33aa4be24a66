// Siamese networks (Koch et al. 2015): one embedding applied to both images of
// a pair, the component-wise L1 distance |e1 - e2|, and a logistic unit that
// scores "same class", trained with binary cross-entropy. The contrastive-loss
// option (Hadsell et al. 2006) drops the logistic unit and pulls same-class
// embeddings together and pushes others at least a margin apart. Pairs are
// every (query, support) pair of an episode, and N-way evaluation picks the
// class of the support image with the highest same-class score.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { Linear } from '../../engine/nn/linear';
import type { FeatureModel } from '../../engine/nn/models';
import type { Task } from '../meta/functional';
import {
  checkEmbedding,
  embedEpisode,
  MetricLearner,
  type EpisodeOutput,
  type MetricConfig,
  type TrainedModule,
} from './common';

export type SiameseLoss = 'bce' | 'contrastive';

export interface SiameseConfig extends MetricConfig {
  loss: SiameseLoss;
  /** Contrastive loss: the distance beyond which different-class pairs cost nothing. */
  margin: number;
}

/** Per-pair weights that give same-class and different-class pairs half the loss each. */
function balancedWeights(targets: Tensor): Tensor {
  const positives = mg.sum(targets);
  const negatives = mg.sub(targets.size, positives);
  return mg.add(
    mg.div(targets, mg.mul(mg.maximum(positives, 1), 2)),
    mg.div(mg.sub(1, targets), mg.mul(mg.maximum(negatives, 1), 2)),
  );
}

export class SiameseLearner extends MetricLearner {
  readonly name = 'siamese';
  readonly embedding: FeatureModel;
  /** The logistic unit on |e1 - e2| (BCE loss only). */
  readonly head: Linear | null;
  readonly loss: SiameseLoss;
  readonly margin: number;

  constructor(embedding: FeatureModel, config: SiameseConfig) {
    if (!(config.margin > 0))
      throw new Error(`siamese: margin ${config.margin} is invalid; use a positive number.`);
    const head = config.loss === 'bce' ? new Linear(embedding.outFeatures, 1) : null;
    const modules: [string, TrainedModule][] = [['embedding', embedding]];
    if (head) modules.push(['head', head]);
    super(modules, config);
    this.embedding = embedding;
    this.head = head;
    this.loss = config.loss;
    this.margin = config.margin;
  }

  /**
   * Returns the pair scores [queries, supports], higher for "same class": the
   * logit of the logistic unit, or the negative squared distance for the
   * contrastive loss; and the pair loss against same-class targets.
   */
  pairs(
    support: Tensor,
    supportY: Tensor,
    query: Tensor,
    queryY: Tensor,
    ways: number,
  ): { scores: Tensor; loss: Tensor } {
    const targets = mg.matmulT(mg.oneHot(queryY, ways), mg.oneHot(supportY, ways), false, true);
    const weights = balancedWeights(targets);
    if (this.head) {
      const [q, d] = query.shape;
      const s = support.shape[0];
      const l1 = mg.abs(mg.sub(mg.unsqueeze(query, 1), mg.unsqueeze(support, 0)));
      const logits = mg.reshape(this.head.forward(mg.reshape(l1, [q * s, d])), [q, s]);
      const losses = mg.binaryCrossEntropyWithLogits(logits, targets, { reduction: 'none' });
      return { scores: logits, loss: mg.sum(mg.mul(weights, losses)) };
    }
    const squared = mg.pairwiseSquaredEuclidean(query, support);
    // The small constant keeps the square root differentiable at distance 0.
    const distance = mg.sqrt(mg.add(squared, 1e-12));
    const shortfall = mg.relu(mg.sub(this.margin, distance));
    const losses = mg.add(
      mg.mul(targets, squared),
      mg.mul(mg.sub(1, targets), mg.mul(shortfall, shortfall)),
    );
    return { scores: mg.neg(squared), loss: mg.sum(mg.mul(weights, losses)) };
  }

  /** Returns each query's score per class [queries, ways]: the highest pair score over the class's support images. */
  classScores(pairScores: Tensor, supportY: Tensor, ways: number): Tensor {
    // Pairs with another class's support image are pushed far below every real score.
    const mask = mg.mul(mg.sub(mg.oneHot(supportY, ways), 1), 1e9);
    return mg.max(mg.add(mg.unsqueeze(pairScores, 2), mask), 1);
  }

  episode(task: Task, ways: number): EpisodeOutput {
    const { support, query } = embedEpisode((x) => this.embedding.forward(x), task);
    checkEmbedding('siamese', support);
    const { scores, loss } = this.pairs(support, task.supportY, query, task.queryY, ways);
    return { loss, scores: this.classScores(scores.detach(), task.supportY, ways) };
  }
}
