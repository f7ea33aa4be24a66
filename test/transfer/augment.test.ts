import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { augment, augmentWith } from '../../algorithms/transfer/augment';
import { AUGMENT_STRIDE } from '../../kernels/augment';
import { Rng } from '../../data/rng';
import { expectClose, randomArray } from '../helpers';

// The augmentation kernels on hand-chosen parameters: each stage alone, checked
// against the same transform computed on the host.

const [N, C, H, W] = [2, 2, 5, 6];
const values = Array.from(randomArray(N * C * H * W, 11, 0, 1));
const at = (n: number, c: number, y: number, x: number) => values[((n * C + c) * H + y) * W + x];

function params(overrides: Record<number, number>): Float32Array {
  const out = new Float32Array(N * AUGMENT_STRIDE);
  for (let n = 0; n < N; n++) {
    out.set([0, 0, W, H], n * AUGMENT_STRIDE);
    for (const [key, value] of Object.entries(overrides))
      out[n * AUGMENT_STRIDE + Number(key)] = value;
  }
  return out;
}

async function run(p: Float32Array): Promise<Float32Array> {
  const x = mg.tensor(values, { shape: [N, C, H, W] });
  return (await augmentWith(x, p, 1).data()) as Float32Array;
}

describe('augment kernels', () => {
  it('whole-image crop is the identity', async () => {
    expectClose(await run(params({})), values, { atol: 1e-6 });
  });

  it('flip mirrors each row', async () => {
    const expected = values.map((_, i) => {
      const x = i % W;
      const y = Math.floor(i / W) % H;
      const c = Math.floor(i / (W * H)) % C;
      const n = Math.floor(i / (W * H * C));
      return at(n, c, y, W - 1 - x);
    });
    expectClose(await run(params({ 4: 1 })), expected, { atol: 1e-6 });
  });

  it('crop of the left half stretches it', async () => {
    // A box of width W/2 maps output column x to source column (x + 0.5) / 2 - 0.5.
    const out = await run(params({ 2: W / 2 }));
    const sx = (1 + 0.5) / 2 - 0.5;
    const expected = at(0, 0, 2, 0) * (1 - sx) + at(0, 0, 2, 1) * sx;
    expect(out[2 * W + 1]).toBeCloseTo(expected, 5);
  });

  it('erasing fills the box', async () => {
    const out = await run(params({ 7: 1, 8: 2, 9: 3, 10: 2, 11: 0.25 }));
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const inside = x >= 1 && x < 4 && y >= 2 && y < 4;
        expect(out[y * W + x]).toBeCloseTo(inside ? 0.25 : at(0, 0, y, x), 5);
      }
  });

  it('blur keeps a constant image and smooths', async () => {
    const out = await run(params({ 5: 1 }));
    // The Gaussian-weighted mean of the clamped 5x5 window at (2, 2).
    let total = 0;
    let weights = 0;
    for (let dy = -2; dy <= 2; dy++)
      for (let dx = -2; dx <= 2; dx++) {
        const w = Math.exp(-(dx * dx + dy * dy) / 2);
        total +=
          w * at(0, 0, Math.min(Math.max(2 + dy, 0), H - 1), Math.min(Math.max(2 + dx, 0), W - 1));
        weights += w;
      }
    expect(out[2 * W + 2]).toBeCloseTo(total / weights, 5);
  });

  it('noise has the requested spread', async () => {
    const big = mg.zeros([8, 1, 28, 28]);
    const p = new Float32Array(8 * AUGMENT_STRIDE);
    for (let n = 0; n < 8; n++) p.set([0, 0, 28, 28, 0, 0, 0.5], n * AUGMENT_STRIDE);
    const out = (await augmentWith(big, p, 3).data()) as Float32Array;
    const mean = out.reduce((s, v) => s + v, 0) / out.length;
    const std = Math.sqrt(out.reduce((s, v) => s + (v - mean) ** 2, 0) / out.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(std).toBeGreaterThan(0.47);
    expect(std).toBeLessThan(0.53);
  });

  it('seeded random views repeat', async () => {
    const x = mg.tensor(values, { shape: [N, C, H, W] });
    const a = (await augment(x, new Rng(9)).data()) as Float32Array;
    const b = (await augment(x, new Rng(9)).data()) as Float32Array;
    const c = (await augment(x, new Rng(10)).data()) as Float32Array;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });
});
