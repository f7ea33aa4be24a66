// Shared parts of the metric-based learners: the episode's class count, class
// sums and means of embeddings, and a training step that differentiates one
// episode at a time and updates every module with Adam.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { Adam } from '../../engine/optim/index';
import { formatShape } from '../../engine/shape';
import type { ParamMap, Task } from '../meta/functional';
import type { EvalResult, MetaLearner, StepResult } from '../meta/learner';

/** The part of a Module that training and checkpoints use, whatever its forward signature. */
export interface TrainedModule {
  parameters(): Tensor[];
  stateDict(): Map<string, Tensor>;
  loadStateDict(state: Map<string, Tensor>): void;
  train(mode?: boolean): unknown;
}

export interface MetricConfig {
  /** Adam learning rate (the CLI's --meta-lr). */
  lr: number;
}

/** The loss of one episode and the query scores [queries, ways] that accuracy is read from. */
export interface EpisodeOutput {
  loss: Tensor;
  scores: Tensor;
}

/**
 * Reads the support labels and returns the number of ways, after checking
 * that the labels are exactly 0..ways-1, each with at least one example.
 */
export async function episodeWays(task: Task): Promise<number> {
  const labels = await task.supportY.data();
  let ways = 0;
  for (const label of labels) ways = Math.max(ways, label + 1);
  const counts = new Array<number>(ways).fill(0);
  for (const label of labels) {
    if (!Number.isInteger(label) || label < 0)
      throw new Error(`support label ${label} is invalid; labels must be integers 0..ways-1.`);
    counts[label] += 1;
  }
  const missing = counts.findIndex((count) => count === 0);
  if (ways < 2 || missing >= 0)
    throw new Error(
      ways < 2
        ? `the support set has ${ways} class; an episode needs at least 2 ways.`
        : `the support set has no example of class ${missing}; labels must cover 0..${ways - 1}.`,
    );
  return ways;
}

/** Sums the rows of `x` [n, ...] by class: [ways, ...], from i32 labels [n]. */
export function classSums(x: Tensor, labels: Tensor, ways: number): Tensor {
  const rows = mg.flatten(x, 1);
  // onehot^T [ways, n] times rows [n, d] adds each example to its class row.
  const sums = mg.matmulT(mg.oneHot(labels, ways), rows, true, false);
  return mg.reshape(sums, [ways, ...x.shape.slice(1)]);
}

/** Averages the rows of `x` [n, d] by class: [ways, d], the prototypes of Prototypical Networks. */
export function classMeans(x: Tensor, labels: Tensor, ways: number): Tensor {
  const oneHot = mg.oneHot(labels, ways);
  const counts = mg.transpose(mg.sum(oneHot, 0, true));
  return mg.div(mg.matmulT(oneHot, x, true, false), counts);
}

/** Embeds support and query images in one forward pass, so BatchNorm normalizes over the whole episode. */
export function embedEpisode(
  embed: (x: Tensor) => Tensor,
  task: Task,
): { support: Tensor; query: Tensor } {
  const supportCount = task.supportX.shape[0];
  const queryCount = task.queryX.shape[0];
  const all = embed(mg.concat([task.supportX, task.queryX], 0));
  return {
    support: mg.narrow(all, 0, 0, supportCount),
    query: mg.narrow(all, 0, supportCount, queryCount),
  };
}

/** Returns the accuracy of the highest score in each row of [n, ways] against labels [n], on the host. */
export function argmaxAccuracy(scores: Float32Array, labels: Int32Array, ways: number): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < ways; c++) if (scores[i * ways + c] > scores[i * ways + best]) best = c;
    if (best === labels[i]) correct += 1;
  }
  return correct / labels.length;
}

/**
 * The training loop shared by the metric-based learners. Each subclass defines
 * its modules and the loss of one episode. Training takes one Adam step per
 * meta-batch on the mean episode loss. Evaluation runs in eval mode (BatchNorm
 * with running statistics) without gradients.
 */
export abstract class MetricLearner implements MetaLearner {
  abstract readonly name: string;
  readonly optimizer: Adam;
  /** Every trained module by its checkpoint prefix; the prefix '' puts the module's names at the top level. */
  protected readonly modules: [string, TrainedModule][];

  constructor(modules: [string, TrainedModule][], config: MetricConfig) {
    this.modules = modules;
    const params = modules.flatMap(([, module]) => module.parameters());
    this.optimizer = new Adam(params, { lr: config.lr });
  }

  /** Builds the loss and the query scores of one episode of `ways` classes, on the tape unless under noGrad. */
  abstract episode(task: Task, ways: number): EpisodeOutput;

  /** Returns the query accuracy of the episode's scores [queries, ways]. */
  private async accuracy(scores: Tensor, task: Task, ways: number): Promise<number> {
    const [values, labels] = await Promise.all([scores.data(), task.queryY.data()]);
    return argmaxAccuracy(values as Float32Array, labels as Int32Array, ways);
  }

  stateTensors(): ParamMap {
    const state: ParamMap = new Map();
    for (const [prefix, module] of this.modules)
      for (const [name, tensor] of module.stateDict())
        state.set(prefix ? `${prefix}.${name}` : name, tensor);
    return state;
  }

  loadStateTensors(tensors: ParamMap): void {
    const own = this.stateTensors();
    const problems: string[] = [];
    for (const [name, tensor] of own) {
      const given = tensors.get(name);
      if (!given) problems.push(`no tensor "${name}"`);
      else if (given.shape.join() !== tensor.shape.join())
        problems.push(
          `"${name}" has shape ${formatShape(given.shape)}, expected ${formatShape(tensor.shape)}`,
        );
    }
    for (const name of tensors.keys()) if (!own.has(name)) problems.push(`unexpected "${name}"`);
    if (problems.length > 0)
      throw new Error(`${this.name} checkpoint: ${problems.join('; ')}. Nothing was loaded.`);
    for (const [prefix, module] of this.modules) {
      const part = new Map<string, Tensor>();
      for (const name of module.stateDict().keys())
        part.set(name, tensors.get(prefix ? `${prefix}.${name}` : name)!);
      module.loadStateDict(part);
    }
  }

  private setTraining(mode: boolean): void {
    for (const [, module] of this.modules) module.train(mode);
  }

  async trainStep(tasks: Task[]): Promise<StepResult> {
    this.setTraining(true);
    let lossTotal = 0;
    let accuracyTotal = 0;
    // One episode's graph at a time: its share of the mean loss is accumulated
    // into .grad, and the event loop turns between episodes (Dawn needs it).
    for (const task of tasks) {
      const ways = await episodeWays(task);
      const { loss, scores } = mg.tidy(() => {
        const out = this.episode(task, ways);
        mg.mul(out.loss, 1 / tasks.length).backward();
        return { loss: out.loss.detach(), scores: out.scores.detach() };
      });
      lossTotal += await loss.item();
      accuracyTotal += await this.accuracy(scores, task, ways);
      loss.dispose();
      scores.dispose();
      await mg.yieldEventLoop();
    }
    mg.tidy(() => {
      this.optimizer.step();
      this.optimizer.zeroGrad();
    });
    return { loss: lossTotal / tasks.length, accuracy: accuracyTotal / tasks.length };
  }

  /** Scores the query set; metric learners do not adapt, so `steps` is ignored. */
  async evaluate(task: Task, _steps?: number, keepPrediction = false): Promise<EvalResult> {
    const ways = await episodeWays(task);
    this.setTraining(false);
    try {
      const { loss, scores } = mg.tidy(() =>
        mg.noGrad(() => {
          const out = this.episode(task, ways);
          return { loss: out.loss.detach(), scores: out.scores.detach() };
        }),
      );
      const result: EvalResult = {
        loss: await loss.item(),
        accuracy: await this.accuracy(scores, task, ways),
      };
      loss.dispose();
      if (keepPrediction) result.prediction = scores;
      else scores.dispose();
      return result;
    } finally {
      this.setTraining(true);
    }
  }
}

/** Throws unless `x` is [n, features]; the metric heads need flat embeddings. */
export function checkEmbedding(op: string, x: Tensor): void {
  if (x.ndim !== 2)
    throw new Error(
      `${op}: the embedding returned shape ${formatShape(x.shape)}; expected [examples, features]. Use a model built with featuresOnly: true.`,
    );
}
