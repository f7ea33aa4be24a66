// Siamese networks (Koch et al. 2015): one embedding applied to both images of
// a pair, the component-wise L1 distance |e1 - e2|, and a logistic unit that
// scores "same class", trained with binary cross-entropy. The contrastive-loss
// option (Hadsell et al. 2006) drops the logistic unit and pulls same-class
// embeddings together and pushes others at least a margin apart. Pairs are
// every pair of distinct images in an episode, and N-way evaluation picks the
// class of the support image with the highest same-class score.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { Linear } from '../../engine/nn/linear';
import type { FeatureModel } from '../../engine/nn/models';
import type { Task } from '../meta/functional';
import {
  checkEmbedding,
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

/**
 * Per-pair weights over the n x n pairs of an episode's images: zero on the
 * diagonal (an image with itself), and otherwise same-class and
 * different-class pairs get half the loss each.
 */
function balancedWeights(targets: Tensor): Tensor {
  const n = targets.shape[0];
  const offDiagonal = mg.sub(1, mg.eye(n));
  const positives = mg.mul(targets, offDiagonal);
  const negatives = mg.sub(1, targets);
  const positiveCount = mg.maximum(mg.sum(positives), 1);
  const negativeCount = mg.maximum(mg.sum(negatives), 1);
  return mg.add(
    mg.div(positives, mg.mul(positiveCount, 2)),
    mg.div(negatives, mg.mul(negativeCount, 2)),
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
   * Scores every ordered pair of the embeddings [n, d], higher for "same
   * class": the logit of the logistic unit, or the negative squared distance
   * for the contrastive loss. Returns the scores [n, n] and the balanced pair
   * loss against the same-class targets of `labels` [n].
   */
  pairs(embeddings: Tensor, labels: Tensor, ways: number): { scores: Tensor; loss: Tensor } {
    const oneHot = mg.oneHot(labels, ways);
    const targets = mg.matmulT(oneHot, oneHot, false, true);
    const weights = balancedWeights(targets);
    const [n, d] = embeddings.shape;
    if (this.head) {
      const l1 = mg.abs(mg.sub(mg.unsqueeze(embeddings, 1), mg.unsqueeze(embeddings, 0)));
      const logits = mg.reshape(this.head.forward(mg.reshape(l1, [n * n, d])), [n, n]);
      const losses = mg.binaryCrossEntropyWithLogits(logits, targets, { reduction: 'none' });
      return { scores: logits, loss: mg.sum(mg.mul(weights, losses)) };
    }
    const squared = mg.pairwiseSquaredEuclidean(embeddings, embeddings);
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

  /**
   * Trains on every pair of the episode's images, support and query alike,
   * and scores each query against the support images.
   */
  episode(task: Task, ways: number): EpisodeOutput {
    const supportCount = task.supportX.shape[0];
    const queryCount = task.queryX.shape[0];
    const embeddings = this.embedding.forward(mg.concat([task.supportX, task.queryX], 0));
    checkEmbedding('siamese', embeddings);
    const labels = mg.concat([task.supportY, task.queryY], 0);
    const { scores, loss } = this.pairs(embeddings, labels, ways);
    const queryScores = mg.narrow(
      mg.narrow(scores.detach(), 0, supportCount, queryCount),
      1,
      0,
      supportCount,
    );
    return { loss, scores: this.classScores(queryScores, task.supportY, ways) };
  }
}
