// Relation Networks (Sung et al. 2018): an embedding module turns images into
// feature maps, and a class's feature map is the sum of its support maps. A
// learned relation module scores each concatenated (class, query) pair in
// [0, 1], and training regresses the scores onto one-hot targets with MSE.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { ReLU, Sigmoid } from '../../engine/nn/activation';
import { Flatten, Sequential } from '../../engine/nn/containers';
import { Conv2d } from '../../engine/nn/conv';
import { Linear } from '../../engine/nn/linear';
import type { FeatureModel } from '../../engine/nn/models';
import { BatchNorm2d } from '../../engine/nn/norm';
import { MaxPool2d } from '../../engine/nn/pool';
import { formatShape } from '../../engine/shape';
import type { Task } from '../meta/functional';
import {
  classSums,
  embedEpisode,
  MetricLearner,
  type EpisodeOutput,
  type MetricConfig,
} from './common';

export interface RelationModuleOptions {
  /** Channels of one embedding feature map; the module reads pairs of 2 * channels. */
  channels: number;
  /** Height and width of the feature maps. */
  size: number;
  /** Units of the hidden fully connected layer (8 in the paper). */
  hidden?: number;
}

/**
 * Builds the relation module: two conv3x3 -> BatchNorm -> ReLU -> 2x2 max-pool
 * blocks on the concatenated pair, then Linear -> ReLU -> Linear -> sigmoid.
 */
export function relationModule(options: RelationModuleOptions): Sequential {
  const { channels } = options;
  let size = options.size;
  const layers = [];
  for (let block = 0; block < 2; block++) {
    layers.push(
      new Conv2d(block === 0 ? 2 * channels : channels, channels, 3, { padding: 1 }),
      new BatchNorm2d(channels),
      new ReLU(),
      new MaxPool2d(2),
    );
    size = Math.floor(size / 2);
  }
  if (size < 1)
    throw new Error(
      `relationModule: feature maps of ${options.size}x${options.size} are too small for two 2x2 poolings; use at least 4x4 (build the embedding with fewer pooled blocks).`,
    );
  const hidden = options.hidden ?? 8;
  layers.push(
    new Flatten(),
    new Linear(channels * size * size, hidden),
    new ReLU(),
    new Linear(hidden, 1),
    new Sigmoid(),
  );
  return new Sequential(...layers);
}

export class RelationNetLearner extends MetricLearner {
  readonly name = 'relationnet';
  readonly embedding: FeatureModel;
  readonly relation: Sequential;

  /** `embedding` must keep spatial maps: convNet4 with pooledBlocks 2 gives 7x7 maps for 28x28 input. */
  constructor(embedding: FeatureModel, relation: Sequential, config: MetricConfig) {
    super(
      [
        ['embedding', embedding],
        ['relation', relation],
      ],
      config,
    );
    this.embedding = embedding;
    this.relation = relation;
  }

  /** Returns the relation scores [queries, ways] in [0, 1] from support and query feature maps [n, C, H, W]. */
  relations(support: Tensor, supportY: Tensor, query: Tensor, ways: number): Tensor {
    if (support.ndim !== 4)
      throw new Error(
        `relationnet: the embedding returned shape ${formatShape(support.shape)}; expected feature maps [n, C, H, W].`,
      );
    const [, channels, height, width] = support.shape;
    const queries = query.shape[0];
    const classes = classSums(support, supportY, ways);
    // Pair p = q * ways + c is [class c, query q] stacked along the channels.
    const map = [channels, height, width];
    const classSide = mg.expand(mg.unsqueeze(classes, 0), [queries, ways, ...map]);
    const querySide = mg.expand(mg.unsqueeze(query, 1), [queries, ways, ...map]);
    const pairs = mg.concat(
      [
        mg.reshape(classSide, [queries * ways, ...map]),
        mg.reshape(querySide, [queries * ways, ...map]),
      ],
      1,
    );
    return mg.reshape(this.relation.forward(pairs), [queries, ways]);
  }

  episode(task: Task, ways: number): EpisodeOutput {
    const { support, query } = embedEpisode((x) => this.embedding.features.forward(x), task);
    const scores = this.relations(support, task.supportY, query, ways);
    return { loss: mg.mseLoss(scores, mg.oneHot(task.queryY, ways)), scores };
  }
}
