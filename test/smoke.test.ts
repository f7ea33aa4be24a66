import { describe, expect, it } from 'vitest';
import * as mg from '../index';

describe('smoke', () => {
  it('adds and differentiates twice', async () => {
    const x = mg.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(x).mul(x).sum();
    expect(await y.item()).toBeCloseTo(36);
    const [g] = mg.grad(y, x, { createGraph: true });
    expect(Array.from(await g!.data())).toEqual([3, 12, 27]);
    const [h] = mg.grad(g!.sum(), x);
    expect(Array.from(await h!.data())).toEqual([6, 12, 18]);
  });
  it('matmul', async () => {
    const a = mg.tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const b = mg.tensor([
      [1, 0, 2],
      [0, 1, 3],
    ]);
    expect(await a.matmul(b).array()).toEqual([
      [1, 2, 8],
      [3, 4, 18],
      [5, 6, 28],
    ]);
    expect(await mg.matmulT(a, a, true, false).array()).toEqual([
      [35, 44],
      [44, 56],
    ]);
  });
  it('reduce and permute', async () => {
    const x = mg.arange(0, 24, 1, { dtype: 'f32' }).reshape(2, 3, 4);
    expect(await x.sum([0, 2]).array()).toEqual([60, 92, 124]);
    expect(await x.permute(2, 0, 1).reshape(4, 6).sum(1).array()).toEqual([60, 66, 72, 78]);
    expect(await mg.randn([1000]).mean().item()).toBeLessThan(0.2);
  });
});

describe('gradcheck', () => {
  it('passes for tanh and mul, second order too', async () => {
    const x = mg.tensor(
      [
        [0.3, -0.7, 1.1],
        [0.2, 0.5, -1.4],
      ],
      { requiresGrad: true },
    );
    const w = mg.tensor([[0.5], [-1.0], [2.0]], { requiresGrad: true });
    const f = (a: mg.Tensor, b: mg.Tensor) => a.matmul(b).tanh().mul(a.sum(1, true));
    expect(await mg.gradcheck(f, [x, w])).toBe(true);
    expect(await mg.gradgradcheck(f, [x, w])).toBe(true);
  });
  it('detects a wrong gradient', async () => {
    const x = mg.tensor([0.3, -0.7], { requiresGrad: true });
    // detach() hides the second term from autograd, so the analytic gradient is 2 where the true one is 3.
    await expect(mg.gradcheck((a) => a.mul(2).add(a.detach()), [x])).rejects.toThrow(
      /gradcheck failed/,
    );
  });
});
