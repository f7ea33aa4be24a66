import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray, seeded } from '../helpers';

// ---- float64 references over row-major flat arrays ----

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function stridesOf(shape: readonly number[]): number[] {
  return shape.map((_, d) => sizeOf(shape.slice(d + 1)));
}

function coordsOf(i: number, shape: readonly number[]): number[] {
  const strides = stridesOf(shape);
  return shape.map((dim, d) => Math.floor(i / strides[d]) % dim);
}

function offsetOf(coords: readonly number[], shape: readonly number[]): number {
  const strides = stridesOf(shape);
  return coords.reduce((total, c, d) => total + c * strides[d], 0);
}

/** Builds the array of `shape` whose element at coordinates c is value(c). */
function build(shape: readonly number[], value: (c: number[]) => number): number[] {
  return Array.from({ length: sizeOf(shape) }, (_, i) => value(coordsOf(i, shape)));
}

function f32Data(count: number, seed: number): Float32Array {
  return Float32Array.from(randomArray(count, seed));
}

function randomIndex(count: number, high: number, seed: number): Int32Array {
  const next = seeded(seed);
  return Int32Array.from({ length: count }, () => Math.floor(next() * high));
}

/** Python's slice rule: the positions start, start + step, ... before end, clamped to [0, size]. */
function slicePositions(size: number, start: number, end: number | undefined, step: number) {
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  const positions: number[] = [];
  for (let i = clamp(start); i < (end === undefined ? size : clamp(end)); i += step)
    positions.push(i);
  return positions;
}

describe('slice and narrow', () => {
  const shape = [5, 7, 3];
  const data = f32Data(sizeOf(shape), 1);
  const cases: [number, number, number | undefined, number][] = [
    [0, 1, 4, 1],
    [1, -5, -1, 2],
    [-1, 0, undefined, 2],
    [1, 2, 100, 3],
    [0, -100, 2, 1],
    [2, 2, 1, 1],
    [1, 6, undefined, 4],
  ];
  for (const [axis, start, end, step] of cases) {
    it(`matches float64 for axis ${axis} [${start}:${end}:${step}]`, async () => {
      const x = mg.tensor(data, { shape });
      const a = axis < 0 ? axis + shape.length : axis;
      const positions = slicePositions(shape[a], start, end, step);
      const outShape = shape.map((dim, d) => (d === a ? positions.length : dim));
      const expected = build(outShape, (c) => {
        const source = [...c];
        source[a] = positions[c[a]];
        return data[offsetOf(source, shape)];
      });
      const out = x.slice(axis, start, end, step);
      expect(out.shape).toEqual(outShape);
      expectClose(await out.data(), expected, { atol: 0, rtol: 0 });
    });
  }

  it('narrows like torch.narrow', async () => {
    const x = mg.tensor(data, { shape });
    const out = x.narrow(1, -4, 3);
    expect(out.shape).toEqual([5, 3, 3]);
    expect(Array.from(await out.data())).toEqual(Array.from(await x.slice(1, 3, 6).data()));
  });

  it('slices i32 tensors', async () => {
    const x = mg.arange(0, 10, 1, { dtype: 'i32' });
    const out = x.slice(0, 1, 9, 3);
    expect(out.dtype).toBe('i32');
    expect(Array.from(await out.data())).toEqual([1, 4, 7]);
  });

  it('slices across many workgroups', async () => {
    const big = [300, 517];
    const bigData = f32Data(sizeOf(big), 2);
    const out = mg.tensor(bigData, { shape: big }).slice(1, 3, 500, 2);
    const positions = slicePositions(517, 3, 500, 2);
    const expected = build([300, positions.length], ([i, j]) => bigData[i * 517 + positions[j]]);
    expectClose(await out.data(), expected, { atol: 0, rtol: 0 });
  });

  it('passes gradcheck and gradgradcheck', async () => {
    const x = mg.tensor(f32Data(4 * 6 * 3, 3), { shape: [4, 6, 3], requiresGrad: true });
    const fns = [
      (a: mg.Tensor) => a.slice(1, 1, 5, 2).mul(a.slice(1, 0, 2)),
      (a: mg.Tensor) => a.narrow(-1, 1, 2).tanh(),
      (a: mg.Tensor) => mg.square(a.slice(0, -3)),
    ];
    for (const fn of fns) {
      expect(await mg.gradcheck(fn, [x])).toBe(true);
      expect(await mg.gradgradcheck(fn, [x])).toBe(true);
    }
  });

  it('rejects bad arguments', () => {
    const x = mg.zeros([2, 3]);
    expect(() => x.slice(2, 0)).toThrow(/slice: axis 2 is out of range for a tensor of rank 2/);
    expect(() => x.slice(0, 0, 2, 0)).toThrow(/slice: step must be a positive integer, got 0/);
    expect(() => x.slice(0, 0.5)).toThrow(/slice: start must be an integer, got 0.5/);
    expect(() => x.narrow(1, 2, 2)).toThrow(
      /narrow: start 2 and length 2 do not fit in axis 1 of size 3/,
    );
    expect(() => mg.zeros([]).slice(0, 0)).toThrow(/slice: the tensor is 0-d/);
  });
});

describe('concat and stack', () => {
  it('matches float64 along each axis', async () => {
    for (const axis of [0, 1, -1]) {
      const shapes = [
        [3, 2, 5],
        [3, 2, 5],
        [3, 2, 5],
      ].map((s, i) => s.map((dim, d) => (d === (axis + 3) % 3 ? dim + i : dim)));
      const datas = shapes.map((s, i) => f32Data(sizeOf(s), 10 + i));
      const a = (axis + 3) % 3;
      const out = mg.concat(
        datas.map((data, i) => mg.tensor(data, { shape: shapes[i] })),
        axis,
      );
      const outShape = shapes[0].map((dim, d) =>
        d === a ? shapes.reduce((t, s) => t + s[a], 0) : dim,
      );
      const expected = build(outShape, (c) => {
        let k = 0;
        let position = c[a];
        while (position >= shapes[k][a]) position -= shapes[k++][a];
        const source = [...c];
        source[a] = position;
        return datas[k][offsetOf(source, shapes[k])];
      });
      expect(out.shape).toEqual(outShape);
      expectClose(await out.data(), expected, { atol: 0, rtol: 0 });
    }
  });

  it('joins i32 tensors and empty blocks', async () => {
    const a = mg.tensor([1, 2], { dtype: 'i32' });
    const b = mg.tensor(new Int32Array(0));
    const c = mg.tensor([3], { dtype: 'i32' });
    const out = mg.cat([a, b, c]);
    expect(out.dtype).toBe('i32');
    expect(Array.from(await out.data())).toEqual([1, 2, 3]);
  });

  it('stacks along a new axis', async () => {
    const a = mg.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const b = a.mul(10);
    expect(await mg.stack([a, b]).array()).toEqual([
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      [
        [10, 20, 30],
        [40, 50, 60],
      ],
    ]);
    expect(await mg.stack([a, b], -1).array()).toEqual([
      [
        [1, 10],
        [2, 20],
        [3, 30],
      ],
      [
        [4, 40],
        [5, 50],
        [6, 60],
      ],
    ]);
    const ints = mg.stack(
      [mg.tensor([1, 2], { dtype: 'i32' }), mg.tensor([3, 4], { dtype: 'i32' })],
      1,
    );
    expect(ints.dtype).toBe('i32');
    expect(await ints.array()).toEqual([
      [1, 3],
      [2, 4],
    ]);
  });

  it('passes gradcheck and gradgradcheck', async () => {
    const a = mg.tensor(f32Data(6, 4), { shape: [2, 3], requiresGrad: true });
    const b = mg.tensor(f32Data(4, 5), { shape: [2, 2], requiresGrad: true });
    const c = mg.tensor(f32Data(6, 6), { shape: [2, 3], requiresGrad: true });
    const cat = (x: mg.Tensor, y: mg.Tensor) =>
      mg
        .concat([x, y, x], 1)
        .tanh()
        .mul(mg.concat([y, x, x], -1));
    expect(await mg.gradcheck(cat, [a, b])).toBe(true);
    expect(await mg.gradgradcheck(cat, [a, b])).toBe(true);
    const stacked = (x: mg.Tensor, y: mg.Tensor) => mg.square(mg.stack([x, y], 1)).sum(1);
    expect(await mg.gradcheck(stacked, [a, c])).toBe(true);
    expect(await mg.gradgradcheck(stacked, [a, c])).toBe(true);
  });

  it('rejects mismatched inputs', () => {
    const a = mg.zeros([2, 3]);
    expect(() => mg.concat([a, mg.zeros([3, 3])], 1)).toThrow(
      /concat: tensor 1 has shape \[3, 3\], which does not match tensor 0's \[2, 3\] outside axis 1/,
    );
    expect(() => mg.concat([a, mg.zeros([2, 3, 1])])).toThrow(
      /concat: tensor 1 has shape \[2, 3, 1\]/,
    );
    expect(() => mg.concat([a, mg.zeros([2, 3], { dtype: 'i32' })])).toThrow(
      /concat: tensor 1 is i32 but tensor 0 is f32/,
    );
    expect(() => mg.concat([])).toThrow(/concat: got an empty list/);
    expect(() => mg.concat([a], 2)).toThrow(/concat: axis 2 is out of range/);
    expect(() => mg.stack([a, mg.zeros([3, 2])])).toThrow(
      /stack: tensor 1 has shape \[3, 2\] but tensor 0 has \[2, 3\]/,
    );
  });
});

describe('indexSelect and indexAdd', () => {
  const shape = [6, 5, 4];
  const data = f32Data(sizeOf(shape), 20);

  for (const axis of [0, 1, -1]) {
    it(`matches float64 along axis ${axis}`, async () => {
      const a = axis < 0 ? axis + 3 : axis;
      const index = randomIndex(9, shape[a], 21 + a);
      const out = mg.tensor(data, { shape }).indexSelect(axis, mg.tensor(index));
      const outShape = shape.map((dim, d) => (d === a ? 9 : dim));
      const expected = build(outShape, (c) => {
        const source = [...c];
        source[a] = index[c[a]];
        return data[offsetOf(source, shape)];
      });
      expect(out.shape).toEqual(outShape);
      expectClose(await out.data(), expected, { atol: 0, rtol: 0 });

      const sourceData = f32Data(sizeOf(outShape), 22 + a);
      const added = mg.indexAdd(
        mg.tensor(data, { shape }),
        axis,
        mg.tensor(index),
        mg.tensor(sourceData, { shape: outShape }),
      );
      const sums = Array.from(data, Number);
      for (let i = 0; i < sourceData.length; i++) {
        const c = coordsOf(i, outShape);
        c[a] = index[c[a]];
        sums[offsetOf(c, shape)] += sourceData[i];
      }
      expectClose(await added.data(), sums, { atol: 1e-6, rtol: 1e-6 });
    });
  }

  it('adds rows wider than one chunk', async () => {
    const xShape = [3, 50, 37];
    const count = 70;
    const index = randomIndex(count, 50, 25);
    const sourceShape = [3, count, 37];
    const xData = f32Data(sizeOf(xShape), 26);
    const sourceData = f32Data(sizeOf(sourceShape), 27);
    const out = mg.indexAdd(
      mg.tensor(xData, { shape: xShape }),
      1,
      mg.tensor(index),
      mg.tensor(sourceData, { shape: sourceShape }),
    );
    const sums = Array.from(xData, Number);
    for (let i = 0; i < sourceData.length; i++) {
      const [o, k, e] = coordsOf(i, sourceShape);
      sums[offsetOf([o, index[k], e], xShape)] += sourceData[i];
    }
    expectClose(await out.data(), sums, { atol: 1e-5, rtol: 1e-5 });
  });

  it('selects rows of an i32 tensor', async () => {
    const x = mg.tensor(
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      { dtype: 'i32' },
    );
    const out = x.indexSelect(0, mg.tensor([2, 0, 2], { dtype: 'i32' }));
    expect(out.dtype).toBe('i32');
    expect(await out.array()).toEqual([
      [5, 6],
      [1, 2],
      [5, 6],
    ]);
  });

  it('reads 0 and adds nothing for out-of-range indices', async () => {
    const x = mg.tensor([
      [1, 2],
      [3, 4],
    ]);
    const index = mg.tensor([1, -1, 2, 0], { dtype: 'i32' });
    expect(await x.indexSelect(0, index).array()).toEqual([
      [3, 4],
      [0, 0],
      [0, 0],
      [1, 2],
    ]);
    const source = mg.ones([4, 2]);
    expect(await x.indexAdd(0, index, source).array()).toEqual([
      [2, 3],
      [4, 5],
    ]);
  });

  it('passes gradcheck and gradgradcheck', async () => {
    const x = mg.tensor(f32Data(4 * 3, 23), { shape: [4, 3], requiresGrad: true });
    const index = mg.tensor([3, 0, 3, 1, 3], { dtype: 'i32' });
    const source = mg.tensor(f32Data(5 * 3, 24), { shape: [5, 3], requiresGrad: true });
    const select = (a: mg.Tensor) => a.indexSelect(0, index).tanh();
    expect(await mg.gradcheck(select, [x])).toBe(true);
    expect(await mg.gradgradcheck(select, [x])).toBe(true);
    const columns = (a: mg.Tensor) =>
      mg.square(a.indexSelect(1, mg.tensor([2, 2, 0], { dtype: 'i32' })));
    expect(await mg.gradcheck(columns, [x])).toBe(true);
    expect(await mg.gradgradcheck(columns, [x])).toBe(true);
    const add = (a: mg.Tensor, s: mg.Tensor) => mg.square(mg.indexAdd(a, 0, index, s));
    expect(await mg.gradcheck(add, [x, source])).toBe(true);
    expect(await mg.gradgradcheck(add, [x, source])).toBe(true);
  });

  it('differentiates to third order', async () => {
    const x = mg.tensor([0.5, -1.5, 2], { requiresGrad: true });
    const index = mg.tensor([2, 0, 2, 2], { dtype: 'i32' });
    // y = sum_k x[index_k]^3, so the third derivative of sum(d2y) is 6 * (count of i in index).
    const picked = x.indexSelect(0, index);
    const y = picked.mul(picked).mul(picked).sum();
    const [first] = mg.grad(y, x, { createGraph: true });
    const [second] = mg.grad(first!.sum(), x, { createGraph: true });
    const [third] = mg.grad(second!.sum(), x);
    expectClose(await first!.data(), [3 * 0.25, 0, 3 * 3 * 4]);
    expectClose(await second!.data(), [6 * 0.5, 0, 3 * 6 * 2]);
    expectClose(await third!.data(), [6, 0, 18]);
  });

  it('rejects bad indices', () => {
    const x = mg.zeros([3, 2]);
    expect(() => x.indexSelect(0, mg.tensor([0, 1]))).toThrow(
      /indexSelect: the index must be an i32 tensor, got f32; convert it with toInt\(\) first/,
    );
    expect(() => x.indexSelect(0, mg.tensor([[0]], { dtype: 'i32' }))).toThrow(
      /indexSelect: the index must be 1-D, got shape \[1, 1\]/,
    );
    expect(() => x.indexSelect(2, mg.tensor([0], { dtype: 'i32' }))).toThrow(
      /indexSelect: axis 2 is out of range/,
    );
    expect(() => mg.indexAdd(x, 0, mg.tensor([0], { dtype: 'i32' }), mg.zeros([2, 2]))).toThrow(
      /indexAdd: source has shape \[2, 2\] but x of shape \[3, 2\] with 1 indices along axis 0 needs \[1, 2\]/,
    );
  });
});

describe('gather and scatterAdd', () => {
  const shape = [5, 4, 3];
  const data = f32Data(sizeOf(shape), 30);

  for (const axis of [0, 1, -1]) {
    it(`matches float64 along axis ${axis}`, async () => {
      const a = axis < 0 ? axis + 3 : axis;
      // The index is smaller than x off the axis and longer than it along the axis.
      const indexShape = shape.map((dim, d) => (d === a ? dim + 2 : dim - 1));
      const index = randomIndex(sizeOf(indexShape), shape[a], 31 + a);
      const out = mg.tensor(data, { shape }).gather(axis, mg.tensor(index, { shape: indexShape }));
      const expected = build(indexShape, (c) => {
        const source = [...c];
        source[a] = index[offsetOf(c, indexShape)];
        return data[offsetOf(source, shape)];
      });
      expect(out.shape).toEqual(indexShape);
      expectClose(await out.data(), expected, { atol: 0, rtol: 0 });

      // src is larger than the index: its extra entries are ignored.
      const srcShape = indexShape.map((dim) => dim + 1);
      const srcData = f32Data(sizeOf(srcShape), 32 + a);
      const added = mg.scatterAdd(
        mg.tensor(data, { shape }),
        axis,
        mg.tensor(index, { shape: indexShape }),
        mg.tensor(srcData, { shape: srcShape }),
      );
      const sums = Array.from(data, Number);
      for (let i = 0; i < index.length; i++) {
        const c = coordsOf(i, indexShape);
        const value = srcData[offsetOf(c, srcShape)];
        c[a] = index[i];
        sums[offsetOf(c, shape)] += value;
      }
      expectClose(await added.data(), sums, { atol: 1e-6, rtol: 1e-6 });
    });
  }

  it('scatters many repeats into few slots', async () => {
    const count = 20_000;
    const index = randomIndex(count, 7, 33);
    const srcData = f32Data(count, 34);
    const out = mg.scatterAdd(mg.zeros([7]), 0, mg.tensor(index), mg.tensor(srcData));
    const sums = new Array<number>(7).fill(0);
    index.forEach((k, i) => (sums[k] += srcData[i]));
    expectClose(await out.data(), sums, { atol: 1e-3, rtol: 1e-4 });
  });

  it('reads 0 and adds nothing for out-of-range indices', async () => {
    const x = mg.tensor([[1, 2, 3]]);
    const index = mg.tensor([[2, 3, -1]], { dtype: 'i32' });
    expect(await x.gather(1, index).array()).toEqual([[3, 0, 0]]);
    expect(await x.scatterAdd(1, index, mg.ones([1, 3])).array()).toEqual([[1, 2, 4]]);
  });

  it('passes gradcheck and gradgradcheck', async () => {
    const x = mg.tensor(f32Data(4 * 3, 35), { shape: [4, 3], requiresGrad: true });
    const index = mg.tensor(
      [
        [0, 2, 2, 1],
        [1, 1, 0, 0],
        [2, 0, 1, 2],
      ],
      { dtype: 'i32' },
    );
    const picked = (a: mg.Tensor) => a.gather(1, index).tanh();
    expect(await mg.gradcheck(picked, [x])).toBe(true);
    expect(await mg.gradgradcheck(picked, [x])).toBe(true);

    const rows = mg.tensor(
      [
        [3, 0, 3],
        [3, 1, 0],
      ],
      { dtype: 'i32' },
    );
    const src = mg.tensor(f32Data(3 * 4, 36), { shape: [3, 4], requiresGrad: true });
    const scattered = (a: mg.Tensor, s: mg.Tensor) => mg.square(mg.scatterAdd(a, 0, rows, s));
    expect(await mg.gradcheck(scattered, [x, src])).toBe(true);
    expect(await mg.gradgradcheck(scattered, [x, src])).toBe(true);
  });

  it('rejects bad indices', () => {
    const x = mg.zeros([3, 2]);
    expect(() => x.gather(1, mg.tensor([[0]]))).toThrow(
      /gather: the index must be an i32 tensor, got f32/,
    );
    expect(() => x.gather(1, mg.tensor([0], { dtype: 'i32' }))).toThrow(
      /gather: index of shape \[1\] does not fit x of shape \[3, 2\] along axis 1/,
    );
    expect(() => x.gather(1, mg.zeros([4, 1], { dtype: 'i32' }))).toThrow(
      /gather: index of shape \[4, 1\]/,
    );
    expect(() => mg.scatterAdd(x, 0, mg.zeros([2, 2], { dtype: 'i32' }), mg.zeros([1, 2]))).toThrow(
      /scatterAdd: index \[2, 2\], src \[1, 2\] and x \[3, 2\] do not fit along axis 0/,
    );
    expect(() => mg.scatterAdd(x, 0, mg.zeros([1, 2]), mg.zeros([1, 2]))).toThrow(
      /scatterAdd: the index must be an i32 tensor, got f32/,
    );
  });
});

describe('toFloat and toInt', () => {
  it('truncates toward zero and converts back', async () => {
    const x = mg.tensor([-2.7, -0.5, 0, 0.5, 1.99, 3, 123456.9]);
    const i = x.toInt();
    expect(i.dtype).toBe('i32');
    expect(Array.from(await i.data())).toEqual([-2, 0, 0, 0, 1, 3, 123456]);
    const f = i.toFloat();
    expect(f.dtype).toBe('f32');
    expect(Array.from(await f.data())).toEqual([-2, 0, 0, 0, 1, 3, 123456]);
  });

  it('saturates out-of-range values', async () => {
    const x = mg.tensor([1e10, -1e10, 2147483648, -2147483648, NaN, Infinity, -Infinity]);
    expect(Array.from(await x.toInt().data())).toEqual([
      2147483647, -2147483648, 2147483647, -2147483648, 0, 2147483647, -2147483648,
    ]);
  });

  it('converts across many workgroups', async () => {
    const values = Int32Array.from({ length: 70_001 }, (_, k) => k * 7 - 200_000);
    const out = mg.tensor(values).toFloat();
    expect(Array.from(await out.data())).toEqual(Array.from(values));
  });

  it('carries no gradient', () => {
    const x = mg.tensor([1.5, 2.5], { requiresGrad: true });
    const i = x.toInt();
    expect(i.requiresGrad).toBe(false);
    expect(i.toFloat().requiresGrad).toBe(false);
    expect(x.toFloat()).toBe(x);
  });
});
