import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

// Gradient reversal: identity forward, -lambda times the incoming gradient
// backward, and second derivatives that pass through the reversal again.

describe('gradReverse', () => {
  const values = Array.from(randomArray(12, 7, -2, 2));

  it('forward is the identity', async () => {
    const x = mg.tensor(values, { shape: [3, 4], requiresGrad: true });
    const y = mg.gradReverse(x, 0.7);
    expect(y.shape).toEqual([3, 4]);
    expectClose(await y.data(), await x.data(), { atol: 0, rtol: 0 });
  });

  it('backward scales the gradient by -lambda', async () => {
    const lambda = 0.7;
    const x = mg.tensor(values, { shape: [3, 4], requiresGrad: true });
    const weights = mg.tensor(Array.from(randomArray(12, 8)), { shape: [3, 4] });
    // L = sum(w * gradReverse(x)^2): dL/dx = -lambda * 2 w x.
    const loss = mg.sum(mg.mul(weights, mg.square(mg.gradReverse(x, lambda))));
    const [g] = mg.grad(loss, [x]);
    const w = await weights.data();
    expectClose(
      await g!.data(),
      values.map((v, i) => -lambda * 2 * w[i] * v),
    );
  });

  it('second derivative passes the reversal twice', async () => {
    const lambda = 0.4;
    const x = mg.tensor(values, { shape: [12], requiresGrad: true });
    // f(y) = sum(y^3): dL/dx = -lambda 3 x^2, and d/dx sum(dL/dx) = -lambda 6 y (-lambda) = 6 lambda^2 x.
    const loss = mg.sum(mg.pow(mg.gradReverse(x, lambda), 3));
    const [g] = mg.grad(loss, [x], { createGraph: true });
    expectClose(
      await g!.data(),
      values.map((v) => -lambda * 3 * v * v),
    );
    const [gg] = mg.grad(mg.sum(g!), [x]);
    expectClose(
      await gg!.data(),
      values.map((v) => 6 * lambda * lambda * v),
    );
  });

  it('lambda zero blocks the gradient', async () => {
    const x = mg.tensor(values, { shape: [12], requiresGrad: true });
    const [g] = mg.grad(mg.sum(mg.gradReverse(x, 0)), [x]);
    expectClose(await g!.data(), new Array(12).fill(0), { atol: 0, rtol: 0 });
  });

  it('rejects a non-finite lambda', () => {
    const x = mg.tensor([1, 2]);
    expect(() => mg.gradReverse(x, Number.NaN)).toThrow(/lambda NaN is invalid/);
  });
});
