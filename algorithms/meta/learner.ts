// One interface for every meta-learner, so the training loop, the evaluation
// protocol, checkpoints and the CLI serve them all.

import type { Tensor } from '../../engine/index';
import type { ParamMap, Task } from './functional';

export interface StepResult {
  /** Mean outer (query) loss of the meta-batch. */
  loss: number;
  /** Mean query accuracy for classification; undefined for regression. */
  accuracy?: number;
}

export interface EvalResult {
  loss: number;
  accuracy?: number;
  /** Query predictions after adaptation, for plots; the caller disposes them. */
  prediction?: Tensor;
  /** Further scores of the task by name, e.g. per-instance accuracies; averaged over tasks into result.json. */
  metrics?: Record<string, number>;
}

export interface MetaLearner {
  readonly name: string;
  /** Every tensor a checkpoint must hold to restore the learner: parameters, buffers, learned step sizes. */
  stateTensors(): ParamMap;
  /** Copies checkpointed tensors in, after checking every name and shape. */
  loadStateTensors(tensors: ParamMap): void;
  /** The meta-optimizer, saved beside the model. */
  readonly optimizer: import('../../engine/optim/optimizer').Optimizer<
    import('../../engine/optim/optimizer').GroupOptions
  >;
  /** One meta-training step on a meta-batch of tasks: meta-gradient and optimizer update. */
  trainStep(tasks: Task[], iteration: number): Promise<StepResult>;
  /** Adapts to one task with `steps` inner steps (its training default when undefined) and scores the query set. */
  evaluate(task: Task, steps?: number, keepPrediction?: boolean): Promise<EvalResult>;
}

/** Mean accuracy of class scores [n, classes] against i32 labels [n], computed on the host. */
export async function accuracyOf(scores: Tensor, labels: Tensor): Promise<number> {
  const [values, truth] = await Promise.all([scores.data(), labels.data()]);
  const classes = scores.shape[scores.ndim - 1];
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++)
      if (values[i * classes + c] > values[i * classes + best]) best = c;
    if (best === truth[i]) correct += 1;
  }
  return correct / truth.length;
}
