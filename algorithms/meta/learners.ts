// The optimisation-based meta-learners behind `metagrad train`: MAML (second
// order), FOMAML, MAML++, Meta-SGD, ANIL and Reptile, on a Module model.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { functionalView, type Module } from '../../engine/nn/module';
import { Adam, CosineAnnealing, type LRScheduler } from '../../engine/optim/index';
import { formatShape } from '../../engine/shape';
import { copyInto } from '../../kernels/optim';
import { batchedView, stackParams, stackTasks } from './batched';
import type { FunctionalModel, LossFn, ParamMap, Task } from './functional';
import { accuracyOf, type EvalResult, type MetaLearner, type StepResult } from './learner';
import { Maml, multiStepWeights, type InnerLrMode } from './maml';
import { PerStepBatchNorm } from './per-step-bn';

export const META_ALGORITHMS = ['maml', 'fomaml', 'mamlpp', 'metasgd', 'anil', 'reptile'] as const;
export type MetaAlgorithm = (typeof META_ALGORITHMS)[number];

export type TaskKind = 'classification' | 'regression';

export interface LearnerConfig {
  innerSteps: number;
  /** Inner steps at evaluation; MAML evaluates with more steps than it trains with. */
  testInnerSteps: number;
  innerLr: number;
  metaLr: number;
  iterations: number;
  /** MAML++: iterations over which the multi-step loss weights anneal to the last step. */
  mslAnnealIterations: number;
  /** MAML++: first-order meta-gradients before this iteration, second order after. */
  firstOrderIterations: number;
  /** ANIL: the name prefix of the head, the only part the inner loop adapts. */
  headPrefix: string;
  /** Run a meta-batch as batches of tasks when the model has a batched view (default true); false loops over tasks. */
  batchTasks?: boolean;
}

// The maximum number of floats that one activation of a batched chunk may hold (64 MiB): a
// second-order step keeps several such tensors per layer on the tape.
const BATCH_ELEMENTS = 16 * 1024 * 1024;

export function lossFor(kind: TaskKind): LossFn {
  return kind === 'classification'
    ? (logits, labels) => mg.crossEntropy(logits, labels)
    : (prediction, target) => mg.mseLoss(prediction, target);
}

function copyChecked(target: ParamMap, source: ParamMap, what: string): void {
  for (const [name, tensor] of target) {
    const given = source.get(name);
    if (!given) throw new Error(`${what}: the checkpoint has no tensor "${name}".`);
    if (given.shape.join() !== tensor.shape.join()) {
      throw new Error(
        `${what}: tensor "${name}" has shape ${formatShape(given.shape)} in the checkpoint, expected ${formatShape(tensor.shape)}.`,
      );
    }
  }
}

/** MAML and the variants that share its inner loop. */
export class MamlLearner implements MetaLearner {
  readonly name: MetaAlgorithm;
  readonly optimizer: Adam;
  private readonly maml: Maml;
  private readonly module: Module<[Tensor], Tensor>;
  private readonly scheduler: LRScheduler | null;
  private readonly kind: TaskKind;
  private readonly config: LearnerConfig;
  /** MAML++ per-step BatchNorm tensors; null for the other algorithms and for models without BatchNorm. */
  private readonly perStepBn: PerStepBatchNorm | null;

  constructor(
    name: Exclude<MetaAlgorithm, 'reptile'>,
    module: Module<[Tensor], Tensor>,
    kind: TaskKind,
    config: LearnerConfig,
  ) {
    this.name = name;
    this.module = module;
    this.kind = kind;
    this.config = config;
    const innerLrModes: Partial<Record<MetaAlgorithm, InnerLrMode>> = {
      metasgd: 'per-parameter',
      mamlpp: 'per-layer-per-step',
    };
    const innerLrMode = innerLrModes[name] ?? 'fixed';
    // MAML++ gives each inner step its own BatchNorm scale, shift and running statistics.
    const perStep =
      name === 'mamlpp' ? new PerStepBatchNorm(module, Math.max(1, config.innerSteps)) : null;
    this.perStepBn = perStep?.active ? perStep : null;
    const batched = config.batchTasks === false ? null : batchedView(module);
    if (batched && this.perStepBn) this.perStepBn.attach(batched);
    const head = (param: string) => param.startsWith(config.headPrefix);
    // ANIL adapts only the head. With per-step BatchNorm, MAML++ adapts everything but
    // the per-step copies (named `<param>@<step>`), which are meta-learned only.
    let adapted: ((param: string) => boolean) | undefined;
    if (name === 'anil') adapted = head;
    else if (this.perStepBn) adapted = (param: string) => !param.includes('@');
    this.maml = new Maml(
      this.perStepBn ?? functionalView(module),
      lossFor(kind),
      {
        innerSteps: config.innerSteps,
        innerLr: config.innerLr,
        firstOrder: name === 'fomaml',
        innerLrMode,
        multiStepLoss: name === 'mamlpp',
        adapted,
      },
      batched,
    );
    this.optimizer = new Adam([...this.maml.metaParameters().values()], { lr: config.metaLr });
    // MAML++ anneals the meta learning rate with a cosine schedule.
    this.scheduler =
      name === 'mamlpp'
        ? new CosineAnnealing(this.optimizer, {
            tMax: config.iterations,
            etaMin: config.metaLr * 0.01,
          })
        : null;
  }

  // Splits a meta-batch into chunks that run as one batch each. A chunk's largest
  // activation is kept under BATCH_ELEMENTS floats, measured once per task shape
  // by a forward pass of one task without the tape.
  private chunks(tasks: Task[]): Task[][] {
    if (!this.maml.canBatch(tasks)) return tasks.map((t) => [t]);
    const perTask = this.largestActivation(tasks[0]);
    const size = Math.max(1, Math.min(tasks.length, Math.floor(BATCH_ELEMENTS / perTask)));
    const chunks: Task[][] = [];
    for (let i = 0; i < tasks.length; i += size) chunks.push(tasks.slice(i, i + size));
    return chunks;
  }

  private readonly activationSizes = new Map<string, number>();

  private largestActivation(task: Task): number {
    const key = [task.supportX, task.queryX].map((x) => x.shape.join('x')).join();
    let size = this.activationSizes.get(key);
    if (size === undefined) {
      size = 0;
      for (const x of [task.supportX, task.queryX]) {
        const sizes = mg.tidy(() =>
          mg.noGrad(() => {
            const trace: number[] = [];
            this.maml.batched!.apply(stackParams(this.maml.model.params, 1), mg.unsqueeze(x, 0), {
              trace,
            });
            return trace;
          }),
        );
        size = Math.max(size, x.size, ...sizes);
      }
      this.activationSizes.set(key, size);
    }
    return size;
  }

  // MAML++ per-step BatchNorm copies and statistics, by their `<name>@<step>` names.
  private perStepTensors(): [string, Tensor][] {
    if (!this.perStepBn) return [];
    return [
      ...[...this.perStepBn.params].filter(([name]) => name.includes('@')),
      ...this.perStepBn.statistics,
    ];
  }

  stateTensors(): ParamMap {
    return new Map([
      ...this.module.stateDict(),
      ...[...this.maml.innerLrs].map(([n, t]) => [`innerLr.${n}`, t] as [string, Tensor]),
      ...this.perStepTensors(),
    ]);
  }

  loadStateTensors(tensors: ParamMap): void {
    copyChecked(this.stateTensors(), tensors, `${this.name} checkpoint`);
    this.module.loadStateDict(
      new Map([...tensors].filter(([name]) => !name.startsWith('innerLr.') && !name.includes('@'))),
    );
    for (const [name, lr] of this.maml.innerLrs)
      copyInto(tensors.get(`innerLr.${name}`)!.buffer, lr.buffer, lr.size * 4);
    for (const [name, target] of this.perStepTensors())
      copyInto(tensors.get(name)!.buffer, target.buffer, target.size * 4);
  }

  // Runs the meta-batch chunk by chunk, accumulating each chunk's share of the
  // meta-gradient into .grad and collecting its loss and query predictions.
  private async accumulate(
    chunks: Task[][],
    taskCount: number,
    secondOrder: boolean,
    stepWeights: number[] | undefined,
    losses: Tensor[],
    scored: { prediction: Tensor; labels: Tensor[] }[],
  ): Promise<void> {
    for (const chunk of chunks) {
      const share = chunk.length / taskCount;
      // The event loop turns after every inner step and during the backward pass,
      // because a chunk with tens of inner steps queues more dispatches than one turn allows.
      const result = await mg.tidyAsync(async () => {
        const { loss, prediction } =
          chunk.length > 1 || this.maml.canBatch(chunk)
            ? await this.maml.batchedTaskLossAsync(chunk, { secondOrder, stepWeights })
            : await this.maml.taskLossAsync(chunk[0], { secondOrder, stepWeights });
        await mg.backwardAsync(mg.mul(loss, share));
        return { loss: mg.mul(loss.detach(), share), prediction: prediction.detach() };
      });
      losses.push(result.loss);
      scored.push({ prediction: result.prediction, labels: chunk.map((t) => t.queryY) });
      await mg.yieldEventLoop();
    }
  }

  async trainStep(tasks: Task[], iteration: number): Promise<StepResult> {
    const secondOrder = this.name !== 'mamlpp' || iteration >= this.config.firstOrderIterations;
    const stepWeights =
      this.name === 'mamlpp'
        ? multiStepWeights(this.config.innerSteps, iteration, this.config.mslAnnealIterations)
        : undefined;

    // The meta-batch runs in chunks of tasks: each chunk's share of the meta-loss is
    // differentiated and accumulated into .grad, so only one chunk's graph is alive
    // at once, and the event loop turns between chunks (Dawn needs it to, see
    // yieldEventLoop). With a batched view a chunk is many tasks in single
    // dispatches; otherwise it is one task.
    const losses: Tensor[] = [];
    const scored: { prediction: Tensor; labels: Tensor[] }[] = [];
    // Chunks are sized before recording starts, because sizing runs a forward pass.
    const chunks = this.chunks(tasks);
    if (this.perStepBn) this.perStepBn.recording = true;
    try {
      await this.accumulate(chunks, tasks.length, secondOrder, stepWeights, losses, scored);
    } finally {
      if (this.perStepBn) this.perStepBn.recording = false;
    }

    mg.tidy(() => {
      this.optimizer.step();
      this.optimizer.zeroGrad();
    });
    const loss = mg.tidy(() => mg.stack(losses).sum());
    for (const t of losses) t.dispose();
    this.scheduler?.step();

    const value = await loss.item();
    let accuracy: number | undefined;
    if (this.kind === 'classification') {
      // Every chunk contains whole tasks of equal query counts, so the mean over
      // chunks, weighted by tasks, is the mean of the per-task accuracies.
      let total = 0;
      for (const { prediction, labels } of scored) {
        const classes = prediction.shape[prediction.ndim - 1];
        const [flat, truth] = mg.tidy(() => [
          mg.reshape(prediction, [-1, classes]),
          labels.length === 1 ? labels[0] : mg.reshape(stackTasks(labels), [-1]),
        ]);
        total += (await accuracyOf(flat, truth)) * labels.length;
        if (flat !== prediction) flat.dispose();
        if (labels.length > 1) truth.dispose();
      }
      accuracy = total / tasks.length;
    }
    loss.dispose();
    for (const { prediction } of scored) prediction.dispose();
    return { loss: value, accuracy };
  }

  async evaluate(
    task: Task,
    steps = this.config.testInnerSteps,
    keepPrediction = false,
  ): Promise<EvalResult> {
    return evaluateAdapted(this.kind, task, keepPrediction, async () => {
      const trajectory = await this.maml.adaptAsync(task, steps, false);
      const params = trajectory[trajectory.length - 1];
      return this.maml.model.apply(params, task.queryX, { step: steps });
    });
  }
}

async function evaluateAdapted(
  kind: TaskKind,
  task: Task,
  keepPrediction: boolean,
  predict: () => Promise<Tensor>,
): Promise<EvalResult> {
  const loss = lossFor(kind);
  const { prediction, value } = await mg.tidyAsync(async () => {
    const out = (await predict()).detach();
    return { prediction: out, value: mg.noGrad(() => loss(out, task.queryY)) };
  });
  const result: EvalResult = { loss: await value.item() };
  if (kind === 'classification') result.accuracy = await accuracyOf(prediction, task.queryY);
  value.dispose();
  if (keepPrediction) result.prediction = prediction;
  else prediction.dispose();
  return result;
}

/**
 * Reptile (Nichol et al. 2018): adapt a copy of θ to each task with plain SGD,
 * then move θ toward the adapted weights. The meta-optimizer receives
 * θ - mean_i φ_i as the gradient, so with SGD at rate ε the update is
 * θ ← θ + ε (mean_i φ_i - θ).
 */
export class ReptileLearner implements MetaLearner {
  readonly name = 'reptile' as const;
  readonly optimizer: Adam;
  private readonly module: Module<[Tensor], Tensor>;
  private readonly model: FunctionalModel;
  private readonly kind: TaskKind;
  private readonly config: LearnerConfig;

  constructor(module: Module<[Tensor], Tensor>, kind: TaskKind, config: LearnerConfig) {
    this.module = module;
    this.model = functionalView(module);
    this.kind = kind;
    this.config = config;
    this.optimizer = new Adam([...this.model.params.values()], { lr: config.metaLr, beta1: 0 });
  }

  stateTensors(): ParamMap {
    return this.module.stateDict();
  }

  loadStateTensors(tensors: ParamMap): void {
    copyChecked(this.stateTensors(), tensors, 'reptile checkpoint');
    this.module.loadStateDict(tensors);
  }

  // Runs `steps` SGD steps from θ, letting the event loop turn after each; run it inside mg.tidyAsync.
  private async adapt(task: Pick<Task, 'supportX' | 'supportY'>, steps: number): Promise<ParamMap> {
    const loss = lossFor(this.kind);
    let params: ParamMap = this.model.params;
    for (let s = 0; s < steps; s++) {
      const names = [...params.keys()];
      const value = loss(this.model.apply(params, task.supportX), task.supportY);
      const grads = mg.grad(
        value,
        names.map((n) => params.get(n)!),
        { allowUnused: true },
      );
      const next: ParamMap = new Map();
      names.forEach((name, i) => {
        const p = params.get(name)!.detach();
        const g = grads[i];
        next.set(name, (g ? mg.sub(p, mg.mul(g, this.config.innerLr)) : p).requiresGrad_(true));
      });
      params = next;
      await mg.yieldEventLoop();
    }
    return params;
  }

  async trainStep(tasks: Task[]): Promise<StepResult> {
    const names = [...this.model.params.keys()];
    const losses: Tensor[] = [];
    for (const task of tasks) {
      // Accumulate (θ - φ_task) / tasks into .grad, one task's graph at a time.
      const loss = await mg.tidyAsync(async () => {
        const adapted = await this.adapt(task, this.config.innerSteps);
        for (const name of names) {
          const param = this.model.params.get(name)!;
          const share = mg.mul(
            mg.sub(param.detach(), adapted.get(name)!.detach()),
            1 / tasks.length,
          );
          const total = param.grad ? mg.add(param.grad, share) : share;
          param.grad?.dispose();
          param.grad = mg.keep(total);
        }
        return mg
          .noGrad(() => lossFor(this.kind)(this.model.apply(adapted, task.queryX), task.queryY))
          .detach();
      });
      losses.push(loss);
      await mg.yieldEventLoop();
    }
    mg.tidy(() => {
      this.optimizer.step();
      this.optimizer.zeroGrad();
    });
    const numbers = await Promise.all(losses.map((t) => t.item()));
    for (const t of losses) t.dispose();
    return { loss: numbers.reduce((a, b) => a + b, 0) / numbers.length };
  }

  async evaluate(
    task: Task,
    steps = this.config.testInnerSteps,
    keepPrediction = false,
  ): Promise<EvalResult> {
    return evaluateAdapted(this.kind, task, keepPrediction, async () =>
      this.model.apply(await this.adapt(task, steps), task.queryX),
    );
  }
}

export function createLearner(
  name: MetaAlgorithm,
  module: Module<[Tensor], Tensor>,
  kind: TaskKind,
  config: LearnerConfig,
): MetaLearner {
  return name === 'reptile'
    ? new ReptileLearner(module, kind, config)
    : new MamlLearner(name, module, kind, config);
}
