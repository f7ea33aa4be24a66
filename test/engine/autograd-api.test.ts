// The autograd API around the backward rules: grad options, graph freeing,
// noGrad, detach and the errors for each misuse.

import { describe, expect, it } from 'vitest';
import * as mg from '../../index';

describe('grad', () => {
  it('needs gradOutputs for a non-scalar output', async () => {
    const x = mg.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(x);
    expect(() => mg.grad(y, x)).toThrow(/gradOutputs/);

    const [g] = mg.grad(y, x, { gradOutputs: mg.tensor([1, 0, -1]) });
    expect(Array.from(await g!.data())).toEqual([2, 0, -6]);
  });

  it('rejects gradOutputs of the wrong shape', () => {
    const x = mg.tensor([1, 2, 3], { requiresGrad: true });
    expect(() => mg.grad(x.mul(2), x, { gradOutputs: mg.ones([2]) })).toThrow(
      /gradOutputs\[0\] has shape \[2\] but output 0 has shape \[3\]/,
    );
  });

  it('rejects an unused input unless allowUnused', async () => {
    const x = mg.tensor([1, 2], { requiresGrad: true });
    const unused = mg.tensor([5], { requiresGrad: true });
    expect(() => mg.grad(x.sum(), [x, unused], { retainGraph: true })).toThrow(
      /input 1 \(shape \[1\]\) is not used.*allowUnused/,
    );

    const [gx, gu] = mg.grad(x.sum(), [x, unused], { allowUnused: true });
    expect(Array.from(await gx!.data())).toEqual([1, 1]);
    expect(gu).toBeNull();
  });

  it('rejects an input that does not require grad', () => {
    const x = mg.tensor([1, 2]);
    const w = mg.tensor([3, 4], { requiresGrad: true });
    expect(() => mg.grad(x.mul(w).sum(), x)).toThrow(/input 0.*does not require grad/);
  });

  it('frees the graph unless retainGraph', async () => {
    const x = mg.tensor([2], { requiresGrad: true });
    const y = x.mul(x).mul(x).sum();
    const [first] = mg.grad(y, x, { retainGraph: true });
    const [second] = mg.grad(y, x);
    expect(await first!.item()).toBe(12);
    expect(await second!.item()).toBe(12);
    expect(() => mg.grad(y, x)).toThrow(/already freed.*retainGraph: true/);
  });

  it('differentiates to third order with createGraph', async () => {
    // y = x^4: y' = 4x^3, y'' = 12x^2, y''' = 24x.
    const x = mg.tensor([1.5], { requiresGrad: true });
    const y = x.pow(4).sum();
    const [d1] = mg.grad(y, x, { createGraph: true });
    const [d2] = mg.grad(d1!.sum(), x, { createGraph: true });
    const [d3] = mg.grad(d2!.sum(), x);
    expect(await d1!.item()).toBeCloseTo(4 * 1.5 ** 3, 4);
    expect(await d2!.item()).toBeCloseTo(12 * 1.5 ** 2, 4);
    expect(await d3!.item()).toBeCloseTo(24 * 1.5, 4);
  });

  it('accumulates into .grad with backward', async () => {
    const x = mg.tensor([1, -2], { requiresGrad: true });
    x.mul(3).sum().backward();
    x.mul(x).sum().backward();
    expect(Array.from(await x.grad!.data())).toEqual([3 + 2, 3 - 4]);
  });
});

describe('grad mode', () => {
  it('noGrad records nothing', () => {
    const x = mg.tensor([1, 2], { requiresGrad: true });
    const y = mg.noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expect(mg.isGradEnabled()).toBe(true);
    expect(mg.noGrad(() => mg.isGradEnabled())).toBe(false);
    expect(mg.noGrad(() => mg.enableGrad(() => x.mul(2).requiresGrad))).toBe(true);
  });

  it('detach cuts the graph and shares storage', async () => {
    const x = mg.tensor([3], { requiresGrad: true });
    const doubled = x.mul(2);
    const d = doubled.detach();
    expect(d.buffer, 'same GPU buffer').toBe(doubled.buffer);
    expect(d.requiresGrad).toBe(false);
    expect(d.isLeaf).toBe(true);
    // Only the direct x term carries a gradient: d(x * stop(2x))/dx = 2x = 6.
    const [g] = mg.grad(x.mul(d).sum(), x);
    expect(await g!.item()).toBe(6);
  });

  it('requiresGrad_ rejects i32 tensors', () => {
    const i = mg.arange(3);
    expect(i.dtype).toBe('i32');
    expect(() => i.requiresGrad_()).toThrow(/Only f32 tensors can require grad.*i32/);
    expect(() => mg.zeros([2], { dtype: 'i32', requiresGrad: true })).toThrow(/i32/);
  });

  it('requiresGrad_(false) rejects a computed tensor', () => {
    const x = mg.tensor([1], { requiresGrad: true });
    expect(() => x.mul(2).requiresGrad_(false)).toThrow(/leaves only.*detach/);
  });
});
