// The metric-based family: Prototypical, Matching, Relation and Siamese networks.
// They learn an embedding and compare queries with the support set. They have
// no inner loop, so --inner-steps and --inner-lr do not apply. Each trains on
// one episode per Adam step, as the papers do.

import { createMetricLearner, METRIC_ALGORITHMS } from '../../algorithms/metric/index';
import type { MetricAlgorithm } from '../../algorithms/metric/index';
import { UsageError } from '../errors';
import { IMAGE_SETS } from '../image-sets';
import type { AlgorithmOption, AlgorithmSpec, SharedDefaults } from './spec';

const SUMMARIES: Record<MetricAlgorithm, string> = {
  protonet: 'Prototypical Networks: distances to class-mean embeddings (Snell et al. 2017)',
  matchingnet: 'Matching Networks: cosine attention over the support set (Vinyals et al. 2016)',
  relationnet:
    'Relation Networks: a learned relation score per query-class pair (Sung et al. 2018)',
  siamese: 'Siamese networks: same/different scores of image pairs (Koch et al. 2015)',
};

const OPTIONS: Record<MetricAlgorithm, AlgorithmOption[]> = {
  protonet: [
    {
      flag: '--distance <name>',
      key: 'distance',
      description:
        'query-to-prototype comparison: sqeuclidean (the paper) or cosine (scaled by 10)',
      type: 'choice',
      choices: ['sqeuclidean', 'cosine'],
      default: 'sqeuclidean',
    },
    {
      flag: '--train-ways <n>',
      key: 'trainWays',
      description:
        'classes per training episode, for example 60 as the paper trains on Omniglot; 0 uses --ways',
      type: 'integer',
      min: 0,
      default: 0,
    },
  ],
  matchingnet: [
    {
      flag: '--fce',
      key: 'fce',
      description:
        'full context embeddings: a bidirectional LSTM over the support set and an attention LSTM for queries',
      type: 'boolean',
      default: false,
    },
    {
      flag: '--processing-steps <k>',
      key: 'processingSteps',
      description: 'steps of the query attention LSTM with --fce',
      type: 'integer',
      min: 1,
      default: 5,
    },
  ],
  relationnet: [],
  siamese: [
    {
      flag: '--pair-loss <name>',
      key: 'pairLoss',
      description:
        'bce: logistic unit on the L1 distance with binary cross-entropy (Koch); contrastive: margin loss on the Euclidean distance',
      type: 'choice',
      choices: ['bce', 'contrastive'],
      default: 'bce',
    },
    {
      flag: '--margin <m>',
      key: 'margin',
      description: 'contrastive loss: distance beyond which different-class pairs cost nothing',
      type: 'number',
      positive: true,
      default: 1,
    },
  ],
};

/** Settings shared by the family: one episode per Adam step at 1e-3, and no inner loop. */
function metricDefaults(algorithm: MetricAlgorithm): SharedDefaults {
  return {
    innerSteps: 0,
    testInnerSteps: 0,
    metaBatch: 1,
    metaLr: 0.001,
    // 64 filters per block, as the four papers use on Omniglot and mini-ImageNet alike.
    hidden: 64,
    // Snell et al. train Prototypical Networks with 5 queries per class on Omniglot.
    queries: algorithm === 'protonet' ? 5 : 15,
    iterations: 20000,
    logInterval: 100,
    evalInterval: 500,
  };
}

export const metricAlgorithms: AlgorithmSpec[] = METRIC_ALGORITHMS.map((name) => ({
  name,
  family: 'metric',
  summary: SUMMARIES[name],
  datasets: ['omniglot', ...IMAGE_SETS],
  options: OPTIONS[name],
  // Each learner reads the ways from the episode's support labels.
  anyWays: true,
  // The family adapts by comparing embeddings, with no gradient steps per task.
  unusedFlags: ['--inner-steps', '--test-inner-steps', '--inner-lr'],
  defaults: () => metricDefaults(name),
  build(config, source) {
    const margin = config.options?.margin;
    if (typeof margin === 'number' && !(margin > 0))
      throw new UsageError(`--margin ${margin} must be positive; use a value above 0.`);
    const [channels, size] = source.inputShape;
    return createMetricLearner(name, {
      inChannels: channels,
      imageSize: size,
      hidden: config.hidden,
      lr: config.metaLr,
      options: config.options ?? {},
    });
  },
}));
