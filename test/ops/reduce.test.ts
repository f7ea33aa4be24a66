import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

// ---- float64 references ----

type Reducer = (values: number[]) => number;

/** Reduces `data` of `shape` over `axes` with fn, returning the outputs in row-major order. */
function reduceRef(
  data: ArrayLike<number>,
  shape: number[],
  axes: number[],
  fn: Reducer,
): number[] {
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const groups = new Map<number, number[]>();
  const outShape = shape.map((dim, d) => (axes.includes(d) ? 1 : dim));
  const outStrides = outShape.map((_, d) => outShape.slice(d + 1).reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) {
    let o = 0;
    shape.forEach((_, d) => {
      const c = Math.floor(i / strides[d]) % shape[d];
      if (!axes.includes(d)) o += c * outStrides[d];
    });
    if (!groups.has(o)) groups.set(o, []);
    groups.get(o)!.push(data[i]);
  }
  return [...groups.keys()].sort((a, b) => a - b).map((o) => fn(groups.get(o)!));
}

const maxOf: Reducer = (v) => v.reduce((a, b) => Math.max(a, b), -Infinity);
const minOf: Reducer = (v) => v.reduce((a, b) => Math.min(a, b), Infinity);
const argmaxOf: Reducer = (v) => v.indexOf(maxOf(v));
const argminOf: Reducer = (v) => v.indexOf(minOf(v));
const logsumexpOf: Reducer = (v) => {
  const m = maxOf(v);
  return m + Math.log(v.reduce((a, b) => a + Math.exp(b - m), 0));
};
const varianceOf =
  (correction: number): Reducer =>
  (v) => {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    return v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - correction);
  };

function f32Data(count: number, seed: number, low = -1, high = 1): Float32Array {
  return Float32Array.from(randomArray(count, seed, low, high));
}

/** Distinct values spaced 0.05 apart, so max and min have no ties within a finite-difference step. */
function distinctData(count: number, seed: number): Float32Array {
  const order = Array.from(randomArray(count, seed)).map((v, i) => [v, i]);
  order.sort((a, b) => a[0] - b[0]);
  const out = new Float32Array(count);
  order.forEach(([, i], rank) => (out[i] = 0.05 * (rank - count / 2)));
  return out;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function allAxes(rank: number): number[] {
  return Array.from({ length: rank }, (_, i) => i);
}

function normalize(axes: number | number[] | undefined, rank: number): number[] {
  if (axes === undefined) return allAxes(rank);
  return (typeof axes === 'number' ? [axes] : axes).map((a) => (a < 0 ? a + rank : a));
}

function expectedShape(shape: number[], axes: number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((dim, d) => {
    if (!axes.includes(d)) out.push(dim);
    else if (keepdim) out.push(1);
  });
  return out;
}

const cases: { shape: number[]; axes: number | number[] | undefined; keepdim: boolean }[] = [
  { shape: [7, 13, 5], axes: undefined, keepdim: false },
  { shape: [7, 13, 5], axes: 0, keepdim: false },
  { shape: [7, 13, 5], axes: -1, keepdim: true },
  { shape: [7, 13, 5], axes: [0, 2], keepdim: false },
  { shape: [7, 13, 5], axes: [0, 2], keepdim: true },
  { shape: [7, 13, 5], axes: 1, keepdim: false },
  { shape: [1, 9, 1], axes: [0, 2], keepdim: false },
  { shape: [1, 9, 1], axes: 1, keepdim: true },
  { shape: [33], axes: 0, keepdim: false },
];

describe('max and min', () => {
  for (const { shape, axes, keepdim } of cases) {
    it(`matches float64 on ${JSON.stringify(shape)} axes ${JSON.stringify(axes)} keepdim ${keepdim}`, async () => {
      const data = f32Data(sizeOf(shape), 11);
      const x = mg.tensor(data, { shape });
      const normalized = normalize(axes, shape.length);
      const hi = x.max(axes, keepdim);
      const lo = x.min(axes, keepdim);
      expect(hi.shape).toEqual(expectedShape(shape, normalized, keepdim));
      expect(lo.shape).toEqual(expectedShape(shape, normalized, keepdim));
      expectClose(await hi.data(), reduceRef(data, shape, normalized, maxOf), { atol: 0, rtol: 0 });
      expectClose(await lo.data(), reduceRef(data, shape, normalized, minOf), { atol: 0, rtol: 0 });
    });
  }

  it('reduces 100003 elements in one group', async () => {
    const data = f32Data(100_003, 5, -50, 50);
    const x = mg.tensor(data);
    expect(await x.max().item()).toBe(maxOf(Array.from(data)));
    expect(await x.min().item()).toBe(minOf(Array.from(data)));
  });

  it('reduces few long rows', async () => {
    const shape = [3, 40_001];
    const data = f32Data(sizeOf(shape), 6);
    const x = mg.tensor(data, { shape });
    expectClose(await x.max(-1).data(), reduceRef(data, shape, [1], maxOf), { atol: 0, rtol: 0 });
    expectClose(await x.min(1).data(), reduceRef(data, shape, [1], minOf), { atol: 0, rtol: 0 });
  });

  it('reduces many short rows', async () => {
    const shape = [5003, 3];
    const data = f32Data(sizeOf(shape), 7);
    const x = mg.tensor(data, { shape });
    expectClose(await x.max(1).data(), reduceRef(data, shape, [1], maxOf), { atol: 0, rtol: 0 });
    expectClose(await x.min(0).data(), reduceRef(data, shape, [0], minOf), { atol: 0, rtol: 0 });
  });

  it('splits the gradient among ties', async () => {
    const x = mg.tensor(
      [
        [1, 3, 3],
        [2, 2, 2],
        [-1, 0, -1],
      ],
      { requiresGrad: true },
    );
    const [gMax] = mg.grad(x.max(1).sum(), x);
    expectClose(await gMax!.data(), [0, 0.5, 0.5, 1 / 3, 1 / 3, 1 / 3, 0, 1, 0]);
    const [gMin] = mg.grad(x.min(1).sum(), x);
    expectClose(await gMin!.data(), [1, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0.5, 0, 0.5]);
    const [gAll] = mg.grad(x.max(), x);
    expectClose(await gAll!.data(), [0, 0.5, 0.5, 0, 0, 0, 0, 0, 0]);
  });

  it('passes gradcheck and gradgradcheck', async () => {
    const shape = [4, 3, 5];
    const x = mg.tensor(distinctData(sizeOf(shape), 21), { shape, requiresGrad: true });
    const fns = [
      (a: mg.Tensor) => a.max([0, 2]),
      (a: mg.Tensor) => a.min(-1, true),
      (a: mg.Tensor) => a.max().mul(a.min(1).sum()),
    ];
    for (const fn of fns) {
      expect(await mg.gradcheck(fn, [x])).toBe(true);
      expect(await mg.gradgradcheck(fn, [x])).toBe(true);
    }
  });
});

describe('argmax and argmin', () => {
  for (const { shape, axes, keepdim } of cases) {
    if (Array.isArray(axes)) continue;
    it(`matches float64 on ${JSON.stringify(shape)} axis ${axes} keepdim ${keepdim}`, async () => {
      const data = f32Data(sizeOf(shape), 12);
      const x = mg.tensor(data, { shape, requiresGrad: true });
      const normalized = normalize(axes, shape.length);
      const hi = x.argmax(axes, keepdim);
      const lo = x.argmin(axes, keepdim);
      expect(hi.dtype).toBe('i32');
      expect(hi.requiresGrad).toBe(false);
      expect(hi.shape).toEqual(expectedShape(shape, normalized, keepdim));
      expect(Array.from(await hi.data())).toEqual(reduceRef(data, shape, normalized, argmaxOf));
      expect(Array.from(await lo.data())).toEqual(reduceRef(data, shape, normalized, argminOf));
    });
  }

  it('returns the first index on ties', async () => {
    const x = mg.tensor([
      [1, 3, 3, 0],
      [2, 2, 2, 2],
      [0, -1, 5, -1],
    ]);
    expect(Array.from(await x.argmax(1).data())).toEqual([1, 0, 2]);
    expect(Array.from(await x.argmin(1).data())).toEqual([3, 0, 1]);
    expect(Array.from(await x.argmax(0).data())).toEqual([1, 0, 2, 1]);
    expect(await x.argmax().item()).toBe(10);
    expect(await x.argmin().item()).toBe(9);
  });

  it('keeps every dimension over the flattened tensor', async () => {
    const x = mg.tensor([
      [1, 5, 2],
      [7, 0, 3],
    ]);
    const out = x.argmax(undefined, true);
    expect(out.shape).toEqual([1, 1]);
    expect(await out.item()).toBe(3);
  });

  it('treats NaN as the extreme', async () => {
    const x = mg.tensor([
      [1, NaN, 2, NaN],
      [3, 0, -1, 2],
    ]);
    expect(Array.from(await x.argmax(1).data())).toEqual([1, 0]);
    expect(Array.from(await x.argmin(1).data())).toEqual([1, 2]);
    const values = Array.from(await x.max(1).data());
    expect(values[0]).toBeNaN();
    expect(values[1]).toBe(3);
    expect(await x.min().item()).toBeNaN();
  });

  it('gives a NaN maximum zero gradient', async () => {
    const x = mg.tensor(
      [
        [1, NaN, 2],
        [3, 0, 3],
      ],
      { requiresGrad: true },
    );
    const [g] = mg.grad(x.max(1).sum(), x);
    expect(Array.from(await g!.data())).toEqual([0, 0, 0, 0.5, 0, 0.5]);
  });

  it('returns the first NaN in a long row', async () => {
    const data = f32Data(5000, 10);
    // The per_group reduction reads position 64 in lane 0 and position 1 in lane 1,
    // so the lower lane contains the later NaN when the lanes merge.
    data[64] = NaN;
    data[1] = NaN;
    data[4000] = NaN;
    const x = mg.tensor(data);
    expect(await x.argmax().item()).toBe(1);
    expect(await x.argmin().item()).toBe(1);
    expect(await x.max().item()).toBeNaN();
  });

  it('finds the index in 100003 elements', async () => {
    const data = f32Data(100_003, 8);
    data[77_777] = 2;
    data[99_999] = 2;
    data[12_345] = -2;
    const x = mg.tensor(data);
    expect(await x.argmax().item()).toBe(77_777);
    expect(await x.argmin().item()).toBe(12_345);
  });

  it('matches float64 on few long rows', async () => {
    const shape = [2, 30_011];
    const data = f32Data(sizeOf(shape), 9);
    const x = mg.tensor(data, { shape });
    expect(Array.from(await x.argmax(1).data())).toEqual(reduceRef(data, shape, [1], argmaxOf));
    expect(Array.from(await x.argmin(-1).data())).toEqual(reduceRef(data, shape, [1], argminOf));
  });
});

describe('logsumexp', () => {
  for (const { shape, axes, keepdim } of cases) {
    it(`matches float64 on ${JSON.stringify(shape)} axes ${JSON.stringify(axes)} keepdim ${keepdim}`, async () => {
      const data = f32Data(sizeOf(shape), 13, -3, 3);
      const x = mg.tensor(data, { shape });
      const normalized = normalize(axes, shape.length);
      const out = mg.logsumexp(x, axes, keepdim);
      expect(out.shape).toEqual(expectedShape(shape, normalized, keepdim));
      expectClose(await out.data(), reduceRef(data, shape, normalized, logsumexpOf));
    });
  }

  it('stays finite for large inputs', async () => {
    const x = mg.tensor([
      [1000, 999, 998],
      [-1000, -1001, -1002],
    ]);
    const expected = [logsumexpOf([1000, 999, 998]), logsumexpOf([-1000, -1001, -1002])];
    expectClose(await x.logsumexp(1).data(), expected);
  });

  it('gives -inf for a row of -inf', async () => {
    const x = mg.tensor([
      [-Infinity, -Infinity],
      [0, 0],
    ]);
    const out = Array.from(await x.logsumexp(1).data());
    expect(out[0]).toBe(-Infinity);
    expect(out[1]).toBeCloseTo(Math.log(2), 6);
  });

  it('passes gradcheck and gradgradcheck', async () => {
    const shape = [3, 4, 5];
    const x = mg.tensor(f32Data(sizeOf(shape), 22), { shape, requiresGrad: true });
    for (const fn of [
      (a: mg.Tensor) => a.logsumexp([0, 2]),
      (a: mg.Tensor) => a.logsumexp(-1, true),
    ]) {
      expect(await mg.gradcheck(fn, [x])).toBe(true);
      expect(await mg.gradgradcheck(fn, [x])).toBe(true);
    }
  });
});

describe('variance and std', () => {
  for (const { shape, axes, keepdim } of cases) {
    if (shape.includes(1)) continue;
    for (const correction of [0, 1]) {
      it(`matches float64 on ${JSON.stringify(shape)} axes ${JSON.stringify(axes)} keepdim ${keepdim} correction ${correction}`, async () => {
        const data = f32Data(sizeOf(shape), 14, -2, 3);
        const x = mg.tensor(data, { shape });
        const normalized = normalize(axes, shape.length);
        const expected = reduceRef(data, shape, normalized, varianceOf(correction));
        const v = x.var(axes, { correction, keepdim });
        expect(v.shape).toEqual(expectedShape(shape, normalized, keepdim));
        expectClose(await v.data(), expected, { atol: 1e-5, rtol: 1e-4 });
        expectClose(await x.std(axes, { correction, keepdim }).data(), expected.map(Math.sqrt), {
          atol: 1e-5,
          rtol: 1e-4,
        });
      });
    }
  }

  it('reduces 100003 elements', async () => {
    const data = f32Data(100_003, 15, 0, 4);
    const expected = varianceOf(1)(Array.from(data));
    expect(await mg.variance(mg.tensor(data)).item()).toBeCloseTo(expected, 4);
  });

  it('defaults to the unbiased estimate', async () => {
    const x = mg.tensor([1, 2, 3, 4]);
    expect(await x.var().item()).toBeCloseTo(5 / 3, 6);
    expect(await x.std(0, { correction: 0 }).item()).toBeCloseTo(Math.sqrt(1.25), 6);
  });

  it('passes gradcheck and gradgradcheck', async () => {
    const shape = [4, 3, 5];
    const x = mg.tensor(f32Data(sizeOf(shape), 23), { shape, requiresGrad: true });
    const fns = [
      (a: mg.Tensor) => mg.variance(a, [0, 2]),
      (a: mg.Tensor) => a.var(-1, { correction: 0, keepdim: true }),
      (a: mg.Tensor) => a.std(1),
    ];
    for (const fn of fns) {
      expect(await mg.gradcheck(fn, [x])).toBe(true);
      expect(await mg.gradgradcheck(fn, [x])).toBe(true);
    }
  });
});

describe('reduction errors', () => {
  const x = mg.tensor([
    [1, 2],
    [3, 4],
  ]);
  it('rejects an axis out of range', () => {
    expect(() => x.max(2)).toThrow(/max: axis 2 is out of range for a tensor of rank 2/);
    expect(() => x.argmin(-3)).toThrow(/argmin: axis -3 is out of range/);
    expect(() => x.logsumexp([0, 5])).toThrow(/logsumexp: axis 5 is out of range/);
    expect(() => x.var(7)).toThrow(/variance: axis 7 is out of range/);
  });
  it('rejects repeated axes', () => {
    expect(() => x.min([1, -1])).toThrow(/min: axes \[1, -1\] name the same dimension twice/);
  });
  it('rejects an i32 input', () => {
    const i = mg.tensor([1, 2], { dtype: 'i32' });
    expect(() => i.max()).toThrow(/max: expected an f32 tensor, got i32/);
    expect(() => i.argmax()).toThrow(/argmax: expected an f32 tensor, got i32/);
  });
  it('rejects an empty axis', () => {
    expect(() => mg.zeros([2, 0]).max(1)).toThrow(/max: cannot reduce over axis 1 of size 0/);
  });
});
