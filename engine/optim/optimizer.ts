// The optimizer base: parameter groups, each with its own hyperparameters (for
// example a smaller learning rate for a pretrained backbone), per-parameter
// state tensors, zeroGrad, and state save/restore. A step updates parameters and
// state in place with one GPU dispatch per parameter tensor. It runs outside the
// tape, so an optimizer step is not differentiable: for a differentiable inner
// loop (MAML) compute the updated tensors with ops and pass them to functionalCall.

import { noGrad } from '../autograd';
import { copyInto } from '../../kernels/optim';
import { formatShape, sameShape } from '../shape';
import { keep } from '../memory';
import { Tensor } from '../tensor';

/** Hyperparameters shared by every optimizer's groups. */
export interface GroupOptions {
  lr: number;
  weightDecay: number;
}

/** A parameter group as passed to a constructor: parameters plus hyperparameters that override the defaults. */
export type GroupInput<H> = { params: Tensor[] } & Partial<H>;

/** A parameter group: its parameters and its hyperparameters (a scheduler writes `lr`). */
export type ParamGroup<H> = { params: Tensor[] } & H;

/** One parameter's optimizer state: tensors (momentum, moments) and counters (step). */
export interface ParamState {
  tensors: Record<string, Tensor>;
  step: number;
}

/**
 * Serialisable optimizer state, as torch.optim.Optimizer.state_dict lays it
 * out: parameters are numbered across groups in order, groups list their
 * parameters' numbers, and `state` is keyed by those numbers.
 */
export interface OptimizerStateDict {
  paramGroups: { params: number[]; options: Record<string, number | boolean> }[];
  state: Map<number, ParamState>;
}

export abstract class Optimizer<H extends GroupOptions> {
  readonly paramGroups: ParamGroup<H>[];
  protected readonly state = new Map<Tensor, ParamState>();

  constructor(
    private readonly name: string,
    params: Tensor[] | GroupInput<H>[],
    defaults: H,
  ) {
    const inputs: GroupInput<H>[] =
      params.length > 0 && params[0] instanceof Tensor
        ? [{ params: params as Tensor[] } as GroupInput<H>]
        : (params as GroupInput<H>[]);
    const seen = new Set<Tensor>();
    this.paramGroups = inputs.map((input, g) => {
      for (const p of input.params) {
        if (!(p instanceof Tensor) || p.dtype !== 'f32' || !p.isLeaf)
          throw new Error(`${name}: group ${g} contains something that is not an f32 leaf tensor.`);
        if (seen.has(p))
          throw new Error(
            `${name}: a parameter (shape ${formatShape(p.shape)}) appears in more than one group.`,
          );
        seen.add(p);
      }
      const group = { ...defaults, ...input, params: [...input.params] } as ParamGroup<H>;
      this.validate(group, g);
      return group;
    });
    if (seen.size === 0) throw new Error(`${name}: got an empty parameter list.`);
  }

  /** Throws when a group's hyperparameters are out of range. */
  protected validate(group: ParamGroup<H>, index: number): void {
    if (!(group.lr >= 0))
      throw new Error(`${this.name}: group ${index} has invalid lr ${group.lr}; it must be >= 0.`);
    if (!(group.weightDecay >= 0))
      throw new Error(
        `${this.name}: group ${index} has invalid weightDecay ${group.weightDecay}; it must be >= 0.`,
      );
  }

  /** Updates one parameter in place from its gradient. */
  protected abstract update(
    param: Tensor,
    grad: Tensor,
    group: ParamGroup<H>,
    state: ParamState,
  ): void;

  /** Applies one update to every parameter that has a gradient; parameters without one are skipped. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const param of group.params) {
          const grad = param.grad;
          if (!grad || param.size === 0) continue;
          if (!sameShape(grad.shape, param.shape))
            throw new Error(
              `${this.name}: a gradient of shape ${formatShape(grad.shape)} belongs to a parameter of shape ${formatShape(param.shape)}.`,
            );
          let state = this.state.get(param);
          if (!state) this.state.set(param, (state = { tensors: {}, step: 0 }));
          state.step += 1;
          this.update(param, grad, group, state);
        }
      }
    });
  }

  /** Sets every parameter's `.grad` to null, disposing it. */
  zeroGrad(): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** Returns the state; its tensors are the optimizer's own (not copies), so save them before the next step. */
  stateDict(): OptimizerStateDict {
    let index = 0;
    const state = new Map<number, ParamState>();
    const paramGroups = this.paramGroups.map((group) => {
      const numbers: number[] = [];
      for (const p of group.params) {
        const s = this.state.get(p);
        if (s) state.set(index, { tensors: { ...s.tensors }, step: s.step });
        numbers.push(index++);
      }
      const hyper: Record<string, number | boolean> = {};
      for (const [key, value] of Object.entries(group))
        if (key !== 'params' && (typeof value === 'number' || typeof value === 'boolean'))
          hyper[key] = value;
      return { params: numbers, options: hyper };
    });
    return { paramGroups, state };
  }

  /**
   * Restores hyperparameters and state saved by `stateDict` from an optimizer
   * over parameters of the same shapes. Everything is checked before anything
   * changes; state tensors are copied, so the source may be disposed afterwards.
   */
  loadStateDict(saved: OptimizerStateDict): void {
    const params = this.paramGroups.flatMap((g) => g.params);
    if (saved.paramGroups.length !== this.paramGroups.length)
      throw new Error(
        `${this.name}.loadStateDict: the saved state has ${saved.paramGroups.length} parameter groups, this optimizer has ${this.paramGroups.length}.`,
      );
    saved.paramGroups.forEach((group, g) => {
      if (group.params.length !== this.paramGroups[g].params.length)
        throw new Error(
          `${this.name}.loadStateDict: saved group ${g} has ${group.params.length} parameters, expected ${this.paramGroups[g].params.length}.`,
        );
    });
    for (const [index, s] of saved.state) {
      const param = params[index];
      if (!param)
        throw new Error(
          `${this.name}.loadStateDict: state for parameter ${index}, but there are only ${params.length}.`,
        );
      for (const [key, t] of Object.entries(s.tensors)) {
        if (!sameShape(t.shape, param.shape) || t.dtype !== 'f32')
          throw new Error(
            `${this.name}.loadStateDict: state "${index}.${key}" is ${t.dtype} ${formatShape(t.shape)}, expected f32 ${formatShape(param.shape)}.`,
          );
      }
    }

    saved.paramGroups.forEach((group, g) => {
      Object.assign(this.paramGroups[g], group.options);
    });
    for (const old of this.state.values()) for (const t of Object.values(old.tensors)) t.dispose();
    this.state.clear();
    for (const [index, s] of saved.state) {
      const tensors: Record<string, Tensor> = {};
      for (const [key, t] of Object.entries(s.tensors)) {
        const copy = keep(Tensor.empty(t.shape, 'f32', `${this.name} state`));
        copyInto(t.buffer, copy.buffer, t.size * 4);
        tensors[key] = copy;
      }
      this.state.set(params[index], { tensors, step: s.step });
    }
  }

  /** Returns state tensor `key` of a parameter, created (uninitialised) on first use; `created` reports that. */
  protected stateTensor(
    param: Tensor,
    state: ParamState,
    key: string,
  ): { tensor: Tensor; created: boolean } {
    const existing = state.tensors[key];
    if (existing) return { tensor: existing, created: false };
    // Kept out of any tidy scope: the state lives as long as the optimizer.
    const tensor = keep(Tensor.empty(param.shape, 'f32', `${this.name} ${key}`));
    state.tensors[key] = tensor;
    return { tensor, created: true };
  }
}
