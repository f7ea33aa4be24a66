import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

type Pair = [number, number];

interface PoolCase {
  name: string;
  x: number[];
  kernelSize: number | Pair;
  stride?: number | Pair;
  padding?: number | Pair;
}

const pair = (v: number | Pair): Pair => (typeof v === 'number' ? [v, v] : v);

interface Windows {
  shape: number[];
  /** For each output element, the flat input positions of its window inside the input, and the padded window size. */
  each(visit: (out: number, plane: number, positions: number[], padded: number) => void): void;
}

function windows(c: PoolCase): Windows {
  const [N, C, H, W] = c.x;
  const [KH, KW] = pair(c.kernelSize);
  const [SH, SW] = pair(c.stride ?? c.kernelSize);
  const [PH, PW] = pair(c.padding ?? 0);
  const OH = Math.floor((H + 2 * PH - KH) / SH) + 1;
  const OW = Math.floor((W + 2 * PW - KW) / SW) + 1;
  return {
    shape: [N, C, OH, OW],
    each(visit) {
      for (let plane = 0; plane < N * C; plane++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            const positions: number[] = [];
            const h0 = oh * SH - PH;
            const w0 = ow * SW - PW;
            for (let h = h0; h < h0 + KH; h++)
              for (let w = w0; w < w0 + KW; w++)
                if (h >= 0 && h < H && w >= 0 && w < W) positions.push(h * W + w);
            const padded = (Math.min(h0 + KH, H + PH) - h0) * (Math.min(w0 + KW, W + PW) - w0);
            visit((plane * OH + oh) * OW + ow, plane, positions, padded);
          }
    },
  };
}

/** float64 max pooling: values, first-argmax indices and the input gradient for gy. */
function maxPoolRef(x: Float64Array, c: PoolCase, gy: Float64Array) {
  const [, , H, W] = c.x;
  const win = windows(c);
  const size = win.shape.reduce((a, b) => a * b, 1);
  const values = new Float64Array(size);
  const indices = new Int32Array(size);
  const dx = new Float64Array(x.length);
  win.each((o, plane, positions) => {
    let best = positions[0];
    for (const at of positions) if (x[plane * H * W + at] > x[plane * H * W + best]) best = at;
    values[o] = x[plane * H * W + best];
    indices[o] = best;
    dx[plane * H * W + best] += gy[o];
  });
  return { values, indices, dx, shape: win.shape };
}

/** float64 average pooling and its input gradient for gy. */
function avgPoolRef(x: Float64Array, c: PoolCase, countIncludePad: boolean, gy: Float64Array) {
  const [, , H, W] = c.x;
  const win = windows(c);
  const values = new Float64Array(win.shape.reduce((a, b) => a * b, 1));
  const dx = new Float64Array(x.length);
  win.each((o, plane, positions, padded) => {
    const divisor = countIncludePad ? padded : positions.length;
    let total = 0;
    for (const at of positions) {
      total += x[plane * H * W + at];
      dx[plane * H * W + at] += gy[o] / divisor;
    }
    values[o] = total / divisor;
  });
  return { values, dx, shape: win.shape };
}

const cases: PoolCase[] = [
  { name: '2x2 on even sizes', x: [2, 3, 6, 8], kernelSize: 2 },
  { name: '2x2 on odd sizes', x: [3, 2, 7, 9], kernelSize: 2 },
  {
    name: '3x3 stride 2 padding 1 (overlapping)',
    x: [1, 4, 7, 9],
    kernelSize: 3,
    stride: 2,
    padding: 1,
  },
  { name: '3x3 stride 1 padding 1', x: [2, 2, 5, 6], kernelSize: 3, stride: 1, padding: 1 },
  {
    name: 'rectangular windows',
    x: [2, 3, 9, 10],
    kernelSize: [3, 2],
    stride: [2, 3],
    padding: [1, 0],
  },
  { name: 'many workgroups', x: [8, 16, 28, 28], kernelSize: 2 },
  { name: '3x3 stride 3, windows tiling', x: [2, 3, 10, 11], kernelSize: 3, stride: 3 },
  // 663,552 inputs: the adjoint's grid-stride loop makes more than one pass.
  { name: 'several grid-stride passes', x: [16, 32, 36, 36], kernelSize: 2 },
];

function upload(data: Float64Array, shape: number[], requiresGrad = false): mg.Tensor {
  return mg.tensor(Float32Array.from(data), { shape, requiresGrad });
}

describe('maxPool2d', () => {
  for (const [k, c] of cases.entries()) {
    it(c.name, async () => {
      // Rounded to f32 first, so the selected values compare exactly.
      const xData = Float64Array.from(
        Float32Array.from(
          randomArray(
            c.x.reduce((a, b) => a * b, 1),
            500 + k,
          ),
        ),
      );
      const options = { kernelSize: c.kernelSize, stride: c.stride, padding: c.padding };
      const x = upload(xData, c.x, true);
      const y = mg.maxPool2d(x, options);
      const gyData = randomArray(y.size, 600 + k);
      const expected = maxPoolRef(xData, c, gyData);
      expect(y.shape).toEqual(expected.shape);
      expectClose(await y.data(), expected.values, { atol: 0, rtol: 0 });
      expect(Array.from(await mg.maxPool2dIndices(x, options).data())).toEqual(
        Array.from(expected.indices),
      );
      const [dx] = mg.grad(y, x, { gradOutputs: upload(gyData, expected.shape) });
      expectClose(await dx!.data(), expected.dx, { atol: 1e-6 });
    });
  }

  it('first maximum wins on ties', async () => {
    const x = mg.tensor([1, 5, 5, 2, 5, 5, 0, 1, 3, 3, 3, 3, 3, 3, 3, 3], { shape: [1, 1, 4, 4] });
    expect(Array.from(await mg.maxPool2dIndices(x, { kernelSize: 2 }).data())).toEqual([
      1, 2, 8, 10,
    ]);
  });

  it('padding never wins over negative values', async () => {
    const x = mg.tensor([-3, -1, -2, -4], { shape: [1, 1, 2, 2] });
    const y = mg.maxPool2d(x, { kernelSize: 2, stride: 1, padding: 1 });
    expect(Array.from(await y.data())).toEqual([-3, -1, -1, -2, -1, -1, -2, -2, -4]);
  });

  it('gradcheck and gradgradcheck', async () => {
    // Values spaced at least 0.05 apart keep the argmax fixed under the finite-difference step.
    const values = Array.from({ length: 2 * 2 * 5 * 5 }, (_, i) => ((i * 37) % 100) * 0.05 - 2.5);
    const x = mg.tensor(values, { shape: [2, 2, 5, 5], requiresGrad: true });
    const f = (a: mg.Tensor) =>
      mg.maxPool2d(mg.mul(a, a), { kernelSize: 3, stride: 2, padding: 1 });
    const tol = { eps: 1e-3, atol: 2e-2, rtol: 2e-2 };
    expect(await mg.gradcheck(f, [x], tol)).toBe(true);
    expect(await mg.gradgradcheck(f, [x], tol)).toBe(true);
  });
});

describe('avgPool2d', () => {
  for (const [k, c] of cases.entries()) {
    for (const countIncludePad of [true, false]) {
      if (!countIncludePad && !c.padding) continue;
      it(`${c.name}${countIncludePad ? '' : ', padding not counted'}`, async () => {
        const xData = randomArray(
          c.x.reduce((a, b) => a * b, 1),
          700 + k,
        );
        const x = upload(xData, c.x, true);
        const y = mg.avgPool2d(x, {
          kernelSize: c.kernelSize,
          stride: c.stride,
          padding: c.padding,
          countIncludePad,
        });
        const gyData = randomArray(y.size, 800 + k);
        const expected = avgPoolRef(xData, c, countIncludePad, gyData);
        expect(y.shape).toEqual(expected.shape);
        expectClose(await y.data(), expected.values, { atol: 1e-5 });
        const [dx] = mg.grad(y, x, { gradOutputs: upload(gyData, expected.shape) });
        expectClose(await dx!.data(), expected.dx, { atol: 1e-5 });
      });
    }
  }

  it('gradcheck and gradgradcheck', async () => {
    const x = upload(randomArray(2 * 2 * 5 * 6, 900), [2, 2, 5, 6], true);
    const tol = { eps: 1e-2, atol: 2e-2, rtol: 2e-2 };
    for (const countIncludePad of [true, false]) {
      const f = (a: mg.Tensor) =>
        mg.tanh(mg.avgPool2d(a, { kernelSize: 3, stride: 2, padding: 1, countIncludePad }));
      expect(await mg.gradcheck(f, [x], tol)).toBe(true);
      expect(await mg.gradgradcheck(f, [x], tol)).toBe(true);
    }
  });
});

describe('pool errors', () => {
  const x = mg.zeros([1, 2, 3, 3]);
  it('input smaller than the window', () => {
    expect(() => mg.maxPool2d(x, { kernelSize: 4 })).toThrow(
      /maxPool2d: the input \[1, 2, 3, 3\] with padding 0 is smaller than the kernel size 4/,
    );
  });
  it('padding over half the window', () => {
    expect(() => mg.avgPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(
      /avgPool2d: padding 2 must be at most half the kernel size 2/,
    );
  });
  it('wrong rank', () => {
    expect(() => mg.maxPool2d(mg.zeros([2, 3, 3]), { kernelSize: 2 })).toThrow(
      /maxPool2d: expected an input of shape \[N, C, H, W\]; got \[2, 3, 3\]/,
    );
  });
  it('invalid stride', () => {
    expect(() => mg.avgPool2d(x, { kernelSize: 2, stride: 0 })).toThrow(
      /avgPool2d: stride must be an integer >= 1 or a pair of them; got 0/,
    );
  });
});
