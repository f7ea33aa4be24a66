// MAML (Finn et al. 2017) and the variants that share its inner loop:
// first-order MAML, Meta-SGD (Li et al. 2017: a learned step size per parameter
// element), ANIL (Raghu et al. 2020: only the head adapts), and the MAML++
// options of Antoniou et al. 2019 (multi-step loss, learned per-layer per-step
// step sizes, derivative-order annealing).
//
// Inner step:  θ'_{s+1} = θ'_s - α ⊙ ∇_θ' L_support(θ'_s)
// Outer loss:  L_query(θ'_S), or Σ_s w_s L_query(θ'_s) with the multi-step loss.
// Second order keeps the inner gradients on the tape (createGraph), so the
// meta-gradient includes the term through the Hessian of the support loss;
// first order treats them as constants.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { stackParams, stackTasks, type BatchedModel } from './batched';
import type { FunctionalModel, LossFn, ParamMap, Task } from './functional';

export type InnerLrMode =
  /** One fixed α for every parameter (MAML, FOMAML, ANIL). */
  | 'fixed'
  /** A learned α tensor of each parameter's shape (Meta-SGD). */
  | 'per-parameter'
  /** A learned scalar α per parameter tensor and inner step (MAML++ LSLR). */
  | 'per-layer-per-step';

export interface MamlConfig {
  innerSteps: number;
  innerLr: number;
  /** Drop the second-order term of the meta-gradient (FOMAML). */
  firstOrder: boolean;
  innerLrMode: InnerLrMode;
  /** Names of the parameters the inner loop adapts; all when undefined. ANIL passes the head's. */
  adapted?: (name: string) => boolean;
  /** MAML++ multi-step loss: weight the query loss after every inner step. */
  multiStepLoss: boolean;
}

export const MAML_DEFAULTS: MamlConfig = {
  innerSteps: 1,
  innerLr: 0.01,
  firstOrder: false,
  innerLrMode: 'fixed',
  multiStepLoss: false,
};

export interface TaskResult {
  /** The outer (query) loss, a scalar on the tape. */
  loss: Tensor;
  /** Query predictions after the last inner step. */
  prediction: Tensor;
}

// A computation split at inner steps: it yields after each step and returns its result.
type Steps<T> = Generator<void, T, void>;

function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

// Lets the event loop turn after every step: one inner step of a conv net queues
// hundreds of dispatches, so tens of steps pass the runtime's per-turn limit.
async function runStepsYielding<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await mg.yieldEventLoop();
  }
}

export interface TaskLossOptions {
  /** False drops the second-order term, also for a second-order config (MAML++ annealing). */
  secondOrder?: boolean;
  /** MAML++ multi-step loss weights, one per inner step. */
  stepWeights?: number[];
  /** Inner steps; the config's innerSteps when undefined. */
  steps?: number;
}

/**
 * Multi-step loss weights of MAML++: uniform at first, annealed linearly so that
 * after `annealIterations` all the weight is on the last step; earlier steps keep
 * a floor of 0.03 / steps until then.
 */
export function multiStepWeights(
  steps: number,
  iteration: number,
  annealIterations: number,
): number[] {
  const weights = new Array<number>(steps).fill(1 / steps);
  const decay = 1 / steps / Math.max(annealIterations, 1);
  const floor = 0.03 / steps;
  for (let s = 0; s < steps - 1; s++) weights[s] = Math.max(1 / steps - iteration * decay, floor);
  weights[steps - 1] = Math.min(
    1 / steps + iteration * (steps - 1) * decay,
    1 - (steps - 1) * floor,
  );
  return weights;
}

export class Maml {
  readonly config: MamlConfig;
  readonly model: FunctionalModel;
  readonly loss: LossFn;
  /** Learned step sizes by name: `<param>` (per-parameter) or `<param>@<step>` (per-layer-per-step). */
  readonly innerLrs: ParamMap = new Map();
  /** The batched view of the model, which runs a meta-batch in single dispatches; null keeps the per-task loop. */
  readonly batched: BatchedModel | null;

  constructor(
    model: FunctionalModel,
    loss: LossFn,
    config: Partial<MamlConfig> = {},
    batched: BatchedModel | null = null,
  ) {
    this.config = { ...MAML_DEFAULTS, ...config };
    this.model = model;
    this.loss = loss;
    this.batched = batched;
    const { innerSteps, innerLr, innerLrMode } = this.config;
    if (!Number.isInteger(innerSteps) || innerSteps < 0)
      throw new Error(`MAML: innerSteps ${innerSteps} must be a non-negative integer.`);
    if (!(innerLr > 0) && innerLrMode === 'fixed')
      throw new Error(`MAML: innerLr ${innerLr} must be positive.`);

    for (const [name, param] of this.adaptedParams()) {
      if (innerLrMode === 'per-parameter') {
        this.innerLrs.set(name, mg.keep(mg.full(param.shape, innerLr, { requiresGrad: true })));
      } else if (innerLrMode === 'per-layer-per-step') {
        for (let s = 0; s < innerSteps; s++)
          this.innerLrs.set(`${name}@${s}`, mg.keep(mg.full([], innerLr, { requiresGrad: true })));
      }
    }
  }

  private adaptedParams(): [string, Tensor][] {
    const adapted = this.config.adapted;
    return [...this.model.params].filter(([name]) => !adapted || adapted(name));
  }

  /** Returns every tensor the meta-optimizer updates: the initial parameters and any learned step sizes. */
  metaParameters(): ParamMap {
    return new Map([
      ...this.model.params,
      ...[...this.innerLrs].map(([name, t]) => [`innerLr.${name}`, t] as [string, Tensor]),
    ]);
  }

  private stepSize(name: string, step: number): Tensor | number {
    switch (this.config.innerLrMode) {
      case 'fixed':
        return this.config.innerLr;
      case 'per-parameter':
        return this.innerLrs.get(name)!;
      case 'per-layer-per-step':
        return this.innerLrs.get(`${name}@${step}`)!;
    }
  }

  /**
   * Runs `steps` inner SGD steps on the support set and returns the adapted
   * parameters after each step (index 0 is the initial map). With createGraph the
   * steps stay differentiable with respect to the initial parameters.
   */
  adapt(
    task: Pick<Task, 'supportX' | 'supportY'>,
    steps: number,
    createGraph: boolean,
  ): ParamMap[] {
    return runSteps(this.adaptSteps(task, steps, createGraph));
  }

  /** `adapt`, letting the event loop turn after every inner step; run it inside mg.tidyAsync. */
  adaptAsync(
    task: Pick<Task, 'supportX' | 'supportY'>,
    steps: number,
    createGraph: boolean,
  ): Promise<ParamMap[]> {
    return runStepsYielding(this.adaptSteps(task, steps, createGraph));
  }

  private adaptSteps(
    task: Pick<Task, 'supportX' | 'supportY'>,
    steps: number,
    createGraph: boolean,
  ): Steps<ParamMap[]> {
    return this.innerLoop(
      this.model.params,
      (params, s) => this.loss(this.model.apply(params, task.supportX, { step: s }), task.supportY),
      steps,
      createGraph,
    );
  }

  // The inner SGD steps shared by the per-task and the batched paths: `supportLoss`
  // is one task's loss, or the sum of T tasks' losses over stacked parameters,
  // whose gradient contains each task's own gradient in its slice.
  private *innerLoop(
    initial: ParamMap,
    supportLoss: (params: ParamMap, step: number) => Tensor,
    steps: number,
    createGraph: boolean,
  ): Steps<ParamMap[]> {
    const trajectory: ParamMap[] = [initial];
    const adaptedNames = this.adaptedParams().map(([name]) => name);
    let params = initial;
    for (let s = 0; s < steps; s++) {
      const current = adaptedNames.map((name) => params.get(name)!);
      const grads = mg.grad(supportLoss(params, s), current, {
        createGraph,
        retainGraph: createGraph,
        allowUnused: true,
      });
      const next: ParamMap = new Map(params);
      adaptedNames.forEach((name, i) => {
        const g = grads[i];
        if (!g) return;
        // First order: the step uses the gradient's value but not its dependence on θ.
        const direction = createGraph ? g : g.detach();
        const lr = this.stepSize(name, Math.min(s, this.config.innerSteps - 1));
        next.set(name, mg.sub(current[i], mg.mul(direction, lr)));
      });
      params = next;
      trajectory.push(params);
      yield;
    }
    return trajectory;
  }

  /**
   * The outer loss of one task. `secondOrder` may be false during MAML++'s
   * derivative-order annealing even when the config is second order.
   */
  taskLoss(task: Task, options: TaskLossOptions = {}): TaskResult {
    return runSteps(this.taskLossSteps(task, options));
  }

  /** `taskLoss`, letting the event loop turn after every inner step; run it inside mg.tidyAsync. */
  taskLossAsync(task: Task, options: TaskLossOptions = {}): Promise<TaskResult> {
    return runStepsYielding(this.taskLossSteps(task, options));
  }

  private *taskLossSteps(task: Task, options: TaskLossOptions): Steps<TaskResult> {
    const steps = options.steps ?? this.config.innerSteps;
    const secondOrder = (options.secondOrder ?? true) && !this.config.firstOrder;
    const trajectory = yield* this.adaptSteps(task, steps, secondOrder);

    if (this.config.multiStepLoss && options.stepWeights && steps > 0) {
      let total: Tensor | null = null;
      let prediction: Tensor | null = null;
      for (let s = 1; s <= steps; s++) {
        prediction = this.model.apply(trajectory[s], task.queryX, { step: s - 1 });
        const term = mg.mul(this.loss(prediction, task.queryY), options.stepWeights[s - 1]);
        total = total ? mg.add(total, term) : term;
        yield;
      }
      return { loss: total!, prediction: prediction! };
    }
    const prediction = this.model.apply(trajectory[steps], task.queryX, { step: steps });
    return { loss: this.loss(prediction, task.queryY), prediction };
  }

  /**
   * True when `tasks` can run as one batch: a batched view exists and every
   * task's tensors have the same shapes (equal ways, shots and queries).
   */
  canBatch(tasks: Task[]): boolean {
    if (!this.batched || tasks.length === 0) return false;
    const key = (t: Task) =>
      [t.supportX, t.supportY, t.queryX, t.queryY].map((x) => x.shape.join('x')).join();
    const first = key(tasks[0]);
    return tasks.every((t) => key(t) === first);
  }

  /**
   * The mean outer loss of `tasks`, computed for all of them at once through the
   * batched view: the initial parameters are stacked T times, so the gradient of
   * this loss with respect to them is the sum over tasks (the per-task loop's
   * meta-gradient), and each task adapts its own slice. Returns the query
   * predictions as [T, queries, ...].
   */
  batchedTaskLoss(tasks: Task[], options: TaskLossOptions = {}): TaskResult {
    return runSteps(this.batchedTaskLossSteps(tasks, options));
  }

  /** `batchedTaskLoss`, letting the event loop turn after every inner step; run it inside mg.tidyAsync. */
  batchedTaskLossAsync(tasks: Task[], options: TaskLossOptions = {}): Promise<TaskResult> {
    return runStepsYielding(this.batchedTaskLossSteps(tasks, options));
  }

  private *batchedTaskLossSteps(tasks: Task[], options: TaskLossOptions): Steps<TaskResult> {
    const batched = this.batched;
    if (!batched || !this.canBatch(tasks))
      throw new Error(
        'MAML: batchedTaskLoss needs a batched view and tasks of equal shapes; check canBatch(tasks) and use taskLoss per task otherwise.',
      );
    const T = tasks.length;
    const steps = options.steps ?? this.config.innerSteps;
    const secondOrder = (options.secondOrder ?? true) && !this.config.firstOrder;
    const supportX = stackTasks(tasks.map((t) => t.supportX));
    const supportY = stackTasks(tasks.map((t) => t.supportY));
    const queryX = stackTasks(tasks.map((t) => t.queryX));
    const queryY = stackTasks(tasks.map((t) => t.queryY));
    // The loss functions average over examples. Every task has the same size, so
    // the loss over the flattened [T * n, ...] batch is the mean of the task losses.
    const meanLoss = (prediction: Tensor, target: Tensor) =>
      this.loss(
        mg.reshape(prediction, [-1, ...prediction.shape.slice(2)]),
        mg.reshape(target, [-1, ...target.shape.slice(2)]),
      );
    const trajectory = yield* this.innerLoop(
      stackParams(this.model.params, T),
      (params, s) => mg.mul(meanLoss(batched.apply(params, supportX, { step: s }), supportY), T),
      steps,
      secondOrder,
    );

    if (this.config.multiStepLoss && options.stepWeights && steps > 0) {
      let total: Tensor | null = null;
      let prediction: Tensor | null = null;
      for (let s = 1; s <= steps; s++) {
        prediction = batched.apply(trajectory[s], queryX, { step: s - 1 });
        const term = mg.mul(meanLoss(prediction, queryY), options.stepWeights[s - 1]);
        total = total ? mg.add(total, term) : term;
        yield;
      }
      return { loss: total!, prediction: prediction! };
    }
    const prediction = batched.apply(trajectory[steps], queryX, { step: steps });
    return { loss: meanLoss(prediction, queryY), prediction };
  }

  /** The meta-loss of a meta-batch: the mean of the tasks' outer losses. */
  metaLoss(
    tasks: Task[],
    options: { secondOrder?: boolean; stepWeights?: number[] } = {},
  ): { loss: Tensor; predictions: Tensor[] } {
    if (this.canBatch(tasks)) {
      const { loss, prediction } = this.batchedTaskLoss(tasks, options);
      const predictions = tasks.map((_, t) =>
        mg.reshape(mg.narrow(prediction, 0, t, 1), prediction.shape.slice(1)),
      );
      return { loss, predictions };
    }
    // NOTE: tasks of different shapes, or a model without a batched view
    // (residual blocks, Dropout, recurrent cells), run one task at a time.
    let total: Tensor | null = null;
    const predictions: Tensor[] = [];
    for (const task of tasks) {
      const result = this.taskLoss(task, options);
      predictions.push(result.prediction);
      total = total ? mg.add(total, result.loss) : result.loss;
    }
    return { loss: mg.mul(total!, 1 / tasks.length), predictions };
  }

  /** Gradients of the meta-loss with respect to every meta-parameter, by name. */
  metaGradient(
    tasks: Task[],
    options: { secondOrder?: boolean; stepWeights?: number[] } = {},
  ): { loss: Tensor; grads: ParamMap; predictions: Tensor[] } {
    const { loss, predictions } = this.metaLoss(tasks, options);
    const meta = this.metaParameters();
    const grads = mg.grad(loss, [...meta.values()], { allowUnused: true });
    const named: ParamMap = new Map();
    [...meta.keys()].forEach((name, i) => {
      const g = grads[i];
      named.set(name, g ?? mg.zeros(meta.get(name)!.shape));
    });
    return { loss, grads: named, predictions };
  }
}
