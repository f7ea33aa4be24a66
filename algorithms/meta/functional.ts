// The view of a model that optimisation-based meta-learners need: named initial
// parameters and a forward pass on any parameter map, differentiable in that map.

import type { Tensor } from '../../engine/index';

export type ParamMap = Map<string, Tensor>;

export interface ApplyOptions {
  /** Inner-loop step the forward belongs to (MAML++ keeps per-step BatchNorm state); undefined outside the inner loop. */
  step?: number;
}

export interface FunctionalModel {
  /** The meta-learned initial parameters, leaves that require grad. */
  readonly params: ParamMap;
  apply(params: ParamMap, x: Tensor, options?: ApplyOptions): Tensor;
}

/** A task: support set to adapt on, query set to evaluate on. Labels are i32 for classification, f32 for regression. */
export interface Task {
  supportX: Tensor;
  supportY: Tensor;
  queryX: Tensor;
  queryY: Tensor;
}

export type LossFn = (prediction: Tensor, target: Tensor) => Tensor;
