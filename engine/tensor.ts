// The Tensor: a shape, a dtype and contiguous storage in a GPU buffer, plus the
// autograd fields (requiresGrad, grad, and the tape node that produced it).

import { readback } from '../kernels/runtime';
import type { Node } from './autograd';
import { backward as runBackward, type GradOptions } from './autograd';
import { allocStorage, Storage, track, untrack } from './memory';
import { formatShape, numel, type Shape } from './shape';
import * as ops from './ops/api';

export type DType = 'f32' | 'i32';

export type NestedArray = number | NestedArray[];

let nextTensorId = 0;

export class Tensor {
  readonly id = nextTensorId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Gradient accumulated by `backward()` on a leaf. */
  grad: Tensor | null = null;
  private storageRef: Storage | null;
  private gradFlag = false;
  private nodeRef: Node | null = null;

  constructor(storage: Storage, shape: Shape, dtype: DType) {
    this.storageRef = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    track(this);
  }

  /** Allocates an uninitialised tensor; kernels fill it. */
  static empty(shape: Shape, dtype: DType = 'f32', label = 'tensor'): Tensor {
    return new Tensor(allocStorage(numel(shape) * 4, label), shape, dtype);
  }

  get size(): number {
    return numel(this.shape);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.storageRef === null;
  }

  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  get storage(): Storage {
    if (!this.storageRef)
      throw new Error(
        `Tensor ${this.id} of shape ${formatShape(this.shape)} was disposed and can no longer be used.`,
      );
    return this.storageRef;
  }

  /** The tape node that produced this tensor; null for a leaf. */
  get node(): Node | null {
    return this.nodeRef;
  }

  get isLeaf(): boolean {
    return this.nodeRef === null;
  }

  get requiresGrad(): boolean {
    return this.gradFlag;
  }

  set requiresGrad(flag: boolean) {
    this.requiresGrad_(flag);
  }

  /** Marks a leaf as requiring grad (or not); returns this tensor. */
  requiresGrad_(flag = true): this {
    if (this.nodeRef && !flag) {
      throw new Error(
        'requiresGrad_(false) works on leaves only; use detach() to cut a computed tensor from the graph.',
      );
    }
    if (flag && this.dtype !== 'f32') {
      throw new Error(`Only f32 tensors can require grad; this tensor is ${this.dtype}.`);
    }
    this.gradFlag = flag;
    return this;
  }

  /** Called by the tape when an op records this tensor as its output. */
  attachNode(node: Node): void {
    this.nodeRef = node;
    this.gradFlag = true;
  }

  /** Throws a clear error when a disposed tensor is passed to an op. */
  assertLive(op: string): void {
    if (!this.storageRef) {
      throw new Error(
        `${op}: an input tensor (id ${this.id}, shape ${formatShape(this.shape)}) was disposed; it may have been freed by mg.tidy.`,
      );
    }
  }

  /** Returns a tensor that shares this one's storage but is cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.storage.retain(), this.shape, this.dtype);
  }

  /** Frees the tensor's storage once no view uses it. Calling it twice is harmless. */
  dispose(): void {
    if (!this.storageRef) return;
    this.storageRef.release();
    this.storageRef = null;
    this.nodeRef = null;
    untrack(this);
  }

  /** Returns the values as a typed array (Float32Array for f32, Int32Array for i32). */
  async data(): Promise<Float32Array | Int32Array> {
    const bytes = await readback(this.buffer, this.size * 4, 'data');
    return this.dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
  }

  /** Returns the values as nested arrays of the tensor's shape. */
  async array(): Promise<NestedArray> {
    const flat = Array.from(await this.data());
    if (this.ndim === 0) return flat[0];
    const build = (dim: number, offset: number): NestedArray[] => {
      const size = this.shape[dim];
      const inner = numel(this.shape.slice(dim + 1));
      return Array.from({ length: size }, (_, i) =>
        dim === this.ndim - 1 ? flat[offset + i] : build(dim + 1, offset + i * inner),
      );
    };
    return build(0, 0);
  }

  /** Returns the single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1)
      throw new Error(
        `item(): the tensor has shape ${formatShape(this.shape)}; item() needs exactly one element.`,
      );
    return (await this.data())[0];
  }

  /** Accumulates the gradient of this tensor into the `.grad` of every leaf it depends on. */
  backward(
    gradOutput?: Tensor,
    options: Omit<GradOptions, 'gradOutputs' | 'allowUnused'> = {},
  ): void {
    runBackward(this, gradOutput, options);
  }

  toString(): string {
    return `Tensor(shape=${formatShape(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- Op methods; each delegates to the function of the same name. ----

  neg(): Tensor {
    return ops.neg(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  add(other: Tensor | number): Tensor {
    return ops.add(this, other);
  }
  sub(other: Tensor | number): Tensor {
    return ops.sub(this, other);
  }
  mul(other: Tensor | number): Tensor {
    return ops.mul(this, other);
  }
  div(other: Tensor | number): Tensor {
    return ops.div(this, other);
  }
  pow(exponent: Tensor | number): Tensor {
    return ops.pow(this, exponent);
  }
  maximum(other: Tensor | number): Tensor {
    return ops.maximum(this, other);
  }
  minimum(other: Tensor | number): Tensor {
    return ops.minimum(this, other);
  }
  eq(other: Tensor | number): Tensor {
    return ops.eq(this, other);
  }
  gt(other: Tensor | number): Tensor {
    return ops.gt(this, other);
  }
  lt(other: Tensor | number): Tensor {
    return ops.lt(this, other);
  }
  ge(other: Tensor | number): Tensor {
    return ops.ge(this, other);
  }
  le(other: Tensor | number): Tensor {
    return ops.le(this, other);
  }
  sum(axes?: number | number[], keepdim = false): Tensor {
    return ops.sum(this, axes, keepdim);
  }
  mean(axes?: number | number[], keepdim = false): Tensor {
    return ops.mean(this, axes, keepdim);
  }
  reshape(...shape: number[] | [number[]]): Tensor {
    return ops.reshape(this, shape.flat());
  }
  view(...shape: number[] | [number[]]): Tensor {
    return ops.reshape(this, shape.flat());
  }
  permute(...dims: number[] | [number[]]): Tensor {
    return ops.permute(this, dims.flat());
  }
  transpose(dim0 = -2, dim1 = -1): Tensor {
    return ops.transpose(this, dim0, dim1);
  }
  get T(): Tensor {
    return ops.transpose(this, -2, -1);
  }
  expand(...shape: number[] | [number[]]): Tensor {
    return ops.expand(this, shape.flat());
  }
  squeeze(axis?: number): Tensor {
    return ops.squeeze(this, axis);
  }
  unsqueeze(axis: number): Tensor {
    return ops.unsqueeze(this, axis);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return ops.flatten(this, startDim, endDim);
  }
  matmul(other: Tensor): Tensor {
    return ops.matmul(this, other);
  }
  clone(): Tensor {
    return ops.clone(this);
  }

  // ops-index family
  max(axes?: number | number[], keepdim = false): Tensor {
    return ops.max(this, axes, keepdim);
  }
  min(axes?: number | number[], keepdim = false): Tensor {
    return ops.min(this, axes, keepdim);
  }
  argmax(axis?: number, keepdim = false): Tensor {
    return ops.argmax(this, axis, keepdim);
  }
  argmin(axis?: number, keepdim = false): Tensor {
    return ops.argmin(this, axis, keepdim);
  }
  logsumexp(axes?: number | number[], keepdim = false): Tensor {
    return ops.logsumexp(this, axes, keepdim);
  }
  /** Computes the variance, as torch.var. The function is named `variance` because `var` is a reserved word. */
  var(axes?: number | number[], options: ops.VarianceOptions = {}): Tensor {
    return ops.variance(this, axes, options);
  }
  std(axes?: number | number[], options: ops.VarianceOptions = {}): Tensor {
    return ops.std(this, axes, options);
  }
  slice(axis: number, start = 0, end?: number, step = 1): Tensor {
    return ops.slice(this, axis, start, end, step);
  }
  narrow(axis: number, start: number, length: number): Tensor {
    return ops.narrow(this, axis, start, length);
  }
  indexSelect(axis: number, index: Tensor): Tensor {
    return ops.indexSelect(this, axis, index);
  }
  gather(axis: number, index: Tensor): Tensor {
    return ops.gather(this, axis, index);
  }
  indexAdd(axis: number, index: Tensor, source: Tensor): Tensor {
    return ops.indexAdd(this, axis, index, source);
  }
  scatterAdd(axis: number, index: Tensor, src: Tensor): Tensor {
    return ops.scatterAdd(this, axis, index, src);
  }
  toFloat(): Tensor {
    return ops.toFloat(this);
  }
  toInt(): Tensor {
    return ops.toInt(this);
  }

  // losses-distance family
  softmax(axis = -1): Tensor {
    return ops.softmax(this, axis);
  }
  logSoftmax(axis = -1): Tensor {
    return ops.logSoftmax(this, axis);
  }
}
