// Elementwise primitives: unary functions, broadcasting binary functions,
// comparisons and where. Each rule pairs the kernel launch with its backward.

import {
  binary,
  unary,
  whereSelect,
  type BinaryCode,
  type UnaryCode,
} from '../../kernels/elementwise';
import { apply, type OpRule, type RuleTable } from '../autograd';
import { broadcastShapes, broadcastStrides, sameShape } from '../shape';
import { Tensor } from '../tensor';
import { full, zerosLike } from './creation';
import { sumTo } from './shape';
import type { Primitives } from './primitives';

type UnaryPrimitive = UnaryCode;
type BinaryPrimitive = BinaryCode;

function requireF32(op: string, inputs: readonly Tensor[]): void {
  for (const input of inputs) {
    if (input.dtype !== 'f32')
      throw new Error(
        `${op}: expected f32 tensors, got ${input.dtype}. Convert labels or indices with toFloat() first.`,
      );
  }
}

function unaryForward(fn: UnaryCode, alpha: (attrs: never) => number = () => 0) {
  return (inputs: readonly Tensor[], attrs: unknown): Tensor => {
    const [x] = inputs;
    requireF32(fn, inputs);
    const out = Tensor.empty(x.shape, 'f32', fn);
    if (out.size > 0) unary(fn, x.buffer, out.buffer, x.size, alpha(attrs as never));
    return out;
  };
}

function unaryRule<P extends UnaryPrimitive>(
  fn: P,
  backward: OpRule<Primitives[P]>['backward'],
  alpha?: (attrs: Primitives[P]) => number,
): OpRule<Primitives[P]> {
  return { forward: unaryForward(fn, alpha as (attrs: never) => number), backward };
}

/** A rule for a piecewise-constant function, whose derivative is zero wherever it exists. */
function constantRule<P extends UnaryPrimitive>(
  fn: P,
  alpha?: (attrs: Primitives[P]) => number,
): OpRule<Primitives[P]> {
  return unaryRule(fn, () => [null], alpha);
}

function binaryForward(fn: BinaryCode) {
  return (inputs: readonly Tensor[]): Tensor => {
    const [a, b] = inputs;
    requireF32(fn, inputs);
    const shape = broadcastShapes(fn, a.shape, b.shape);
    const out = Tensor.empty(shape, 'f32', fn);
    if (out.size === 0) return out;
    const contiguous = sameShape(a.shape, shape) && sameShape(b.shape, shape);
    binary(fn, a.buffer, b.buffer, out.buffer, out.size, {
      shape,
      aStrides: broadcastStrides(a.shape, shape),
      bStrides: broadcastStrides(b.shape, shape),
      contiguous,
    });
    return out;
  };
}

function binaryRule<P extends BinaryPrimitive>(
  fn: P,
  backward: OpRule<Primitives[P]>['backward'],
): OpRule<Primitives[P]> {
  return { forward: binaryForward(fn), backward };
}

const comparisonRule = <P extends BinaryPrimitive>(fn: P) => binaryRule(fn, () => [null, null]);

export const elementwiseRules: RuleTable<UnaryPrimitive | BinaryPrimitive | 'where'> = {
  neg: unaryRule('neg', (g) => [neg(g)]),
  // d exp(x) = exp(x) dx
  exp: unaryRule('exp', (g, { output }) => [mul(g, output)]),
  // d log(x) = dx / x
  log: unaryRule('log', (g, { inputs: [x] }) => [div(g, x)]),
  // d sqrt(x) = dx / (2 sqrt(x))
  sqrt: unaryRule('sqrt', (g, { output }) => [div(mulScalar(g, 0.5), output)]),
  // d|x| = sign(x) dx, 0 at x = 0 as in PyTorch
  abs: unaryRule('abs', (g, { inputs: [x] }) => [mul(g, sign(x))]),
  relu: unaryRule('relu', (g, { inputs: [x] }) => [apply('relu_backward', [g, x], {})]),
  // d sigmoid(x) = s (1 - s) dx
  sigmoid: unaryRule('sigmoid', (g, { output: s }) => [mul(g, mul(s, addScalar(neg(s), 1)))]),
  // d tanh(x) = (1 - t^2) dx
  tanh: unaryRule('tanh', (g, { output: t }) => [mul(g, addScalar(neg(mul(t, t)), 1))]),
  sign: constantRule('sign'),
  leaky_relu_slope: constantRule('leaky_relu_slope', (attrs) => attrs.slope),
  // d x^n = n x^(n-1) dx
  pow_scalar: unaryRule(
    'pow_scalar',
    (g, { inputs: [x], attrs }) => [
      mul(g, mulScalar(powScalar(x, attrs.exponent - 1), attrs.exponent)),
    ],
    (attrs) => attrs.exponent,
  ),
  mul_scalar: unaryRule(
    'mul_scalar',
    (g, { attrs }) => [mulScalar(g, attrs.value)],
    (attrs) => attrs.value,
  ),
  add_scalar: unaryRule(
    'add_scalar',
    (g) => [g],
    (attrs) => attrs.value,
  ),
  copy: unaryRule('copy', (g) => [g]),

  add: binaryRule('add', (g, { inputs: [a, b] }) => [sumTo(g, a.shape), sumTo(g, b.shape)]),
  sub: binaryRule('sub', (g, { inputs: [a, b] }) => [sumTo(g, a.shape), sumTo(neg(g), b.shape)]),
  mul: binaryRule('mul', (g, { inputs: [a, b], needsGrad }) => [
    needsGrad[0] ? sumTo(mul(g, b), a.shape) : null,
    needsGrad[1] ? sumTo(mul(g, a), b.shape) : null,
  ]),
  // d(a/b) = da / b - a db / b^2
  div: binaryRule('div', (g, { inputs: [a, b], needsGrad }) => [
    needsGrad[0] ? sumTo(div(g, b), a.shape) : null,
    needsGrad[1] ? sumTo(neg(div(mul(g, a), mul(b, b))), b.shape) : null,
  ]),
  // d(a^b) = b a^(b-1) da + a^b log(a) db, with the db term 0 where a = 0 and b >= 0 (as PyTorch masks it)
  pow: binaryRule('pow', (g, { inputs: [a, b], output, needsGrad }) => [
    needsGrad[0] ? sumTo(mul(g, mul(b, pow(a, addScalar(b, -1)))), a.shape) : null,
    needsGrad[1]
      ? sumTo(where(mul(eq(a, 0), ge(b, 0)), zerosLike(g), mul(g, mul(output, log(a)))), b.shape)
      : null,
  ]),
  // Ties send half the gradient to each side, as torch.maximum does.
  maximum: binaryRule('maximum', (g, { inputs: [a, b] }) => {
    const share = addScalar(mulScalar(apply('eq', [a, b], {}), -0.5), 1);
    return [
      sumTo(mul(g, mul(apply('ge', [a, b], {}), share)), a.shape),
      sumTo(mul(g, mul(apply('ge', [b, a], {}), share)), b.shape),
    ];
  }),
  minimum: binaryRule('minimum', (g, { inputs: [a, b] }) => {
    const share = addScalar(mulScalar(apply('eq', [a, b], {}), -0.5), 1);
    return [
      sumTo(mul(g, mul(apply('le', [a, b], {}), share)), a.shape),
      sumTo(mul(g, mul(apply('le', [b, a], {}), share)), b.shape),
    ];
  }),
  eq: comparisonRule('eq'),
  gt: comparisonRule('gt'),
  lt: comparisonRule('lt'),
  ge: comparisonRule('ge'),
  le: comparisonRule('le'),
  // Linear in g; piecewise constant in x.
  relu_backward: binaryRule('relu_backward', (g, { inputs: [, x] }) => [
    apply('relu_backward', [g, x], {}),
    null,
  ]),

  where: {
    forward(inputs) {
      const [condition, a, b] = inputs;
      requireF32('where', inputs);
      const shape = broadcastShapes(
        'where',
        broadcastShapes('where', condition.shape, a.shape),
        b.shape,
      );
      const out = Tensor.empty(shape, 'f32', 'where');
      if (out.size === 0) return out;
      whereSelect(condition.buffer, a.buffer, b.buffer, out.buffer, out.size, {
        shape,
        aStrides: broadcastStrides(a.shape, shape),
        bStrides: broadcastStrides(b.shape, shape),
        cStrides: broadcastStrides(condition.shape, shape),
        contiguous: false,
      });
      return out;
    },
    backward(g, { inputs: [condition, a, b], needsGrad }) {
      const zero = full([], 0);
      return [
        null,
        needsGrad[1] ? sumTo(where(condition, g, zero), a.shape) : null,
        needsGrad[2] ? sumTo(where(condition, zero, g), b.shape) : null,
      ];
    },
  },
};

// ---- Public functions ----

function scalarTensor(value: number): Tensor {
  return full([], value);
}

function asTensor(value: Tensor | number): Tensor {
  return typeof value === 'number' ? scalarTensor(value) : value;
}

export const neg = (x: Tensor): Tensor => apply('neg', [x], {});
export const exp = (x: Tensor): Tensor => apply('exp', [x], {});
export const log = (x: Tensor): Tensor => apply('log', [x], {});
export const sqrt = (x: Tensor): Tensor => apply('sqrt', [x], {});
export const abs = (x: Tensor): Tensor => apply('abs', [x], {});
export const relu = (x: Tensor): Tensor => apply('relu', [x], {});
export const sigmoid = (x: Tensor): Tensor => apply('sigmoid', [x], {});
export const tanh = (x: Tensor): Tensor => apply('tanh', [x], {});
export const sign = (x: Tensor): Tensor => apply('sign', [x], {});
export const clone = (x: Tensor): Tensor => apply('copy', [x], {});

/** leaky_relu(x) = x where x > 0, else slope * x. */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  return mul(x, apply('leaky_relu_slope', [x], { slope }));
}

export const mulScalar = (x: Tensor, value: number): Tensor => apply('mul_scalar', [x], { value });
export const addScalar = (x: Tensor, value: number): Tensor => apply('add_scalar', [x], { value });
export const powScalar = (x: Tensor, exponent: number): Tensor =>
  apply('pow_scalar', [x], { exponent });

export function add(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return addScalar(asTensor(a), b);
  if (typeof a === 'number') return addScalar(b, a);
  return apply('add', [a, b], {});
}

export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return addScalar(asTensor(a), -b);
  if (typeof a === 'number') return addScalar(neg(b), a);
  return apply('sub', [a, b], {});
}

export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return mulScalar(asTensor(a), b);
  if (typeof a === 'number') return mulScalar(b, a);
  return apply('mul', [a, b], {});
}

export function div(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return mulScalar(asTensor(a), 1 / b);
  return apply('div', [asTensor(a), b], {});
}

export function pow(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return powScalar(asTensor(a), b);
  return apply('pow', [asTensor(a), b], {});
}

const binaryFn =
  (op: 'maximum' | 'minimum' | 'eq' | 'gt' | 'lt' | 'ge' | 'le') =>
  (a: Tensor | number, b: Tensor | number): Tensor =>
    apply(op, [asTensor(a), asTensor(b)], {});

export const maximum = binaryFn('maximum');
export const minimum = binaryFn('minimum');
/** 1.0 where a == b, else 0.0 (f32). */
export const eq = binaryFn('eq');
export const gt = binaryFn('gt');
export const lt = binaryFn('lt');
export const ge = binaryFn('ge');
export const le = binaryFn('le');

/** Selects a where condition is non-zero, else b, broadcasting all three. */
export function where(condition: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  return apply('where', [condition, asTensor(a), asTensor(b)], {});
}

export function square(x: Tensor): Tensor {
  return mul(x, x);
}
