import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

// Unary and broadcasting binary ops against float64 references, their gradients
// against finite differences, and their second derivatives.

type Unary = [
  name: string,
  op: (x: mg.Tensor) => mg.Tensor,
  reference: (x: number) => number,
  low: number,
  high: number,
];

const unaryCases: Unary[] = [
  ['neg', mg.neg, (x) => -x, -2, 2],
  ['exp', mg.exp, Math.exp, -3, 3],
  ['log', mg.log, Math.log, 0.1, 4],
  ['sqrt', mg.sqrt, Math.sqrt, 0.1, 4],
  ['abs', mg.abs, Math.abs, -2, 2],
  ['relu', mg.relu, (x) => Math.max(x, 0), -2, 2],
  ['sigmoid', mg.sigmoid, (x) => 1 / (1 + Math.exp(-x)), -6, 6],
  ['tanh', mg.tanh, Math.tanh, -3, 3],
  ['pow 3', (x) => mg.pow(x, 3), (x) => x ** 3, -2, 2],
  ['pow -2', (x) => mg.pow(x, -2), (x) => x ** -2, 0.5, 2],
  ['pow 0.5', (x) => mg.pow(x, 0.5), Math.sqrt, 0.2, 3],
  ['mul scalar', (x) => mg.mul(x, -2.5), (x) => -2.5 * x, -2, 2],
  ['add scalar', (x) => mg.add(x, 1.25), (x) => x + 1.25, -2, 2],
  ['rsub scalar', (x) => mg.sub(3, x), (x) => 3 - x, -2, 2],
  ['div by scalar', (x) => mg.div(x, 4), (x) => x / 4, -2, 2],
  ['leaky relu', (x) => mg.leakyRelu(x, 0.1), (x) => (x > 0 ? x : 0.1 * x), -2, 2],
  ['square', mg.square, (x) => x * x, -2, 2],
];

type Binary = [
  name: string,
  op: (a: mg.Tensor, b: mg.Tensor) => mg.Tensor,
  reference: (a: number, b: number) => number,
];

const binaryCases: Binary[] = [
  ['add', mg.add, (a, b) => a + b],
  ['sub', mg.sub, (a, b) => a - b],
  ['mul', mg.mul, (a, b) => a * b],
  ['div', mg.div, (a, b) => a / b],
  ['pow', mg.pow, (a, b) => a ** b],
  ['maximum', mg.maximum, Math.max],
  ['minimum', mg.minimum, Math.min],
];

const comparisons: Binary[] = [
  ['eq', mg.eq, (a, b) => Number(a === b)],
  ['gt', mg.gt, (a, b) => Number(a > b)],
  ['lt', mg.lt, (a, b) => Number(a < b)],
  ['ge', mg.ge, (a, b) => Number(a >= b)],
  ['le', mg.le, (a, b) => Number(a <= b)],
];

// Shape pairs: same shape, broadcasting on either side, size-1 dims, scalars, and
// sizes that span many workgroups without being multiples of 64.
const shapePairs: [number[], number[]][] = [
  [[7], [7]],
  [[3, 5], [5]],
  [
    [4, 1, 6],
    [1, 5, 1],
  ],
  [
    [2, 3, 4, 5],
    [3, 1, 5],
  ],
  [[], [3, 2]],
  [[1], [1]],
  [[130, 257], [257]],
];

/** Row-major float64 broadcast of op over two shapes. */
function broadcastReference(
  a: Float64Array,
  aShape: number[],
  b: Float64Array,
  bShape: number[],
  op: (x: number, y: number) => number,
) {
  const rank = Math.max(aShape.length, bShape.length);
  const pad = (s: number[]) => [...new Array(rank - s.length).fill(1), ...s];
  const [pa, pb] = [pad(aShape), pad(bShape)];
  const out = pa.map((d, i) => Math.max(d, pb[i]));
  const size = out.reduce((x, y) => x * y, 1);
  const strides = (s: number[]) => s.map((_, i) => s.slice(i + 1).reduce((x, y) => x * y, 1));
  const [sa, sb] = [strides(pa), strides(pb)];
  const result = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let rest = i;
    let ia = 0;
    let ib = 0;
    for (let d = rank - 1; d >= 0; d--) {
      const coord = rest % out[d];
      rest = Math.floor(rest / out[d]);
      if (pa[d] !== 1) ia += coord * sa[d];
      if (pb[d] !== 1) ib += coord * sb[d];
    }
    result[i] = op(a[ia], b[ib]);
  }
  return { values: result, shape: out };
}

const size = (shape: number[]) => shape.reduce((x, y) => x * y, 1);

describe('unary ops', () => {
  for (const [name, op, reference, low, high] of unaryCases) {
    it(`${name} matches float64 over 1000 elements`, async () => {
      const values = randomArray(1000, name.length * 31, low, high);
      const out = op(mg.tensor(Float32Array.from(values), { shape: [8, 125] }));
      expect(out.shape).toEqual([8, 125]);
      expectClose(await out.data(), Array.from(values, reference), { atol: 1e-5, rtol: 1e-4 });
    });

    it(`${name} gradcheck and gradgradcheck`, async () => {
      // Away from the kinks of abs, relu and leaky relu, where the derivative jumps.
      const values = Array.from(randomArray(6, 7, low, high), (v) =>
        Math.abs(v) < 0.2 ? v + 0.5 : v,
      );
      const x = mg.tensor(values, { shape: [2, 3], requiresGrad: true });
      expect(await mg.gradcheck(op, [x])).toBe(true);
      expect(await mg.gradgradcheck(op, [x])).toBe(true);
    });
  }

  it('relu has derivative 0 at 0, as PyTorch defines it', async () => {
    const x = mg.tensor([-1, 0, 2], { requiresGrad: true });
    const [g] = mg.grad(mg.relu(x).sum(), x);
    expect(Array.from(await g!.data())).toEqual([0, 0, 1]);
  });

  it('relu passes no incoming NaN where its input is not positive, as PyTorch', async () => {
    const x = mg.tensor([-1, 0, 2], { requiresGrad: true });
    const [g] = mg.grad(mg.relu(x), x, { gradOutputs: mg.tensor([NaN, NaN, 3]) });
    expect(Array.from(await g!.data())).toEqual([0, 0, 3]);
  });

  it("relu's backward is linear in the incoming gradient, to second order", async () => {
    const x = mg.tensor([-1.5, 0.5, 2], { requiresGrad: true });
    const v = mg.tensor([1, 2, 3], { requiresGrad: true });
    const [gx] = mg.grad(mg.relu(x), x, { gradOutputs: v, createGraph: true });
    const [gv] = mg.grad(mg.sum(mg.mul(gx!, gx!)), v);
    expect(Array.from(await gv!.data())).toEqual([0, 4, 6]);
  });

  it('tanh stays finite for large inputs', async () => {
    expect(Array.from(await mg.tanh(mg.tensor([-1000, 1000, 30])).data())).toEqual([-1, 1, 1]);
  });

  it('rejects i32 inputs with the fix', () => {
    expect(() => mg.exp(mg.tensor(Int32Array.from([1, 2])))).toThrow(
      /exp: expected f32 tensors, got i32.*toFloat/,
    );
  });
});

describe('binary ops with broadcasting', () => {
  for (const [name, op, reference] of binaryCases) {
    for (const [aShape, bShape] of shapePairs) {
      it(`${name} ${JSON.stringify(aShape)} x ${JSON.stringify(bShape)}`, async () => {
        // pow needs a positive base; div a divisor away from zero.
        const a = randomArray(size(aShape), 3, name === 'pow' ? 0.2 : -2, 2);
        const b = randomArray(size(bShape), 4, name === 'div' ? 0.5 : -2, 2);
        const expected = broadcastReference(a, aShape, b, bShape, reference);
        const out = op(
          mg.tensor(Float32Array.from(a), { shape: aShape }),
          mg.tensor(Float32Array.from(b), { shape: bShape }),
        );
        expect(out.shape).toEqual(expected.shape);
        expectClose(await out.data(), expected.values, { atol: 1e-5, rtol: 1e-4 });
      });
    }

    it(`${name} gradcheck and gradgradcheck with broadcasting`, async () => {
      const a = mg.tensor(Array.from(randomArray(6, 11, 0.3, 2)), {
        shape: [2, 3],
        requiresGrad: true,
      });
      // Distinct magnitudes keep maximum and minimum away from ties.
      const b = mg.tensor([0.55, 1.45, 0.95], { shape: [3], requiresGrad: true });
      expect(await mg.gradcheck(op, [a, b])).toBe(true);
      expect(await mg.gradgradcheck(op, [a, b])).toBe(true);
    });
  }

  for (const [name, op, reference] of comparisons) {
    it(`${name} returns 0/1 as f32 and has no gradient`, async () => {
      const a = mg.tensor([1, 2, 3, 2], { requiresGrad: true });
      const b = mg.tensor([2]);
      const out = op(a, b);
      expect(out.dtype).toBe('f32');
      expect(Array.from(await out.data())).toEqual([1, 2, 3, 2].map((v) => reference(v, 2)));
      const [g] = mg.grad(mg.mul(op(a, b), a).sum(), a);
      expect(Array.from(await g!.data())).toEqual([1, 2, 3, 2].map((v) => reference(v, 2)));
    });
  }

  it('maximum and minimum split the gradient on ties, as torch.maximum does', async () => {
    const a = mg.tensor([1, 2, 3], { requiresGrad: true });
    const b = mg.tensor([1, 5, 0], { requiresGrad: true });
    const [ga, gb] = mg.grad(mg.maximum(a, b).sum(), [a, b]);
    expect(Array.from(await ga!.data())).toEqual([0.5, 0, 1]);
    expect(Array.from(await gb!.data())).toEqual([0.5, 1, 0]);
    const [ha, hb] = mg.grad(mg.minimum(a, b).sum(), [a, b]);
    expect(Array.from(await ha!.data())).toEqual([0.5, 1, 0]);
    expect(Array.from(await hb!.data())).toEqual([0.5, 0, 1]);
  });

  it('maximum and minimum propagate NaN', async () => {
    const a = mg.tensor([1, NaN, 2, 0]);
    expect(Array.from(await mg.maximum(a, 0.5).data())).toEqual([1, NaN, 2, 0.5]);
    expect(Array.from(await mg.minimum(a, 0.5).data())).toEqual([0.5, NaN, 0.5, 0]);
  });

  it('pow with a zero base gives a zero exponent-gradient, as PyTorch masks it', async () => {
    const a = mg.tensor([0, 2]);
    const b = mg.tensor([2, 3], { requiresGrad: true });
    const [g] = mg.grad(mg.pow(a, b).sum(), b);
    expectClose(await g!.data(), [0, 8 * Math.log(2)]);
  });

  it('names both shapes when they do not broadcast', () => {
    expect(() => mg.add(mg.zeros([2, 3]), mg.zeros([4]))).toThrow(
      /add: shapes \[2, 3\] and \[4\] cannot be broadcast/,
    );
  });
});

describe('where', () => {
  it('selects with broadcasting and routes gradients to the chosen side', async () => {
    const condition = mg.tensor([[1], [0]]);
    const a = mg.tensor([1, 2, 3], { requiresGrad: true });
    const b = mg.tensor(
      [
        [10, 20, 30],
        [40, 50, 60],
      ],
      { requiresGrad: true },
    );
    const out = mg.where(condition, a, b);
    expect(await out.array()).toEqual([
      [1, 2, 3],
      [40, 50, 60],
    ]);
    const [ga, gb] = mg.grad(out.sum(), [a, b]);
    expect(Array.from(await ga!.data())).toEqual([1, 1, 1]);
    expect(await gb!.array()).toEqual([
      [0, 0, 0],
      [1, 1, 1],
    ]);
  });

  it('gradcheck and gradgradcheck', async () => {
    const condition = mg.tensor([1, 0, 1, 0, 0, 1], { shape: [2, 3] });
    const a = mg.tensor(Array.from(randomArray(6, 5)), { shape: [2, 3], requiresGrad: true });
    const b = mg.tensor(Array.from(randomArray(3, 6)), { shape: [3], requiresGrad: true });
    const f = (x: mg.Tensor, y: mg.Tensor) => mg.where(condition, mg.mul(x, x), mg.mul(y, x));
    expect(await mg.gradcheck(f, [a, b])).toBe(true);
    expect(await mg.gradgradcheck(f, [a, b])).toBe(true);
  });
});

describe('values PyTorch keeps', () => {
  it('relu keeps NaN', async () => {
    expect(Array.from(await mg.relu(mg.tensor([NaN, -1, 2])).data())).toEqual([NaN, 0, 2]);
  });

  it('pow of a negative base with integer exponents', async () => {
    const out = mg.pow(mg.tensor([-2, -2, 0, -3, 2]), mg.tensor([3, 2, 0, -1, 0.5]));
    expectClose(await out.data(), [-8, 4, 1, -1 / 3, Math.SQRT2]);
  });

  it('sums a long row of 0.1 to f32 accuracy', async () => {
    expect(
      Math.abs((await mg.full([1_000_000], 0.1).sum().item()) - 100_000) / 100_000,
    ).toBeLessThan(1e-5);
    expect(
      Math.abs((await mg.full([3, 400_000], 0.1).sum(1).data())[2] - 40_000) / 40_000,
    ).toBeLessThan(1e-5);
    expect(Math.abs((await mg.full([10_000_000], 0.1).mean().item()) - 0.1) / 0.1).toBeLessThan(
      1e-5,
    );
  });
});

describe('creation checks', () => {
  it('rejects values outside the i32 range', () => {
    expect(() => mg.tensor([3e9], { dtype: 'i32' })).toThrow(/3000000000 is outside the i32 range/);
  });

  it('rejects a negative std and an empty range', () => {
    expect(() => mg.randn([2], { std: -1 })).toThrow(/randn\(\): std -1 is invalid/);
    expect(() => mg.rand([2], { low: 1, high: 0 })).toThrow(
      /rand\(\): the range \[1, 0\) is invalid/,
    );
  });
});
