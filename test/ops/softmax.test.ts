import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

/** Float64 softmax or log-softmax of a row-major array of `shape` along `axis`. */
function referenceSoftmax(
  values: ArrayLike<number>,
  shape: number[],
  axis: number,
  log: boolean,
): Float64Array {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const len = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float64Array(values.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (r: number) => o * len * inner + r * inner + i;
      let max = -Infinity;
      for (let r = 0; r < len; r++) max = Math.max(max, values[at(r)]);
      let total = 0;
      for (let r = 0; r < len; r++) total += Math.exp(values[at(r)] - max);
      for (let r = 0; r < len; r++) {
        const shifted = values[at(r)] - max;
        out[at(r)] = log ? shifted - Math.log(total) : Math.exp(shifted) / total;
      }
    }
  }
  return out;
}

const cases: { shape: number[]; axis: number }[] = [
  { shape: [3, 5], axis: -1 },
  { shape: [3, 5], axis: 0 },
  { shape: [7, 1], axis: 1 },
  { shape: [2, 3, 4], axis: 1 },
  { shape: [2, 3, 4], axis: 0 },
  { shape: [1300, 5], axis: 1 },
  { shape: [4, 1000], axis: 1 },
  { shape: [3, 1000, 2], axis: 1 },
  { shape: [2, 100000], axis: -1 },
  { shape: [100000], axis: 0 },
];

describe('softmax forward', () => {
  for (const { shape, axis } of cases) {
    for (const log of [false, true]) {
      it(`${log ? 'logSoftmax' : 'softmax'} ${JSON.stringify(shape)} axis ${axis}`, async () => {
        const size = shape.reduce((a, b) => a * b, 1);
        const values = randomArray(size, size + axis, -4, 4);
        const x = mg.tensor(Float32Array.from(values), { shape });
        const out = log ? x.logSoftmax(axis) : x.softmax(axis);
        expect(out.shape).toEqual(shape);
        const positive = axis < 0 ? axis + shape.length : axis;
        const expected = referenceSoftmax(Float32Array.from(values), shape, positive, log);
        expectClose(await out.data(), expected, { atol: log ? 1e-5 : 1e-6, rtol: 1e-4 });
      });
    }
  }

  it('handles logits of +-1000 without NaN', async () => {
    const values = [1000, -1000, 999, 0, -1000, -1000, -999, -1000];
    const x = mg.tensor(values, { shape: [2, 4] });
    const probs = await x.softmax().data();
    const logProbs = await x.logSoftmax().data();
    expect(probs.some(Number.isNaN), 'softmax NaN').toBe(false);
    expect(logProbs.some(Number.isNaN), 'logSoftmax NaN').toBe(false);
    expectClose(probs, referenceSoftmax(values, [2, 4], 1, false), { atol: 1e-6 });
    expectClose(logProbs, referenceSoftmax(values, [2, 4], 1, true), { atol: 1e-4 });
  });

  it('gives 1 and 0 for a scalar and for length-1 rows', async () => {
    expect(await mg.tensor(3.5).softmax().item()).toBe(1);
    expect(await mg.tensor(3.5).logSoftmax().item()).toBe(0);
    expect(
      Array.from(
        await mg
          .tensor([[2], [-7]])
          .softmax(1)
          .data(),
      ),
    ).toEqual([1, 1]);
  });

  it('runs the long-row path on few rows', async () => {
    // 3 rows of 5000 take the workgroup-per-row entry point.
    const values = randomArray(15000, 9, -30, 30);
    const x = mg.tensor(Float32Array.from(values), { shape: [3, 5000] });
    const expected = referenceSoftmax(Float32Array.from(values), [3, 5000], 1, true);
    expectClose(await x.logSoftmax().data(), expected, { atol: 1e-4, rtol: 1e-5 });
  });
});

describe('softmax gradients', () => {
  const x = () =>
    mg.tensor(Float32Array.from(randomArray(12, 5, -2, 2)), { shape: [3, 4], requiresGrad: true });

  for (const axis of [-1, 0]) {
    it(`softmax gradcheck axis ${axis}`, async () => {
      const input = x();
      expect(await mg.gradcheck((a) => a.softmax(axis), [input])).toBe(true);
      expect(await mg.gradgradcheck((a) => a.softmax(axis), [input])).toBe(true);
    });
    it(`logSoftmax gradcheck axis ${axis}`, async () => {
      const input = x();
      expect(await mg.gradcheck((a) => a.logSoftmax(axis), [input])).toBe(true);
      expect(await mg.gradgradcheck((a) => a.logSoftmax(axis), [input])).toBe(true);
    });
  }

  it('third derivative of logSoftmax matches float64', async () => {
    // f(x) = <w, logSoftmax(x)> has Hessian-vector product H u = -W (p*u - p <p, u>)
    // with p = softmax(x) and W = sum(w). The third derivative contracted with u
    // and v is the gradient of <H u, v>, taken here by float64 central differences.
    const values = [0.3, -0.2, 0.9];
    const w = [1.5, -0.5, 2];
    const u = [0.7, -1.1, 0.4];
    const v = [-0.3, 0.8, 0.5];
    const W = w.reduce((a, b) => a + b, 0);
    const hvpDotV = (xs: number[]): number => {
      const e = xs.map(Math.exp);
      const z = e.reduce((a, b) => a + b, 0);
      const p = e.map((value) => value / z);
      const pu = p.reduce((acc, pi, i) => acc + pi * u[i], 0);
      return p.reduce((acc, pi, i) => acc - W * (pi * u[i] - pi * pu) * v[i], 0);
    };
    const step = 1e-5;
    const expected = values.map((_, i) => {
      const plus = values.map((value, j) => (j === i ? value + step : value));
      const minus = values.map((value, j) => (j === i ? value - step : value));
      return (hvpDotV(plus) - hvpDotV(minus)) / (2 * step);
    });

    const x = mg.tensor(values, { requiresGrad: true });
    const f = mg.sum(mg.mul(x.logSoftmax(), mg.tensor(w)));
    const [g1] = mg.grad(f, x, { createGraph: true });
    const [g2] = mg.grad(mg.sum(mg.mul(g1!, mg.tensor(u))), x, { createGraph: true });
    const [g3] = mg.grad(mg.sum(mg.mul(g2!, mg.tensor(v))), x);
    expectClose(await g3!.data(), expected, { atol: 1e-5, rtol: 1e-4 });
  });
});

describe('oneHot', () => {
  it('encodes labels of any shape', async () => {
    const labels = mg.tensor(Int32Array.from([2, 0, 1, 2, 1, 0]), { shape: [2, 3] });
    const out = mg.oneHot(labels, 3);
    expect(out.shape).toEqual([2, 3, 3]);
    const expected = [2, 0, 1, 2, 1, 0].flatMap((label) =>
      [0, 1, 2].map((c) => (c === label ? 1 : 0)),
    );
    expect(Array.from(await out.data())).toEqual(expected);
  });

  it('leaves rows of out-of-range labels all zero', async () => {
    const labels = mg.tensor(Int32Array.from([-1, 4, 1, 1000000]));
    const out = await mg.oneHot(labels, 4).data();
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  });

  it('covers many workgroups', async () => {
    const count = 70000;
    const raw = Int32Array.from(randomArray(count, 3, 0, 10), Math.floor);
    const out = await mg.oneHot(mg.tensor(raw), 10).data();
    let mismatches = 0;
    for (let k = 0; k < count * 10; k++) {
      if (out[k] !== (raw[Math.floor(k / 10)] === k % 10 ? 1 : 0)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('rejects f32 labels and a bad class count', () => {
    expect(() => mg.oneHot(mg.tensor([1, 2]), 3)).toThrow(
      /oneHot: labels must be an i32 tensor.*got f32/,
    );
    expect(() => mg.oneHot(mg.tensor(Int32Array.from([1])), 0)).toThrow(
      /oneHot: numClasses must be a positive integer, got 0/,
    );
  });
});

describe('softmax errors', () => {
  it('rejects a bad axis and i32 input', () => {
    expect(() => mg.tensor([[1, 2]]).softmax(2)).toThrow(/softmax: axis 2 is out of range/);
    expect(() => mg.softmax(mg.tensor(Int32Array.from([1, 2])))).toThrow(
      /softmax: expected an f32 tensor, got i32/,
    );
    expect(() => mg.logSoftmax(mg.tensor(Int32Array.from([1, 2])))).toThrow(
      /logSoftmax: expected an f32/,
    );
  });
});
