// Prototypical Networks (Snell et al. 2017): each class's prototype is the mean
// embedding of its support examples, and a query's logit for a class is the
// negative squared Euclidean distance to the prototype (or a scaled cosine
// similarity), trained with cross-entropy over the episode.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import type { FeatureModel } from '../../engine/nn/models';
import type { ParamMap, Task } from '../meta/functional';
import {
  checkEmbedding,
  classMeans,
  embedEpisode,
  MetricLearner,
  type EpisodeOutput,
  type MetricConfig,
} from './common';

export type ProtoDistance = 'sqeuclidean' | 'cosine';

export interface ProtoNetConfig extends MetricConfig {
  distance: ProtoDistance;
  /**
   * Factor on the cosine similarities before the softmax (default 10). Cosine
   * values lie in [-1, 1], so unscaled they give a softmax too flat to train.
   */
  cosineScale?: number;
}

export class ProtoNetLearner extends MetricLearner {
  readonly name = 'protonet';
  readonly embedding: FeatureModel;
  readonly distance: ProtoDistance;
  private readonly cosineScale: number;

  constructor(embedding: FeatureModel, config: ProtoNetConfig) {
    // The prefix '' keeps the embedding's own names (features.0.weight, ...), so
    // a checkpoint loads straight into convNet4({ featuresOnly: true }).
    super([['', embedding]], config);
    this.embedding = embedding;
    this.distance = config.distance;
    this.cosineScale = config.cosineScale ?? 10;
  }

  /** Returns the query logits [queries, ways] against the prototypes of `support` embeddings. */
  logits(support: Tensor, supportY: Tensor, query: Tensor, ways: number): Tensor {
    const prototypes = classMeans(support, supportY, ways);
    if (this.distance === 'cosine')
      return mg.mul(mg.pairwiseCosineSimilarity(query, prototypes), this.cosineScale);
    return mg.neg(mg.pairwiseSquaredEuclidean(query, prototypes));
  }

  episode(task: Task, ways: number): EpisodeOutput {
    const { support, query } = embedEpisode((x) => this.embedding.forward(x), task);
    checkEmbedding('protonet', support);
    const scores = this.logits(support, task.supportY, query, ways);
    return { loss: mg.crossEntropy(scores, task.queryY), scores };
  }

  override stateTensors(): ParamMap {
    return this.embedding.stateDict();
  }
}
