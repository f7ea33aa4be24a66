// The optimization-based family: MAML, FOMAML, MAML++, Meta-SGD, ANIL and Reptile.

import { createLearner, type MetaAlgorithm } from '../../algorithms/meta/learners';
import { buildModel } from '../models';
import { IMAGE_SETS } from '../image-sets';
import type { AlgorithmSpec } from './spec';

const SUMMARIES: Record<MetaAlgorithm, string> = {
  maml: 'MAML with second-order meta-gradients (Finn et al. 2017)',
  fomaml: 'first-order MAML',
  mamlpp: 'MAML++ (Antoniou et al. 2019)',
  metasgd: 'Meta-SGD: a learned inner learning rate per parameter (Li et al. 2017)',
  anil: 'ANIL: the inner loop adapts only the head (Raghu et al. 2020)',
  reptile: 'Reptile (Nichol et al. 2018)',
};

export const optimizationAlgorithms: AlgorithmSpec[] = (
  Object.keys(SUMMARIES) as MetaAlgorithm[]
).map((name) => ({
  name,
  family: 'optimization',
  summary: SUMMARIES[name],
  datasets: ['sine', 'omniglot', ...IMAGE_SETS],
  build(config, source) {
    const module = buildModel(config.dataset, source, config.hidden);
    return createLearner(name, module, source.kind, {
      innerSteps: config.innerSteps,
      testInnerSteps: config.testInnerSteps,
      innerLr: config.innerLr,
      metaLr: config.metaLr,
      iterations: config.iterations,
      mslAnnealIterations: Math.max(1, Math.round(config.iterations * 0.3)),
      firstOrderIterations: Math.round(config.iterations * 0.3),
      headPrefix: 'head',
    });
  },
}));
