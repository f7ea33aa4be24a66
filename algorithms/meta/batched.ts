// A batched functional view of a Module: the forward pass of T tasks at once,
// each with its own copy of the parameters, in a few large dispatches instead
// of T small ones.
//
// Every parameter carries a leading task axis: a Linear weight [out, in] becomes
// [T, out, in], a Conv2d weight [C_out, C_in, k, k] becomes [T, C_out, C_in, k, k].
// Inputs are [T, n, ...] (task, example, features). Tasks never interact, so the
// gradient of the sum of the task losses with respect to the stacked parameters
// contains each task's own gradient in its slice, to any order of differentiation.
//
// Layers map onto batched ops as follows:
//   Linear     batched matmul [T, n, in] x [T, out, in]^T, the task axis a batch axis;
//   Conv2d     one grouped convolution over [n, T*C, H, W] with T times the groups,
//              so group t sees only task t's channels and task t's filters;
//   BatchNorm  statistics per task and channel (axes n, H, W of [n, T*C, H, W]),
//              so each task is normalised by its own batch, as in the per-task loop;
//   pooling and activations act on [n, T*C, H, W] or [T, n, F] unchanged.
// Convolutional stages keep the [n, T*C, H, W] layout ("grouped"); dense stages
// use [T, n, F] ("rows"); the view converts between them only where the layer
// kind changes.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { AvgPool2d, MaxPool2d } from '../../engine/nn/pool';
import { BatchNorm1d, BatchNorm2d } from '../../engine/nn/norm';
import { Conv2d } from '../../engine/nn/conv';
import { Flatten, Identity, Sequential } from '../../engine/nn/containers';
import { LeakyReLU, ReLU, Sigmoid, Tanh } from '../../engine/nn/activation';
import { Linear } from '../../engine/nn/linear';
import { FeatureModel } from '../../engine/nn/models';
import type { Module } from '../../engine/nn/module';
import { formatShape } from '../../engine/shape';
import { copyRegion } from '../../kernels/copy';
import type { ApplyOptions, ParamMap } from './functional';

/** Activations of T tasks: `rows` is [T, n, ...]; `grouped` is [n, T*C, H, W]. */
interface Batch {
  x: Tensor;
  layout: 'rows' | 'grouped';
  tasks: number;
}

/** Batch statistics of one BatchNorm layer, averaged over the tasks, for running statistics. */
export type BatchStatisticsHook = (
  prefix: string,
  step: number | undefined,
  mean: Tensor,
  variance: Tensor,
  count: number,
) => void;

/** Parameter lookup: `<name>@<step>` (MAML++ per-step BatchNorm) before `<name>`. */
function lookup(params: ParamMap, name: string, step: number | undefined): Tensor {
  const perStep = step === undefined ? undefined : params.get(`${name}@${step}`);
  const value = perStep ?? params.get(name);
  if (!value)
    throw new Error(
      `batched model: the parameter map has no "${name}"; pass every parameter, stacked along a leading task axis.`,
    );
  return value;
}

function toRows(batch: Batch): Tensor {
  if (batch.layout === 'rows') return batch.x;
  // [n, T*C, H, W] -> [n, T, C, H, W] -> [T, n, C, H, W]
  const [n, tc, ...rest] = batch.x.shape;
  const split = mg.reshape(batch.x, [n, batch.tasks, tc / batch.tasks, ...rest]);
  return mg.permute(split, [1, 0, ...rest.map((_, i) => i + 2), rest.length + 2]);
}

function toGrouped(batch: Batch): Tensor {
  if (batch.layout === 'grouped') return batch.x;
  const [T, n, ...rest] = batch.x.shape;
  if (rest.length !== 3)
    throw new Error(
      `batched model: a convolutional layer needs per-task inputs [n, C, H, W], got ${formatShape(batch.x.shape)} for ${T} tasks.`,
    );
  const [c, h, w] = rest;
  return mg.reshape(mg.permute(batch.x, [1, 0, 2, 3, 4]), [n, T * c, h, w]);
}

type Step = (batch: Batch, params: ParamMap, options: ApplyOptions) => Batch;

function linearStep(prefix: string, layer: Linear): Step {
  return (batch, params, { step }) => {
    const x = toRows(batch);
    const [T, ...perTask] = x.shape;
    const flat = mg.reshape(x, [T, -1, layer.inFeatures]);
    let y = mg.matmulT(flat, lookup(params, `${prefix}weight`, step), false, true);
    if (layer.hasBias) {
      const bias = lookup(params, `${prefix}bias`, step);
      y = mg.add(y, mg.reshape(bias, [T, 1, layer.outFeatures]));
    }
    const shape = [T, ...perTask.slice(0, -1), layer.outFeatures];
    return { x: mg.reshape(y, shape), layout: 'rows', tasks: T };
  };
}

function convStep(prefix: string, layer: Conv2d): Step {
  const groups = layer.options.groups ?? 1;
  return (batch, params, { step }) => {
    const x = toGrouped(batch);
    const T = batch.tasks;
    const weight = lookup(params, `${prefix}weight`, step);
    const [, cOut, ...kernel] = weight.shape;
    const bias = layer.hasBias
      ? mg.reshape(lookup(params, `${prefix}bias`, step), [T * cOut])
      : undefined;
    const y = mg.conv2d(x, mg.reshape(weight, [T * cOut, ...kernel]), bias, {
      ...layer.options,
      groups: groups * T,
    });
    return { x: y, layout: 'grouped', tasks: T };
  };
}

function batchNormStep(
  prefix: string,
  layer: BatchNorm1d | BatchNorm2d,
  hook: () => BatchStatisticsHook | undefined,
): Step {
  const C = layer.numFeatures;
  return (batch, params, { step }) => {
    const T = batch.tasks;
    if (!layer.training && layer.trackRunningStats)
      throw new Error(
        `batched model: BatchNorm "${prefix.slice(0, -1)}" is in eval mode; the batched view uses batch statistics only, so call module.train() or use the per-task path.`,
      );
    let x: Tensor;
    let axes: number[];
    let statShape: number[];
    if (layer instanceof BatchNorm2d) {
      x = toGrouped(batch);
      axes = [0, 2, 3];
      statShape = [1, T * C, 1, 1];
    } else {
      x = toRows(batch);
      if (x.ndim !== 3)
        throw new Error(
          `batched model: BatchNorm1d "${prefix.slice(0, -1)}" needs per-task inputs [n, C], got ${formatShape(x.shape)} for ${T} tasks.`,
        );
      axes = [1];
      statShape = [T, 1, C];
    }
    const count = x.size / (T * C);
    if (count <= 1)
      throw new Error(
        `batched model: BatchNorm "${prefix.slice(0, -1)}" needs more than one value per channel and task, got ${formatShape(x.shape)} for ${T} tasks.`,
      );
    const layout = layer instanceof BatchNorm2d ? 'grouped' : 'rows';
    // Without affine parameters the layer applies weight 1 and bias 0.
    const weight = layer.affine
      ? mg.reshape(lookup(params, `${prefix}weight`, step), statShape)
      : mg.full(statShape, 1);
    const bias = layer.affine
      ? mg.reshape(lookup(params, `${prefix}bias`, step), statShape)
      : mg.full(statShape, 0);
    const { output, mean, variance } = mg.batchNorm(x, weight, bias, axes, layer.eps);
    const record = hook();
    if (record && layer.trackRunningStats) {
      // The mean over tasks of each task's statistics.
      const perTask = (t: Tensor) => mg.mean(mg.reshape(t.detach(), [T, C]), [0]);
      record(prefix.slice(0, -1), step, perTask(mean), perTask(variance), count);
    }
    return { x: output, layout, tasks: T };
  };
}

function elementwiseStep(fn: (x: Tensor) => Tensor): Step {
  return (batch) => ({ ...batch, x: fn(batch.x) });
}

function groupedStep(layer: MaxPool2d | AvgPool2d): Step {
  return (batch) => ({ x: layer.forward(toGrouped(batch)), layout: 'grouped', tasks: batch.tasks });
}

// Flattens every per-task axis after the example axis, as flatten(x, 1) does per task.
const flattenStep: Step = (batch) => {
  const x = toRows(batch);
  return { x: mg.reshape(x, [x.shape[0], x.shape[1], -1]), layout: 'rows', tasks: batch.tasks };
};

/** Compiles `module` into batched steps, or returns null for a layer the view does not cover. */
function compile(
  module: Module,
  prefix: string,
  hook: () => BatchStatisticsHook | undefined,
): Step[] | null {
  if (module instanceof Sequential) {
    const steps: Step[] = [];
    for (const [name, child] of module.namedChildren()) {
      const inner = compile(child as Module, `${prefix}${name}.`, hook);
      if (!inner) return null;
      steps.push(...inner);
    }
    return steps;
  }
  if (module instanceof FeatureModel) {
    const features = compile(module.features, `${prefix}features.`, hook);
    if (!features) return null;
    const steps = [...features, flattenStep];
    if (module.head) steps.push(linearStep(`${prefix}head.`, module.head));
    return steps;
  }
  if (module instanceof Linear) return [linearStep(prefix, module)];
  if (module instanceof Conv2d) return [convStep(prefix, module)];
  if (module instanceof BatchNorm1d || module instanceof BatchNorm2d)
    return [batchNormStep(prefix, module, hook)];
  if (module instanceof ReLU) return [elementwiseStep(mg.relu)];
  if (module instanceof LeakyReLU)
    return [elementwiseStep((x) => mg.leakyRelu(x, module.negativeSlope))];
  if (module instanceof Sigmoid) return [elementwiseStep(mg.sigmoid)];
  if (module instanceof Tanh) return [elementwiseStep(mg.tanh)];
  if (module instanceof Identity) return [];
  if (module instanceof MaxPool2d || module instanceof AvgPool2d) return [groupedStep(module)];
  if (module instanceof Flatten && module.startDim === 1 && module.endDim === -1)
    return [flattenStep];
  // Dropout draws a mask per call and other layers (residual blocks, recurrent
  // cells) have no batched form here: the caller keeps the per-task loop.
  return null;
}

export interface BatchedApplyOptions extends ApplyOptions {
  /** Receives the per-task element count of every intermediate activation, to size chunks of tasks. */
  trace?: number[];
}

/** The forward pass of T tasks at once, each with its own parameters. */
export interface BatchedModel {
  /**
   * Runs T tasks: every tensor of `params` has a leading task axis of length T
   * ([T, ...parameter shape]) and `x` is [T, n, ...input]; returns [T, n, ...output].
   */
  apply(params: ParamMap, x: Tensor, options?: BatchedApplyOptions): Tensor;
  /** Receives each BatchNorm layer's batch statistics while set (MAML++ per-step running statistics). */
  statisticsHook?: BatchStatisticsHook;
  /** Maps an inner step to the `<name>@<index>` parameter set it uses (MAML++ per-step BatchNorm). */
  stepIndex?: (step: number | undefined) => number | undefined;
}

/**
 * Returns the batched view of `module`, or null when it contains a layer without
 * a batched form (Dropout, residual blocks, recurrent cells). The view covers
 * Sequential and FeatureModel stacks of Linear, Conv2d, BatchNorm1d/2d, pooling,
 * Flatten and activations, so convNet4, omniglotMlp and sineMlp.
 */
export function batchedView(module: Module): BatchedModel | null {
  let steps: Step[] = [];
  const view: BatchedModel = {
    apply(params, x, options = {}) {
      const T = x.shape[0];
      for (const [name, value] of params) {
        if (value.shape[0] !== T)
          throw new Error(
            `batched model: parameter "${name}" has shape ${formatShape(value.shape)}, but the input ${formatShape(x.shape)} has ${T} tasks; stack the parameters along a leading task axis of length ${T}.`,
          );
      }
      let batch: Batch = { x, layout: 'rows', tasks: T };
      const resolved = { ...options, step: view.stepIndex?.(options.step) ?? options.step };
      for (const step of steps) {
        batch = step(batch, params, resolved);
        options.trace?.push(batch.x.size / T);
      }
      return toRows(batch);
    },
  };
  const compiled = compile(module, '', () => view.statisticsHook);
  if (!compiled) return null;
  steps = compiled;
  return view;
}

/**
 * Stacks task tensors of one shape along a new leading axis, like mg.stack, but
 * with buffer copies instead of one copy dispatch per tensor when none of them
 * requires grad (task data never does).
 */
export function stackTasks(tensors: readonly Tensor[]): Tensor {
  const [first] = tensors;
  const plain = tensors.every(
    (t) => !t.requiresGrad && t.dtype === first.dtype && t.shape.join() === first.shape.join(),
  );
  if (!plain) return mg.stack(tensors);
  const out = mg.Tensor.empty([tensors.length, ...first.shape], first.dtype, 'stack');
  const bytes = first.size * 4;
  tensors.forEach((t, i) => copyRegion(t.buffer, 0, out.buffer, i * bytes, bytes));
  return out;
}

/** Stacks T copies of each parameter along a new leading axis: [T, ...shape], differentiable. */
export function stackParams(params: ParamMap, tasks: number): ParamMap {
  const stacked: ParamMap = new Map();
  for (const [name, value] of params)
    stacked.set(name, mg.expand(mg.unsqueeze(value, 0), [tasks, ...value.shape]));
  return stacked;
}
