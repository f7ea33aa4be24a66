// Matching Networks (Vinyals et al. 2016): a query's class distribution is an
// attention-weighted sum of the support labels, with attention a softmax over
// cosine similarities between the query embedding f(x) and each support
// embedding g(x_i). Full context embeddings (FCE) make g a bidirectional LSTM
// over the support set and f an attention LSTM with K processing steps.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { Module } from '../../engine/nn/module';
import type { FeatureModel } from '../../engine/nn/models';
import { LSTMCell } from '../../engine/nn/recurrent';
import type { Task } from '../meta/functional';
import {
  checkEmbedding,
  embedEpisode,
  MetricLearner,
  type EpisodeOutput,
  type MetricConfig,
  type TrainedModule,
} from './common';

export interface MatchingNetConfig extends MetricConfig {
  /** Full context embeddings: the bidirectional support LSTM and the query attention LSTM. */
  fce: boolean;
  /** Processing steps K of the attention LSTM (FCE only). */
  processingSteps: number;
}

/**
 * The two LSTMs of full context embeddings, on embeddings of width d.
 *
 * g(x_i) = g'(x_i) + h_fwd_i + h_bwd_i, where h_fwd and h_bwd are the hidden
 * states of LSTMs run forward and backward over the support sequence g'(x_1..n).
 *
 * f(x) runs K steps from h_0 = 0, r_0 = 0, c_0 = 0:
 *   h_k, c_k = LSTM(f'(x), (h_{k-1} + r_{k-1}, c_{k-1})),  h_k = h_k + f'(x),
 *   r_k = sum_i softmax_i(h_k . g(x_i)) g(x_i),
 * and returns h_K. The paper feeds the concatenation [h_{k-1}, r_{k-1}] as the
 * state; the sum keeps the LSTM's hidden size at d so h_k + f'(x) is defined.
 */
export class FullContextEmbedding extends Module<[Tensor, Tensor], [Tensor, Tensor]> {
  private readonly forwardCell: LSTMCell;
  private readonly backwardCell: LSTMCell;
  private readonly attentionCell: LSTMCell;
  readonly steps: number;

  constructor(features: number, steps: number) {
    super();
    if (!Number.isInteger(steps) || steps < 1)
      throw new Error(
        `FullContextEmbedding: processing steps ${steps} is invalid; use at least 1.`,
      );
    this.steps = steps;
    this.forwardCell = this.registerModule('support_forward', new LSTMCell(features, features));
    this.backwardCell = this.registerModule('support_backward', new LSTMCell(features, features));
    this.attentionCell = this.registerModule('query_attention', new LSTMCell(features, features));
  }

  /** Returns [g(support) [n, d], f(query) [q, d]] from the conv embeddings g' and f'. */
  forward(support: Tensor, query: Tensor): [Tensor, Tensor] {
    const n = support.shape[0];
    const rows = Array.from({ length: n }, (_, i) => mg.narrow(support, 0, i, 1));
    const forwardStates: Tensor[] = [];
    let state: [Tensor, Tensor] | undefined;
    for (let i = 0; i < n; i++) {
      state = this.forwardCell.forward(rows[i], state);
      forwardStates.push(state[0]);
    }
    const backwardStates: Tensor[] = new Array<Tensor>(n);
    state = undefined;
    for (let i = n - 1; i >= 0; i--) {
      state = this.backwardCell.forward(rows[i], state);
      backwardStates[i] = state[0];
    }
    const g = mg.add(support, mg.add(mg.concat(forwardStates, 0), mg.concat(backwardStates, 0)));

    const [q, d] = query.shape;
    let h = mg.zeros([q, d]);
    let r = mg.zeros([q, d]);
    let c = mg.zeros([q, d]);
    for (let k = 0; k < this.steps; k++) {
      const [hidden, cell] = this.attentionCell.forward(query, [mg.add(h, r), c]);
      h = mg.add(hidden, query);
      c = cell;
      const attention = mg.softmax(mg.matmulT(h, g, false, true), -1);
      r = mg.matmul(attention, g);
    }
    return [g, h];
  }
}

export class MatchingNetLearner extends MetricLearner {
  readonly name = 'matchingnet';
  readonly embedding: FeatureModel;
  readonly fce: FullContextEmbedding | null;

  constructor(embedding: FeatureModel, config: MatchingNetConfig) {
    const fce = config.fce
      ? new FullContextEmbedding(embedding.outFeatures, config.processingSteps)
      : null;
    const modules: [string, TrainedModule][] = [['embedding', embedding]];
    if (fce) modules.push(['fce', fce]);
    super(modules, config);
    this.embedding = embedding;
    this.fce = fce;
  }

  /** Returns log P(y = c | query) [queries, ways]: the log of the attention mass on each class. */
  logProbabilities(support: Tensor, supportY: Tensor, query: Tensor, ways: number): Tensor {
    const [g, f] = this.fce ? this.fce.forward(support, query) : [support, query];
    const attention = mg.softmax(mg.pairwiseCosineSimilarity(f, g), -1);
    const probabilities = mg.matmul(attention, mg.oneHot(supportY, ways));
    // Every class has support examples and softmax weights are positive, so the
    // floor only guards the log against float32 underflow.
    return mg.log(mg.maximum(probabilities, 1e-12));
  }

  episode(task: Task, ways: number): EpisodeOutput {
    const { support, query } = embedEpisode((x) => this.embedding.forward(x), task);
    checkEmbedding('matchingnet', support);
    const scores = this.logProbabilities(support, task.supportY, query, ways);
    return { loss: mg.nllLoss(scores, task.queryY), scores };
  }
}
