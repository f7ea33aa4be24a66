// Elementwise, copy and reduction kernels on tensors larger than one pass of
// their grid-stride loops, with layouts whose dimensions the launchers merge,
// against values computed here on the host.

import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { Rng } from '../../data/rng';

// 4 x 40 x 65 x 63 = 655,200 elements: more than one pass of 2,048 workgroups x 64
// invocations x 4 elements covers.
const SHAPE = [4, 40, 65, 63];
const SIZE = SHAPE.reduce((a, b) => a * b, 1);

function values(count: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: count }, () => rng.uniform(-2, 2));
}

/** Returns the row-major coordinates of flat index i in `shape`. */
function coords(i: number, shape: readonly number[]): number[] {
  const out: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return out;
}

/** Returns the flat index of coordinates c in `shape`, with size-1 dimensions broadcast. */
function flatIndex(c: readonly number[], shape: readonly number[]): number {
  return c.reduce((index, coord, d) => index * shape[d] + (shape[d] === 1 ? 0 : coord), 0);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++)
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
  expect(worst).toBeLessThan(tol);
}

describe('kernels on large strided layouts', () => {
  const xs = values(SIZE, 1);
  const x = mg.tensor(xs, { shape: SHAPE });

  it('broadcasts binary ops per channel and per row', async () => {
    for (const bShape of [
      [1, 40, 1, 1],
      [4, 1, 65, 1],
      [1, 1, 1, 63],
    ]) {
      const count = bShape.reduce((a, b) => a * b, 1);
      const bs = values(count, 2);
      const b = mg.tensor(bs, { shape: bShape });
      const expected = xs.map((v, i) => v * bs[flatIndex(coords(i, SHAPE), bShape)]);
      const product = mg.mul(x, b);
      expectClose(await product.data(), expected);
      const reversed = mg.sub(b, x);
      expectClose(
        await reversed.data(),
        xs.map((v, i) => bs[flatIndex(coords(i, SHAPE), bShape)] - v),
      );
      for (const t of [b, product, reversed]) t.dispose();
    }
  });

  it('selects with where on a broadcast condition', async () => {
    const cs = values(40, 3).map((v) => (v > 0 ? 1 : 0));
    const condition = mg.tensor(cs, { shape: [1, 40, 1, 1] });
    const zero = mg.zeros([1]);
    const out = mg.where(condition, x, zero);
    expectClose(
      await out.data(),
      xs.map((v, i) => (cs[coords(i, SHAPE)[1]] ? v : 0)),
    );
    for (const t of [condition, zero, out]) t.dispose();
  });

  it('applies unary ops past one pass', async () => {
    const out = mg.relu(x);
    expectClose(
      await out.data(),
      xs.map((v) => Math.max(v, 0)),
    );
    out.dispose();
  });

  it('expands and permutes', async () => {
    const cs = values(40, 4);
    const c = mg.tensor(cs, { shape: [1, 40, 1, 1] });
    const expanded = c.expand(SHAPE);
    expectClose(
      await expanded.data(),
      Float32Array.from({ length: SIZE }, (_, i) => cs[coords(i, SHAPE)[1]]),
    );
    const permuted = x.permute([0, 2, 1, 3]);
    const permutedShape = [4, 65, 40, 63];
    expectClose(
      await permuted.data(),
      Float32Array.from({ length: SIZE }, (_, i) => {
        const [n, h, ch, w] = coords(i, permutedShape);
        return xs[flatIndex([n, ch, h, w], SHAPE)];
      }),
    );
    for (const t of [c, expanded, permuted]) t.dispose();
  });

  it('reduces over kept and merged axes', async () => {
    const perChannel = new Float64Array(40);
    const perImageColumn = new Float64Array(4 * 63);
    for (let i = 0; i < SIZE; i++) {
      const [n, ch, , w] = coords(i, SHAPE);
      perChannel[ch] += xs[i];
      perImageColumn[n * 63 + w] += xs[i];
    }
    const channels = mg.sum(x, [0, 2, 3]);
    expectClose(await channels.data(), perChannel, 1e-4);
    const columns = mg.sum(x, [1, 2]);
    expectClose(await columns.data(), perImageColumn, 1e-4);

    // Rows of 9 reduced elements, shorter than the 64 invocations that share a row sum.
    const smallShape = [300, 8, 3, 3];
    const smallValues = values(300 * 8 * 9, 5);
    const small = mg.tensor(smallValues, { shape: smallShape });
    const perSmallChannel = new Float64Array(8);
    smallValues.forEach((v, i) => (perSmallChannel[coords(i, smallShape)[1]] += v));
    const smallChannels = mg.sum(small, [0, 2, 3]);
    expectClose(await smallChannels.data(), perSmallChannel, 1e-4);
    small.dispose();
    smallChannels.dispose();

    const argmax = mg.argmax(x, 1);
    const expected = new Int32Array(4 * 65 * 63);
    for (let o = 0; o < expected.length; o++) {
      const [n, h, w] = coords(o, [4, 65, 63]);
      let best = 0;
      for (let ch = 1; ch < 40; ch++)
        if (xs[flatIndex([n, ch, h, w], SHAPE)] > xs[flatIndex([n, best, h, w], SHAPE)]) best = ch;
      expected[o] = best;
    }
    expect(Array.from(await argmax.data())).toEqual(Array.from(expected));
    for (const t of [channels, columns, argmax]) t.dispose();
  });
});
