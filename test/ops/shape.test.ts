import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

// sum and mean over axis sets, and the shape ops (reshape, expand, permute and the
// views built on them), against float64 references, with first and second derivatives.

const size = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);
const stridesOf = (shape: readonly number[]) => shape.map((_, i) => size(shape.slice(i + 1)));

function coords(index: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = index % shape[d];
    index = Math.floor(index / shape[d]);
  }
  return out;
}

function sumReference(values: Float64Array, shape: number[], axes: number[], keepdim: boolean) {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Float64Array(size(outShape));
  const outStrides = stridesOf(outShape);
  values.forEach((v, i) => {
    const c = coords(i, shape);
    out[c.reduce((o, x, d) => o + (axes.includes(d) ? 0 : x * outStrides[d]), 0)] += v;
  });
  return { values: out, shape: keepdim ? outShape : shape.filter((_, i) => !axes.includes(i)) };
}

function permuteReference(values: Float64Array, shape: number[], dims: number[]) {
  const outShape = dims.map((d) => shape[d]);
  const inStrides = stridesOf(shape);
  const out = new Float64Array(values.length);
  for (let i = 0; i < out.length; i++) {
    const c = coords(i, outShape);
    out[i] = values[c.reduce((o, x, k) => o + x * inStrides[dims[k]], 0)];
  }
  return out;
}

const sumCases: [number[], number[], boolean][] = [
  [[7], [0], false],
  [[3, 5], [1], true],
  [[3, 5], [0], false],
  [[2, 3, 4], [0, 2], false],
  [[2, 3, 4], [1], true],
  [[4, 1, 5, 6], [1, 3], true],
  [[1000, 67], [0], false],
  [[3, 100003], [1], false],
  [[5, 5, 5], [0, 1, 2], false],
];

describe('sum and mean', () => {
  for (const [shape, axes, keepdim] of sumCases) {
    it(`sum over ${JSON.stringify(axes)} of ${JSON.stringify(shape)} keepdim ${keepdim}`, async () => {
      const values = randomArray(size(shape), shape.length + axes.length);
      const expected = sumReference(values, shape, axes, keepdim);
      const out = mg.sum(mg.tensor(Float32Array.from(values), { shape }), axes, keepdim);
      expect(out.shape).toEqual(expected.shape);
      expectClose(await out.data(), expected.values, { atol: 1e-4, rtol: 1e-4 });

      const mean = mg.mean(mg.tensor(Float32Array.from(values), { shape }), axes, keepdim);
      const count = size(axes.map((a) => shape[a]));
      expectClose(
        await mean.data(),
        Array.from(expected.values, (v) => v / count),
        { atol: 1e-5, rtol: 1e-4 },
      );
    });
  }

  it('takes negative axes and sums everything by default', async () => {
    const x = mg.arange(0, 24, 1, { dtype: 'f32' }).reshape(2, 3, 4);
    expect(await x.sum(-1).array()).toEqual([
      [6, 22, 38],
      [54, 70, 86],
    ]);
    expect(await x.sum().item()).toBe(276);
    expect(x.sum().shape).toEqual([]);
  });

  it('gradcheck and gradgradcheck', async () => {
    const x = mg.tensor(Array.from(randomArray(24, 3)), { shape: [2, 3, 4], requiresGrad: true });
    const f = (a: mg.Tensor) => mg.mul(mg.sum(mg.mul(a, a), [0, 2], true), mg.mean(a, 1, true));
    expect(await mg.gradcheck(f, [x])).toBe(true);
    expect(await mg.gradgradcheck(f, [x])).toBe(true);
  });

  it('rejects bad axes naming the op and the range', () => {
    const x = mg.zeros([2, 3]);
    expect(() => mg.sum(x, 2)).toThrow(
      /sum: axis 2 is out of range for a tensor of rank 2; use an axis in \[-2, 1\]/,
    );
    expect(() => mg.sum(x, [1, -1])).toThrow(/sum: axes \[1, -1\] name the same dimension twice/);
  });
});

describe('shape ops', () => {
  const permutations: [number[], number[]][] = [
    [
      [2, 3],
      [1, 0],
    ],
    [
      [2, 3, 4],
      [2, 0, 1],
    ],
    [
      [3, 1, 5, 2],
      [3, 1, 0, 2],
    ],
    [
      [70, 65],
      [1, 0],
    ],
  ];
  for (const [shape, dims] of permutations) {
    it(`permute ${JSON.stringify(shape)} by ${JSON.stringify(dims)}`, async () => {
      const values = Float64Array.from(Float32Array.from(randomArray(size(shape), 17)));
      const out = mg.permute(mg.tensor(Float32Array.from(values), { shape }), dims);
      expect(out.shape).toEqual(dims.map((d) => shape[d]));
      expectClose(await out.data(), permuteReference(values, shape, dims), { atol: 0, rtol: 0 });
    });
  }

  it('expand broadcasts size-1 and new leading dimensions', async () => {
    const x = mg.tensor([[1], [2]]);
    expect(await mg.expand(x, [3, 2, 4]).array()).toEqual(
      Array.from({ length: 3 }, () => [
        [1, 1, 1, 1],
        [2, 2, 2, 2],
      ]),
    );
    expect(await x.expand(-1, 3).array()).toEqual([
      [1, 1, 1],
      [2, 2, 2],
    ]);
    expect(() => mg.expand(mg.zeros([2, 3]), [4, 3])).toThrow(
      /expand: shapes \[2, 3\] and \[4, 3\] cannot be broadcast/,
    );
  });

  it('reshape infers -1 and shares storage', async () => {
    const x = mg.arange(0, 12, 1, { dtype: 'f32' });
    const y = x.reshape(3, -1);
    expect(y.shape).toEqual([3, 4]);
    expect(y.buffer).toBe(x.buffer);
    expect(() => x.reshape(5, -1)).toThrow(
      /reshape: cannot infer the -1 in \[5, -1\] for a tensor of shape \[12\]/,
    );
    expect(() => x.reshape(5, 3)).toThrow(
      /cannot reshape a tensor of shape \[12\] \(12 elements\) to \[5, 3\]/,
    );
  });

  it('transpose, squeeze, unsqueeze and flatten', async () => {
    const x = mg.arange(0, 6, 1, { dtype: 'f32' }).reshape(1, 2, 3);
    expect(await x.transpose(1, 2).array()).toEqual([
      [
        [0, 3],
        [1, 4],
        [2, 5],
      ],
    ]);
    expect(await x.T.array()).toEqual([
      [
        [0, 3],
        [1, 4],
        [2, 5],
      ],
    ]);
    expect(x.squeeze().shape).toEqual([2, 3]);
    expect(x.squeeze(1).shape).toEqual([1, 2, 3]);
    expect(x.unsqueeze(-1).shape).toEqual([1, 2, 3, 1]);
    expect(x.flatten(1).shape).toEqual([1, 6]);
    expect(mg.flatten(x).shape).toEqual([6]);
  });

  it('works for i32 tensors', async () => {
    const x = mg.tensor(Int32Array.from([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    expect(await x.T.array()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect((await x.expand(2, 2, 3).data()).constructor).toBe(Int32Array);
  });

  it('gradcheck and gradgradcheck through permute, expand and reshape', async () => {
    const x = mg.tensor(Array.from(randomArray(12, 9)), { shape: [2, 3, 2], requiresGrad: true });
    const w = mg.tensor(Array.from(randomArray(2, 10)), { shape: [2, 1], requiresGrad: true });
    const f = (a: mg.Tensor, b: mg.Tensor) =>
      mg
        .mul(a.permute(2, 0, 1).reshape(2, 6), b.expand(2, 6))
        .tanh()
        .reshape(3, 4)
        .transpose(0, 1);
    expect(await mg.gradcheck(f, [x, w])).toBe(true);
    expect(await mg.gradgradcheck(f, [x, w])).toBe(true);
  });
});
