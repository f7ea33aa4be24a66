// Tensor creation: from host data, constants, ranges, identity matrices and seeded random draws.

import { fillConstant, fillEye, fillNormal, fillRange, fillUniform } from '../../kernels/creation';
import { upload } from '../../kernels/runtime';
import { checkShape, formatShape, numel, type Shape } from '../shape';
import { Tensor, type DType, type NestedArray } from '../tensor';

export interface TensorOptions {
  shape?: Shape;
  dtype?: DType;
  requiresGrad?: boolean;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

function flatten(data: NestedArray, shape: readonly number[], out: number[], dim = 0): void {
  if (dim === shape.length) {
    if (typeof data !== 'number')
      throw new Error(
        `tensor(): expected a number at depth ${dim}, got ${Array.isArray(data) ? 'an array' : typeof data}.`,
      );
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new Error(
      `tensor(): the nested arrays are ragged; dimension ${dim} should have length ${shape[dim]} everywhere (shape ${formatShape(shape)}).`,
    );
  }
  for (const item of data) flatten(item, shape, out, dim + 1);
}

/** Creates a tensor from nested arrays, a flat array with `shape`, or a typed array. */
export function tensor(
  data: NestedArray | Float32Array | Int32Array | readonly number[],
  options: TensorOptions = {},
): Tensor {
  let values: ArrayLike<number>;
  let shape: number[];
  const isTyped = data instanceof Float32Array || data instanceof Int32Array;
  const dtype: DType = options.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');

  if (isTyped || (options.shape && Array.isArray(data) && !data.some(Array.isArray))) {
    values = data as ArrayLike<number>;
    shape = options.shape ? checkShape('tensor', options.shape) : [values.length];
  } else {
    const inferred = inferShape(data as NestedArray);
    const flat: number[] = [];
    flatten(data as NestedArray, inferred, flat);
    values = flat;
    shape = options.shape ? checkShape('tensor', options.shape) : inferred;
  }
  if (numel(shape) !== values.length) {
    throw new Error(
      `tensor(): ${values.length} values do not fill shape ${formatShape(shape)} (${numel(shape)} elements).`,
    );
  }
  if (dtype !== 'f32' && dtype !== 'i32')
    throw new Error(`tensor(): dtype ${String(dtype)} is not supported; use 'f32' or 'i32'.`);

  const out = Tensor.empty(shape, dtype, 'tensor');
  if (values.length > 0) {
    const typed =
      dtype === 'f32'
        ? Float32Array.from(values)
        : Int32Array.from(values, (v) => {
            if (!Number.isInteger(v))
              throw new Error(`tensor(): value ${v} is not an integer, but dtype is i32.`);
            if (v < -2147483648 || v > 2147483647) {
              throw new Error(
                `tensor(): value ${v} is outside the i32 range [-2147483648, 2147483647]; use dtype 'f32'.`,
              );
            }
            return v;
          });
    upload(out.buffer, typed);
  }
  if (options.requiresGrad) out.requiresGrad_(true);
  return out;
}

function filled(
  shape: Shape,
  dtype: DType,
  requiresGrad: boolean | undefined,
  fill: (t: Tensor) => void,
  op: string,
): Tensor {
  const out = Tensor.empty(checkShape(op, shape), dtype, op);
  if (out.size > 0) fill(out);
  if (requiresGrad) out.requiresGrad_(true);
  return out;
}

function target(t: Tensor) {
  return { out: t.buffer, n: t.size, isInt: t.dtype === 'i32' };
}

export interface FillOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export function full(shape: Shape, value: number, options: FillOptions = {}): Tensor {
  return filled(
    shape,
    options.dtype ?? 'f32',
    options.requiresGrad,
    (t) => fillConstant(target(t), value),
    'full',
  );
}

export function zeros(shape: Shape, options: FillOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: Shape, options: FillOptions = {}): Tensor {
  return full(shape, 1, options);
}

export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0, { dtype: t.dtype });
}

export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1, { dtype: t.dtype });
}

export function fullLike(t: Tensor, value: number): Tensor {
  return full(t.shape, value, { dtype: t.dtype });
}

/** Returns [start, start + step, ...) below `end`, as torch.arange does; arange(n) counts 0..n-1. */
export function arange(start: number, end?: number, step = 1, options: FillOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error('arange(): step must not be 0.');
  const count = Math.max(0, Math.ceil((end - start) / step));
  const allInts = [start, end, step].every(Number.isInteger);
  const dtype = options.dtype ?? (allInts ? 'i32' : 'f32');
  return filled(
    [count],
    dtype,
    options.requiresGrad,
    (t) => fillRange(target(t), start, step),
    'arange',
  );
}

/** Returns an n x m matrix with ones on the diagonal. */
export function eye(n: number, m = n, options: FillOptions = {}): Tensor {
  return filled(
    [n, m],
    options.dtype ?? 'f32',
    options.requiresGrad,
    (t) => fillEye(target(t), m),
    'eye',
  );
}

// ---- Random numbers ----

// A counter-based stream: each draw is a hash of (seed, counter), and every call
// advances the counter, so the same seed gives the same sequence of tensors.
const rng = { seed: 0x9e3779b9, counter: 0 };

/** Seeds every random draw of the engine (rand, randn, dropout, initialisation). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new Error(`manualSeed(${seed}): the seed must be an integer.`);
  rng.seed = (Math.imul(seed >>> 0, 0x85ebca6b) ^ 0x9e3779b9) >>> 0;
  rng.counter = 0;
}

/** Returns the random generator's state, to save beside a checkpoint. */
export function getRngState(): { seed: number; counter: number } {
  return { ...rng };
}

export function setRngState(state: { seed: number; counter: number }): void {
  rng.seed = state.seed >>> 0;
  rng.counter = state.counter >>> 0;
}

function advance(draws: number): number {
  const offset = rng.counter;
  rng.counter = (rng.counter + draws) >>> 0;
  return offset;
}

/** Uniform draws in [low, high). */
export function rand(
  shape: Shape,
  options: FillOptions & { low?: number; high?: number } = {},
): Tensor {
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  if (!(low <= high) || !Number.isFinite(low) || !Number.isFinite(high)) {
    throw new Error(
      `rand(): the range [${low}, ${high}) is invalid; low and high must be finite with low <= high.`,
    );
  }
  return filled(
    shape,
    'f32',
    options.requiresGrad,
    (t) => fillUniform(target(t), rng.seed, advance(t.size), low, high),
    'rand',
  );
}

/** Normal draws with the given mean and standard deviation. */
export function randn(
  shape: Shape,
  options: FillOptions & { mean?: number; std?: number } = {},
): Tensor {
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  if (!(std >= 0) || !Number.isFinite(std))
    throw new Error(`randn(): std ${std} is invalid; it must be a finite number >= 0.`);
  return filled(
    shape,
    'f32',
    options.requiresGrad,
    (t) => fillNormal(target(t), rng.seed, advance(2 * t.size), mean, std),
    'randn',
  );
}
