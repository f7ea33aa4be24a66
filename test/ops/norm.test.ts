import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

function t(shape: number[], seed: number, requiresGrad = true, low = -1, high = 1): mg.Tensor {
  const data = Float32Array.from(
    randomArray(
      shape.reduce((a, b) => a * b, 1),
      seed,
      low,
      high,
    ),
  );
  return mg.tensor(data, { shape, requiresGrad });
}

// BatchNorm spelled out in ordinary ops, the reference for the fused version.
function composedBatchNorm(
  x: mg.Tensor,
  w: mg.Tensor,
  b: mg.Tensor,
  axes: number[],
  eps: number,
): mg.Tensor {
  const mean = mg.mean(x, axes, true);
  const centred = mg.sub(x, mean);
  const variance = mg.mean(mg.mul(centred, centred), axes, true);
  return mg.add(mg.mul(mg.div(centred, mg.sqrt(mg.addScalar(variance, eps))), w), b);
}

describe('mulAdd and mulAdd2', () => {
  it('per-channel coefficients', async () => {
    const x = t([2, 3, 2], 1, false);
    const y = t([2, 3, 2], 2, false);
    const [a, b, c] = [t([1, 3, 1], 3, false), t([1, 3, 1], 4, false), t([1, 3, 1], 5, false)];
    const [xs, ys, as, bs, cs] = await Promise.all([x, y, a, b, c].map((v) => v.data()));
    const channel = (i: number) => Math.floor(i / 2) % 3;
    expectClose(
      await mg.mulAdd(x, a, c).data(),
      Array.from(xs, (v, i) => v * as[channel(i)] + cs[channel(i)]),
    );
    expectClose(
      await mg.mulAdd2(x, a, y, b, c).data(),
      Array.from(xs, (v, i) => v * as[channel(i)] + ys[i] * bs[channel(i)] + cs[channel(i)]),
    );
  });

  it('pass gradcheck and gradgradcheck', async () => {
    const x = t([3, 4, 5], 6);
    const y = t([3, 4, 5], 7);
    const [a, b, c] = [t([3, 1, 5], 8), t([3, 1, 5], 9), t([3, 1, 5], 10)];
    expect(await mg.gradcheck(mg.mulAdd, [x, a, c])).toBe(true);
    expect(await mg.gradgradcheck(mg.mulAdd, [x, a, c])).toBe(true);
    expect(await mg.gradcheck(mg.mulAdd2, [x, a, y, b, c])).toBe(true);
    expect(await mg.gradgradcheck(mg.mulAdd2, [x, a, y, b, c])).toBe(true);
  });

  it('coefficients of the input shape', async () => {
    const x = t([2, 3], 31);
    const [a, c] = [t([2, 3], 32), t([2, 3], 33)];
    expect(await mg.gradcheck(mg.mulAdd, [x, a, c])).toBe(true);
    expect(await mg.gradgradcheck(mg.mulAdd, [x, a, c])).toBe(true);
  });

  it('coefficients that do not broadcast', () => {
    const x = t([2, 3, 4], 11, false);
    expect(() => mg.mulAdd(x, t([3, 1], 12, false), t([3, 1], 13, false))).toThrow(
      /coefficients of shape \[3, 1\] do not broadcast to the input's \[2, 3, 4\]/,
    );
    expect(() => mg.mulAdd(x, t([1, 3, 1], 12, false), t([1, 1, 4], 13, false))).toThrow(
      /every coefficient needs one shape; got \[1, 3, 1\] and \[1, 1, 4\]/,
    );
  });
});

describe('sumProduct and sumSquaredDeviation', () => {
  it('values over two axes', async () => {
    const x = t([4, 3, 5], 14, false);
    const y = t([4, 3, 5], 15, false);
    const expectedProduct = mg.sum(mg.mul(x, y), [0, 2], true);
    expectClose(await mg.sumProduct(x, y, [0, 2], true).data(), await expectedProduct.data());
    const m = mg.mean(x, [0, 2], true);
    const deviation = mg.sub(x, m);
    expectClose(
      await mg.sumSquaredDeviation(x, m, [0, 2]).data(),
      await mg.sum(mg.mul(deviation, deviation), [0, 2]).data(),
    );
  });

  it('pass gradcheck and gradgradcheck', async () => {
    const x = t([4, 3, 5], 16);
    const y = t([4, 3, 5], 17);
    const m = t([1, 3, 1], 18);
    const product = (p: mg.Tensor, q: mg.Tensor) => mg.sumProduct(p, q, [0, 2]);
    const squares = (p: mg.Tensor, q: mg.Tensor) => mg.sumSquaredDeviation(p, q, [0, 2], true);
    expect(await mg.gradcheck(product, [x, y])).toBe(true);
    expect(await mg.gradgradcheck(product, [x, y])).toBe(true);
    expect(await mg.gradcheck(squares, [x, m])).toBe(true);
    expect(await mg.gradgradcheck(squares, [x, m])).toBe(true);
  });

  it('second input of the wrong shape', () => {
    const x = t([4, 3, 5], 19, false);
    expect(() => mg.sumSquaredDeviation(x, t([3], 20, false), [0, 2])).toThrow(
      'sumSquaredDeviation: the second input has shape [3]; it needs shape [1, 3, 1].',
    );
  });
});

describe('batchNorm', () => {
  const eps = 1e-5;
  // Per-channel statistics of [N, C, H, W] and of the batched view's rows [T, n, C].
  const layouts = [
    { shape: [4, 3, 2, 3], axes: [0, 2, 3] },
    { shape: [2, 5, 3], axes: [1] },
  ];

  for (const { shape, axes } of layouts) {
    const statShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));

    it(`matches composed ops, [${shape.join(', ')}]`, async () => {
      // An offset mean checks that the variance is taken about the mean.
      const x = t(shape, 21, true, 2, 4);
      const w = t(statShape, 22, true, 0.5, 1.5);
      const b = t(statShape, 23);
      const probe = t(shape, 24, false);
      const fused = mg.batchNorm(x, w, b, axes, eps);
      const composed = composedBatchNorm(x, w, b, axes, eps);
      expectClose(await fused.output.data(), await composed.data(), { atol: 1e-4 });
      expectClose(await fused.mean.data(), await mg.mean(x, axes, true).data());

      // First-order gradients, then the gradient of their squared norm (second order).
      const gradients = (y: mg.Tensor) =>
        mg.grad(mg.sum(mg.mul(y, probe)), [x, w, b], { createGraph: true }) as mg.Tensor[];
      const fusedGrads = gradients(fused.output);
      const composedGrads = gradients(composed);
      for (let i = 0; i < 3; i++)
        expectClose(await fusedGrads[i].data(), await composedGrads[i].data(), { atol: 1e-4 });
      const squaredNorm = (gs: mg.Tensor[]) => gs.map((g) => mg.sum(mg.mul(g, g))).reduce(mg.add);
      const fusedSecond = mg.grad(squaredNorm(fusedGrads), [x, w]) as mg.Tensor[];
      const composedSecond = mg.grad(squaredNorm(composedGrads), [x, w]) as mg.Tensor[];
      for (let i = 0; i < 2; i++)
        expectClose(await fusedSecond[i].data(), await composedSecond[i].data(), {
          atol: 1e-3,
          rtol: 1e-3,
        });
    });
  }

  it('passes gradcheck and gradgradcheck', async () => {
    const x = t([3, 2, 2, 2], 25);
    const w = t([1, 2, 1, 1], 26, true, 0.5, 1.5);
    const b = t([1, 2, 1, 1], 27);
    const fn = (p: mg.Tensor, q: mg.Tensor, r: mg.Tensor) =>
      mg.batchNorm(p, q, r, [0, 2, 3], eps).output;
    expect(await mg.gradcheck(fn, [x, w, b])).toBe(true);
    expect(await mg.gradgradcheck(fn, [x, w, b])).toBe(true);
  });

  it('one value per channel', () => {
    const x = t([1, 3, 1, 1], 34, false);
    const stat = t([1, 3, 1, 1], 35, false);
    expect(() => mg.batchNorm(x, stat, stat, [0, 2, 3], eps)).toThrow(
      'batchNorm: axes [0, 2, 3] of an input [1, 3, 1, 1] hold 1 value(s) per channel',
    );
  });

  it('negative and single axes', async () => {
    const x = t([3, 2, 2], 36);
    const w = t([1, 2, 1], 37, true, 0.5, 1.5);
    const b = t([1, 2, 1], 38);
    const negative = mg.batchNorm(x, w, b, [-3, -1], eps).output;
    expectClose(await negative.data(), await mg.batchNorm(x, w, b, [0, 2], eps).output.data());
    const rows = t([4, 3], 39);
    const single = mg.batchNorm(rows, t([1, 3], 40), t([1, 3], 41), 0, eps).output;
    expectClose(
      await single.data(),
      await mg.batchNorm(rows, t([1, 3], 40), t([1, 3], 41), [0], eps).output.data(),
    );
  });

  it('invalid arguments', () => {
    const x = t([4, 3], 42, false);
    const stat = t([1, 3], 43, false);
    expect(() => mg.batchNorm(x, 1 as unknown as mg.Tensor, stat, [0], eps)).toThrow(
      'batchNorm: weight must be a Tensor, got number;',
    );
    expect(() => mg.batchNorm(x, stat, stat, [0], -1)).toThrow(
      'batchNorm: eps -1 is invalid; use a small non-negative number such as 1e-5.',
    );
    expect(() => mg.batchNorm(x, stat, stat, [0], NaN)).toThrow('batchNorm: eps NaN is invalid');
    expect(() => mg.batchNorm(x, stat, stat, [5], eps)).toThrow(
      'batchNorm: axis 5 is out of range',
    );
    expect(() => mg.batchNorm(mg.zeros([0, 3]), stat, stat, [0], eps)).toThrow(
      'hold 0 value(s) per channel',
    );
    expect(() => mg.batchNorm(mg.zeros([4, 3], { dtype: 'i32' }), stat, stat, [0], eps)).toThrow(
      'batchNorm: x is i32; convert it with toFloat() first.',
    );
    expect(() => mg.mulAdd(x, 2 as unknown as mg.Tensor, stat)).toThrow(
      'mulAdd: a must be a Tensor, got number;',
    );
    expect(() => mg.sumProduct(x, 3 as unknown as mg.Tensor, [0])).toThrow(
      'sumProduct: y must be a Tensor, got number;',
    );
    expect(() => mg.sumSquaredDeviation(x, 1 as unknown as mg.Tensor, [0])).toThrow(
      'sumSquaredDeviation: m must be a Tensor, got number;',
    );
  });

  it('weight of the wrong shape', () => {
    const x = t([4, 3, 2, 2], 28, false);
    expect(() => mg.batchNorm(x, t([3], 29, false), t([3], 30, false), [0, 2, 3], eps)).toThrow(
      'batchNorm: weight has shape [3]; reduce axes [0, 2, 3] of an input [4, 3, 2, 2] need it shaped [1, 3, 1, 1].',
    );
  });
});
