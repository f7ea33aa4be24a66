// The metric-based learners and a factory that builds each with its standard
// embedding: the 4-block conv net without its head.

import { convNet4 } from '../../engine/nn/models';
import type { MetaLearner } from '../meta/learner';
import { MatchingNetLearner } from './matching';
import { ProtoNetLearner, type ProtoDistance } from './protonet';
import { relationModule, RelationNetLearner } from './relation';
import { SiameseLearner, type SiameseLoss } from './siamese';

export { MetricLearner, classMeans, classSums, episodeWays } from './common';
export { ProtoNetLearner, type ProtoDistance, type ProtoNetConfig } from './protonet';
export { MatchingNetLearner, FullContextEmbedding, type MatchingNetConfig } from './matching';
export { RelationNetLearner, relationModule, type RelationModuleOptions } from './relation';
export { SiameseLearner, type SiameseConfig, type SiameseLoss } from './siamese';

export const METRIC_ALGORITHMS = ['protonet', 'matchingnet', 'relationnet', 'siamese'] as const;
export type MetricAlgorithm = (typeof METRIC_ALGORITHMS)[number];

export interface MetricBuildOptions {
  inChannels: number;
  imageSize: number;
  /** Channels of every conv block. */
  hidden: number;
  /** Adam learning rate. */
  lr: number;
  /** The algorithm's own options by key (distance, fce, processingSteps, pairLoss, margin); absent keys take their defaults. */
  options: Record<string, number | string | boolean>;
}

export function createMetricLearner(
  name: MetricAlgorithm,
  settings: MetricBuildOptions,
): MetaLearner {
  const { inChannels, imageSize, hidden, lr, options } = settings;
  if (name === 'relationnet') {
    // Two pooled blocks keep feature maps (7x7 for 28x28 input) for the relation module.
    const embedding = convNet4({
      inChannels,
      imageSize,
      hidden,
      featuresOnly: true,
      pooledBlocks: 2,
    });
    const size = Math.floor(imageSize / 4);
    return new RelationNetLearner(embedding, relationModule({ channels: hidden, size }), { lr });
  }
  const embedding = convNet4({ inChannels, imageSize, hidden, featuresOnly: true });
  switch (name) {
    case 'protonet':
      return new ProtoNetLearner(embedding, {
        lr,
        distance: (options.distance as ProtoDistance | undefined) ?? 'sqeuclidean',
      });
    case 'matchingnet':
      return new MatchingNetLearner(embedding, {
        lr,
        fce: options.fce === true,
        processingSteps: Number(options.processingSteps ?? 5),
      });
    case 'siamese':
      return new SiameseLearner(embedding, {
        lr,
        loss: (options.pairLoss as SiameseLoss | undefined) ?? 'bce',
        margin: Number(options.margin ?? 1),
      });
  }
}
