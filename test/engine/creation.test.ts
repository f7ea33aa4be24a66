// Tensor creation and reading values back: host data, constants, ranges,
// identity matrices and seeded random draws.

import { describe, expect, it } from 'vitest';
import * as mg from '../../index';

describe('tensor()', () => {
  it('rejects ragged nested arrays', () => {
    expect(() =>
      mg.tensor([
        [1, 2, 3],
        [4, 5],
      ]),
    ).toThrow(/ragged; dimension 1 should have length 3/);
    expect(() => mg.tensor([[1, 2], 3] as mg.NestedArray)).toThrow(/ragged|expected a number/);
  });

  it('rejects data that does not fill the shape', () => {
    expect(() => mg.tensor([1, 2, 3], { shape: [2, 2] })).toThrow(
      /3 values do not fill shape \[2, ?2\]/,
    );
    expect(() => mg.tensor(new Float32Array(5), { shape: [2, 3] })).toThrow(/5 values/);
  });

  it('rejects non-integers for i32', () => {
    expect(() => mg.tensor([1.5], { dtype: 'i32' })).toThrow(/1.5 is not an integer/);
  });

  it('round-trips f32 through data, array and item', async () => {
    const values = [
      [0.5, -1.25, 3e-8],
      [1e20, -0, 7],
    ];
    const t = mg.tensor(values);
    expect(t.dtype).toBe('f32');
    expect(t.shape).toEqual([2, 3]);
    const data = await t.data();
    expect(data).toBeInstanceOf(Float32Array);
    expect(Array.from(data)).toEqual(Array.from(Float32Array.from(values.flat())));
    expect(await t.array()).toEqual(values.map((row) => Array.from(Float32Array.from(row))));
    expect(await mg.tensor([[[2.5]]]).item()).toBe(2.5);
    expect(await mg.tensor(4.25 as mg.NestedArray).array()).toBe(4.25);
    await expect(t.item()).rejects.toThrow(/shape \[2, ?3\].*exactly one element/);
  });

  it('round-trips i32 through data, array and item', async () => {
    const values = [2147483647, -2147483648, 0, -7];
    const t = mg.tensor(Int32Array.from(values), { shape: [2, 2] });
    expect(t.dtype).toBe('i32');
    const data = await t.data();
    expect(data).toBeInstanceOf(Int32Array);
    expect(Array.from(data)).toEqual(values);
    expect(await t.array()).toEqual([
      [2147483647, -2147483648],
      [0, -7],
    ]);
    expect(await mg.tensor([-3], { dtype: 'i32' }).item()).toBe(-3);
  });
});

describe('constants and ranges', () => {
  it('fills zeros, ones and full in both dtypes', async () => {
    expect(Array.from(await mg.zeros([3]).data())).toEqual([0, 0, 0]);
    expect(Array.from(await mg.ones([2, 2]).data())).toEqual([1, 1, 1, 1]);
    expect(Array.from(await mg.full([2], -2.5).data())).toEqual([-2.5, -2.5]);
    const ints = mg.full([3], -9, { dtype: 'i32' });
    expect(ints.dtype).toBe('i32');
    expect(Array.from(await ints.data())).toEqual([-9, -9, -9]);
    // Sizes that span many 64-wide workgroups and end mid-workgroup.
    const big = await mg.full([70001], 3).data();
    expect(big.every((v) => v === 3)).toBe(true);
    expect(mg.zeros([0, 4]).size).toBe(0);
  });

  it('counts with arange as torch.arange does', async () => {
    expect(Array.from(await mg.arange(5).data())).toEqual([0, 1, 2, 3, 4]);
    expect(mg.arange(5).dtype).toBe('i32');
    expect(Array.from(await mg.arange(2, -3, -2).data())).toEqual([2, 0, -2]);
    const fractional = mg.arange(0, 1, 0.25);
    expect(fractional.dtype).toBe('f32');
    expect(Array.from(await fractional.data())).toEqual([0, 0.25, 0.5, 0.75]);
    expect(mg.arange(3, 3).size).toBe(0);
    expect(() => mg.arange(0, 1, 0)).toThrow(/step must not be 0/);
  });

  it('builds square and rectangular identity matrices', async () => {
    expect(await mg.eye(3).array()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(await mg.eye(2, 4).array()).toEqual([
      [1, 0, 0, 0],
      [0, 1, 0, 0],
    ]);
  });
});

describe('random draws', () => {
  it('repeat under the same manualSeed', async () => {
    mg.manualSeed(123);
    const a = await mg.randn([1000]).data();
    const b = await mg.rand([1000]).data();
    mg.manualSeed(123);
    expect(Array.from(await mg.randn([1000]).data())).toEqual(Array.from(a));
    expect(Array.from(await mg.rand([1000]).data())).toEqual(Array.from(b));

    mg.manualSeed(124);
    const other = await mg.randn([1000]).data();
    expect(
      other.some((v, i) => v !== a[i]),
      'another seed gives other values',
    ).toBe(true);
    const next = await mg.randn([1000]).data();
    expect(
      next.some((v, i) => v !== other[i]),
      'consecutive draws differ',
    ).toBe(true);
  });

  it('restore a saved generator state', async () => {
    mg.manualSeed(5);
    const state = mg.getRngState();
    const first = Array.from(await mg.rand([64]).data());
    mg.setRngState(state);
    expect(Array.from(await mg.rand([64]).data())).toEqual(first);
  });

  it('give randn the requested mean and std over 100k draws', async () => {
    mg.manualSeed(2024);
    const n = 100_000;
    const values = await mg.randn([n], { mean: 2, std: 3 }).data();
    let sum = 0;
    for (const v of values) sum += v;
    const mean = sum / n;
    let squares = 0;
    for (const v of values) squares += (v - mean) ** 2;
    const std = Math.sqrt(squares / (n - 1));
    // The standard error of the mean is 3 / sqrt(1e5) ~ 0.0095; of the std, ~0.0067.
    expect(Math.abs(mean - 2)).toBeLessThan(0.05);
    expect(Math.abs(std - 3)).toBeLessThan(0.04);

    // Share within one standard deviation of a normal distribution: 68.27%.
    const within = values.filter((v) => Math.abs(v - 2) < 3).length / n;
    expect(Math.abs(within - 0.6827)).toBeLessThan(0.01);
  });

  it('keep rand in [low, high) with a uniform mean', async () => {
    mg.manualSeed(9);
    const n = 100_000;
    const values = await mg.rand([n], { low: -2, high: 6 }).data();
    expect(values.every((v) => v >= -2 && v < 6)).toBe(true);
    let sum = 0;
    for (const v of values) sum += v;
    const mean = sum / n;
    // Uniform(-2, 6): mean 2, std 8 / sqrt(12) ~ 2.31, standard error ~ 0.0073.
    expect(Math.abs(mean - 2)).toBeLessThan(0.04);
    const lowQuarter = values.filter((v) => v < 0).length / n;
    expect(Math.abs(lowQuarter - 0.25)).toBeLessThan(0.01);
  });

  it('reject a non-integer seed', () => {
    expect(() => mg.manualSeed(1.5)).toThrow(/must be an integer/);
  });
});
