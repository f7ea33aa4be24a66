// Launchers for in-place state updates that run outside the tape: optimizer
// steps (optim.wgsl), integer counters (counter.wgsl) and buffer copies.

import optimSource from './wgsl/optim.wgsl?raw';
import counterSource from './wgsl/counter.wgsl?raw';
import { Kernel, grid } from './kernel';
import { gpuDevice } from './gpu';
import { copyEncoder } from './runtime';

const optimKernel = new Kernel('optim', optimSource);
const counterKernel = new Kernel('counter', counterSource);
const WORKGROUP = 64;

// Two small buffers for the state bindings an update leaves unused; they are
// distinct because WebGPU rejects one buffer bound twice as writable storage.
let unused: [GPUBuffer, GPUBuffer] | null = null;

function unusedBuffers(): [GPUBuffer, GPUBuffer] {
  const make = (label: string) =>
    gpuDevice().createBuffer({ label, size: 16, usage: GPUBufferUsage.STORAGE });
  unused ??= [make('metagrad unused state 1'), make('metagrad unused state 2')];
  return unused;
}

export interface SgdUpdate {
  param: GPUBuffer;
  grad: GPUBuffer;
  /** Momentum buffer; null when momentum is 0. */
  momentumBuffer: GPUBuffer | null;
  n: number;
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** True on the first step, which sets the momentum buffer to the gradient. */
  first: boolean;
}

/** p -= lr * d, with d the gradient plus weight decay, momentum and Nesterov as torch.optim.SGD. */
export function sgdUpdate(u: SgdUpdate): void {
  const [spare1, spare2] = unusedBuffers();
  optimKernel.dispatch({
    op: 'sgd',
    entry: 'sgd',
    buffers: { param: u.param, grad: u.grad, state1: u.momentumBuffer ?? spare1, state2: spare2 },
    uniforms: {
      n: u.n,
      lr: u.lr,
      weight_decay: u.weightDecay,
      momentum: u.momentumBuffer ? u.momentum : 0,
      dampening: u.dampening,
      nesterov: u.nesterov ? 1 : 0,
      first: u.first ? 1 : 0,
    },
    workgroups: grid(Math.ceil(u.n / WORKGROUP)),
  });
}

export interface AdamUpdate {
  param: GPUBuffer;
  grad: GPUBuffer;
  expAvg: GPUBuffer;
  expAvgSq: GPUBuffer;
  n: number;
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** AdamW: decay the weights by lr * weightDecay instead of adding weightDecay * p to the gradient. */
  decoupled: boolean;
  /** 1-based step count, for the bias corrections. */
  step: number;
}

/** Runs one Adam or AdamW step as torch.optim.Adam/AdamW compute it (amsgrad off). */
export function adamUpdate(u: AdamUpdate): void {
  const biasCorrection1 = 1 - u.beta1 ** u.step;
  const biasCorrection2 = 1 - u.beta2 ** u.step;
  optimKernel.dispatch({
    op: u.decoupled ? 'adamw' : 'adam',
    entry: 'adam',
    buffers: { param: u.param, grad: u.grad, state1: u.expAvg, state2: u.expAvgSq },
    uniforms: {
      n: u.n,
      lr: u.lr,
      weight_decay: u.weightDecay,
      beta1: u.beta1,
      beta2: u.beta2,
      eps: u.eps,
      decoupled: u.decoupled ? 1 : 0,
      step_size: u.lr / biasCorrection1,
      bias_correction2_sqrt: Math.sqrt(biasCorrection2),
    },
    workgroups: grid(Math.ceil(u.n / WORKGROUP)),
  });
}

/** Adds `delta` to each of the first n i32 values of `counter` in place. */
export function incrementCounter(counter: GPUBuffer, n: number, delta = 1): void {
  counterKernel.dispatch({
    op: 'increment',
    buffers: { counter },
    uniforms: { n, delta },
    workgroups: [Math.ceil(n / WORKGROUP)],
  });
}

/** Copies `byteLength` bytes from `source` to `target`, in order with the batched dispatches. */
export function copyInto(source: GPUBuffer, target: GPUBuffer, byteLength: number): void {
  if (source === target || byteLength === 0) return;
  copyEncoder().copyBufferToBuffer(source, 0, target, 0, Math.ceil(byteLength / 4) * 4);
}
