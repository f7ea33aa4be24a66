// Optimizers, learning-rate schedules and gradient clipping.

export {
  Optimizer,
  type GroupOptions,
  type GroupInput,
  type ParamGroup,
  type ParamState,
  type OptimizerStateDict,
} from './optimizer';
export { SGD, type SGDOptions } from './sgd';
export { Adam, AdamW, type AdamOptions } from './adam';
export { LRScheduler, StepLR, LinearWarmup, CosineAnnealing } from './schedule';
export { clipGradNorm, clipGradValue } from './clip';
