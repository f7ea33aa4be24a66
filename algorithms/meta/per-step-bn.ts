// MAML++ per-step BatchNorm (Antoniou et al. 2019, "How to train your MAML"):
// every BatchNorm layer gets a separate scale and shift (gamma, beta) and
// separate running statistics for each inner step. The forward pass of inner
// step s and the query pass after update s use the set of step s. Steps past
// the last trained one (more steps at test time) reuse the last set. The
// per-step scales and shifts are meta-learned like the initial weights but are
// not adapted by the inner loop.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { functionalCallWith, type Module } from '../../engine/nn/module';
import { BatchNorm1d, BatchNorm2d } from '../../engine/nn/norm';
import { copyInto } from '../../kernels/optim';
import type { BatchedModel, BatchStatisticsHook } from './batched';
import type { ApplyOptions, FunctionalModel, ParamMap } from './functional';

/** Returns the name of the step-`step` copy of parameter or buffer `name`. */
export function perStepName(name: string, step: number): string {
  return `${name}@${step}`;
}

/** A functional view of `module` whose BatchNorm layers use a separate set of tensors per inner step. */
export class PerStepBatchNorm implements FunctionalModel {
  /** The module's parameters, with each BatchNorm weight and bias replaced by `<name>@<step>` copies. */
  readonly params: ParamMap = new Map();
  /** Running mean and variance of each BatchNorm layer and step, `<layer>.running_mean@<step>`. */
  readonly statistics: ParamMap = new Map();
  /** Whether each batch updates the running statistics of the step in use (on during meta-training). */
  recording = false;
  readonly steps: number;
  private readonly module: Module;
  private readonly layers: [string, BatchNorm1d | BatchNorm2d][] = [];

  constructor(module: Module, steps: number) {
    if (!Number.isInteger(steps) || steps < 1)
      throw new Error(`per-step BatchNorm: steps ${steps} must be a positive integer.`);
    this.module = module;
    this.steps = steps;
    for (const [prefix, child] of module.namedModules())
      if (child instanceof BatchNorm1d || child instanceof BatchNorm2d)
        this.layers.push([prefix, child]);

    const perStep = new Set(this.perStepParamNames());
    for (const [name, param] of module.namedParameters()) {
      if (!perStep.has(name)) {
        this.params.set(name, param);
        continue;
      }
      for (let s = 0; s < steps; s++)
        this.params.set(
          perStepName(name, s),
          mg.keep(mg.clone(param).detach().requiresGrad_(true)),
        );
    }
    for (const [prefix, layer] of this.layers) {
      if (!layer.trackRunningStats) continue;
      for (const stat of ['running_mean', 'running_var']) {
        const own = layer.buffer(stat);
        for (let s = 0; s < steps; s++)
          this.statistics.set(perStepName(join(prefix, stat), s), mg.keep(mg.clone(own).detach()));
      }
    }
  }

  /** True when the module has at least one BatchNorm layer, so per-step copies exist. */
  get active(): boolean {
    return this.layers.length > 0;
  }

  private perStepParamNames(): string[] {
    return this.layers.flatMap(([prefix, layer]) =>
      layer.affine ? [join(prefix, 'weight'), join(prefix, 'bias')] : [],
    );
  }

  /** Returns the index of the per-step set that inner step `step` uses. */
  stepIndex(step: number | undefined): number {
    return Math.min(Math.max(step ?? this.steps - 1, 0), this.steps - 1);
  }

  apply(params: ParamMap, x: Tensor, options: ApplyOptions = {}): Tensor {
    const s = this.stepIndex(options.step);
    const call = new Map<string, Tensor>();
    for (const [name, value] of params) if (!name.includes('@')) call.set(name, value);
    for (const name of this.perStepParamNames()) {
      const value = params.get(perStepName(name, s));
      if (!value)
        throw new Error(
          `per-step BatchNorm: the parameter map has no "${perStepName(name, s)}"; pass the map from .params or an adapted copy of it.`,
        );
      call.set(name, value);
    }
    for (const [name, value] of this.statistics) {
      const at = name.lastIndexOf('@');
      if (Number(name.slice(at + 1)) === s) call.set(name.slice(0, at), value);
    }
    return functionalCallWith(this.module, call, { updateBuffers: this.recording }, x);
  }

  /**
   * Connects `batched` to the per-step sets: its parameter lookup clamps steps
   * as `stepIndex` does, and it reports batch statistics here while recording.
   */
  attach(batched: BatchedModel): void {
    batched.stepIndex = (step) => this.stepIndex(step);
    batched.statisticsHook = (prefix, step, mean, variance, count) => {
      if (this.recording) this.recordStatistics(prefix, step, mean, variance, count);
    };
  }

  // running = (1 - momentum) running + momentum batch, with the unbiased variance,
  // as BatchNorm updates its own running statistics.
  private recordStatistics: BatchStatisticsHook = (prefix, step, mean, variance, count) => {
    const layer = this.layers.find(([name]) => name === prefix)?.[1];
    if (!layer || !layer.trackRunningStats) return;
    const s = this.stepIndex(step);
    const runningMean = this.statistics.get(perStepName(join(prefix, 'running_mean'), s))!;
    const runningVar = this.statistics.get(perStepName(join(prefix, 'running_var'), s))!;
    mg.tidy(() =>
      mg.noGrad(() => {
        const m = layer.momentum;
        const newMean = mg.add(mg.mulScalar(runningMean, 1 - m), mg.mulScalar(mean, m));
        const unbiased = mg.mulScalar(variance, count / (count - 1));
        const newVar = mg.add(mg.mulScalar(runningVar, 1 - m), mg.mulScalar(unbiased, m));
        copyInto(newMean.buffer, runningMean.buffer, runningMean.size * 4);
        copyInto(newVar.buffer, runningVar.buffer, runningVar.size * 4);
      }),
    );
  };
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}
