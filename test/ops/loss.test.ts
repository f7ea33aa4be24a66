import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

/** Per-position float64 cross-entropy of logits [N, C, ...rest] against labels [N, ...rest]. */
function referenceCrossEntropy(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  shape: number[],
  smoothing = 0,
): Float64Array {
  const [N, C] = shape;
  const rest = shape.slice(2).reduce((a, b) => a * b, 1);
  const out = new Float64Array(N * rest);
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < rest; s++) {
      const at = (c: number) => (n * C + c) * rest + s;
      let max = -Infinity;
      for (let c = 0; c < C; c++) max = Math.max(max, logits[at(c)]);
      let total = 0;
      for (let c = 0; c < C; c++) total += Math.exp(logits[at(c)] - max);
      const logProb = (c: number) => logits[at(c)] - max - Math.log(total);
      let loss = -(1 - smoothing) * logProb(labels[n * rest + s]);
      for (let c = 0; c < C; c++) loss -= (smoothing / C) * logProb(c);
      out[n * rest + s] = loss;
    }
  }
  return out;
}

const meanOf = (values: ArrayLike<number>) =>
  Array.from(values).reduce((a, b) => a + b, 0) / values.length;
const sumOf = (values: ArrayLike<number>) => Array.from(values).reduce((a, b) => a + b, 0);

function labelsFor(count: number, classes: number, seed: number): Int32Array {
  return Int32Array.from(randomArray(count, seed, 0, classes), Math.floor);
}

describe('crossEntropy', () => {
  const cases: { shape: number[]; smoothing: number }[] = [
    { shape: [5, 3], smoothing: 0 },
    { shape: [1, 1], smoothing: 0 },
    { shape: [37, 10], smoothing: 0.1 },
    { shape: [4, 7, 3, 5], smoothing: 0 },
    { shape: [2, 4, 9], smoothing: 0.25 },
    { shape: [300, 1000], smoothing: 0 },
  ];
  for (const { shape, smoothing } of cases) {
    it(`${JSON.stringify(shape)} smoothing ${smoothing}`, async () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const labelShape = shape.filter((_, i) => i !== 1);
      const labelCount = labelShape.reduce((a, b) => a * b, 1);
      const logits = Float32Array.from(randomArray(size, size, -5, 5));
      const labels = labelsFor(labelCount, shape[1], size + 1);
      const x = mg.tensor(logits, { shape });
      const y = mg.tensor(labels, { shape: labelShape });
      const expected = referenceCrossEntropy(logits, labels, shape, smoothing);

      const none = mg.crossEntropy(x, y, { reduction: 'none', labelSmoothing: smoothing });
      expect(none.shape).toEqual(labelShape);
      expectClose(await none.data(), expected, { atol: 1e-5, rtol: 1e-5 });
      const mean = mg.crossEntropy(x, y, { labelSmoothing: smoothing });
      expect(await mean.item()).toBeCloseTo(meanOf(expected), 4);
      const sum = mg.crossEntropy(x, y, { reduction: 'sum', labelSmoothing: smoothing });
      expectClose([await sum.item()], [sumOf(expected)], { atol: 1e-4, rtol: 1e-5 });
    });
  }

  it('stays finite for logits of +-1000', async () => {
    const logits = [1000, -1000, 0, -1000, 1000, 999];
    const labels = Int32Array.from([1, 2]);
    const x = mg.tensor(logits, { shape: [2, 3], requiresGrad: true });
    const loss = mg.crossEntropy(x, mg.tensor(labels), { reduction: 'none' });
    expectClose(await loss.data(), referenceCrossEntropy(logits, labels, [2, 3]), { atol: 1e-3 });
    const [g] = mg.grad(loss.sum(), x);
    const grad = await g!.data();
    expect(grad.some(Number.isNaN), 'NaN in gradient').toBe(false);
    // The gradient is softmax(x) - onehot(label); row 1 has logits [-1000, 1000, 999] and label 2.
    expectClose(grad, [1, -1, 0, 0, 1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(1)) - 1], {
      atol: 1e-5,
    });
  });

  it('gradcheck and gradgradcheck w.r.t. logits', async () => {
    const labels = mg.tensor(Int32Array.from([2, 0, 1, 2]));
    const x = mg.tensor(Float32Array.from(randomArray(12, 31, -2, 2)), {
      shape: [4, 3],
      requiresGrad: true,
    });
    const plain = (a: mg.Tensor) => mg.crossEntropy(a, labels);
    const smoothed = (a: mg.Tensor) => mg.crossEntropy(a, labels, { labelSmoothing: 0.2 });
    expect(await mg.gradcheck(plain, [x])).toBe(true);
    expect(await mg.gradgradcheck(plain, [x])).toBe(true);
    expect(await mg.gradgradcheck(smoothed, [x])).toBe(true);
  });

  it('gradcheck with spatial dimensions', async () => {
    const labels = mg.tensor(Int32Array.from([0, 2, 1, 1, 2, 0]), { shape: [2, 3] });
    const x = mg.tensor(Float32Array.from(randomArray(18, 32, -2, 2)), {
      shape: [2, 3, 3],
      requiresGrad: true,
    });
    const fn = (a: mg.Tensor) => mg.crossEntropy(a, labels, { reduction: 'none' });
    expect(await mg.gradcheck(fn, [x])).toBe(true);
    expect(await mg.gradgradcheck(fn, [x])).toBe(true);
  });

  it('rejects bad labels, shapes and options', () => {
    const x = mg.zeros([4, 3]);
    expect(() => mg.crossEntropy(x, mg.tensor([0, 1, 2, 0]))).toThrow(
      /crossEntropy: labels must be an i32 tensor of class indices, got f32/,
    );
    expect(() => mg.crossEntropy(x, mg.tensor(Int32Array.from([0, 1, 2])))).toThrow(
      /crossEntropy: labels have shape \[3\] but the input \[4, 3\] needs labels of shape \[4\]/,
    );
    expect(() => mg.crossEntropy(mg.zeros([3]), mg.tensor(Int32Array.from([0])))).toThrow(
      /crossEntropy: the input has shape \[3\]; expected \[N, C\]/,
    );
    const labels = mg.tensor(Int32Array.from([0, 1, 2, 0]));
    expect(() => mg.crossEntropy(x, labels, { labelSmoothing: 1.5 })).toThrow(
      /labelSmoothing must be in \[0, 1\], got 1.5/,
    );
    expect(() => mg.crossEntropy(x, labels, { reduction: 'avg' as 'mean' })).toThrow(
      /crossEntropy: reduction avg is invalid/,
    );
  });
});

describe('nllLoss', () => {
  it('picks the negative log-probability of each label', async () => {
    const logits = Float32Array.from(randomArray(20, 41, -3, 3));
    const labels = labelsFor(4, 5, 42);
    const logProbs = mg.logSoftmax(mg.tensor(logits, { shape: [4, 5] }), 1);
    const expected = referenceCrossEntropy(logits, labels, [4, 5]);
    const y = mg.tensor(labels);
    expectClose(await mg.nllLoss(logProbs, y, { reduction: 'none' }).data(), expected, {
      atol: 1e-5,
    });
    expect(await mg.nllLoss(logProbs, y).item()).toBeCloseTo(meanOf(expected), 5);
    expect(await mg.nllLoss(logProbs, y, { reduction: 'sum' }).item()).toBeCloseTo(
      sumOf(expected),
      4,
    );
  });

  it('gives 0 for an out-of-range label', async () => {
    const logProbs = mg.tensor([
      [-1, -2],
      [-3, -4],
    ]);
    const labels = mg.tensor(Int32Array.from([1, 5]));
    expectClose(await mg.nllLoss(logProbs, labels, { reduction: 'none' }).data(), [2, 0]);
  });

  it('gradcheck w.r.t. log-probabilities and rejects f32 labels', async () => {
    const x = mg.tensor(Float32Array.from(randomArray(6, 43)), {
      shape: [3, 2],
      requiresGrad: true,
    });
    const labels = mg.tensor(Int32Array.from([1, 0, 1]));
    expect(await mg.gradcheck((a) => mg.nllLoss(a, labels), [x])).toBe(true);
    expect(() => mg.nllLoss(x, mg.tensor([1, 0, 1]))).toThrow(/nllLoss: labels must be an i32/);
  });
});

describe('mseLoss', () => {
  it('matches float64 for every reduction', async () => {
    const a = randomArray(1001, 51, -3, 3);
    const b = randomArray(1001, 52, -3, 3);
    const input = mg.tensor(Float32Array.from(a), { shape: [7, 11, 13] });
    const target = mg.tensor(Float32Array.from(b), { shape: [7, 11, 13] });
    const expected = a.map((v, i) => (Math.fround(v) - Math.fround(b[i])) ** 2);
    expectClose(await mg.mseLoss(input, target, { reduction: 'none' }).data(), expected, {
      atol: 1e-5,
    });
    expect(await mg.mseLoss(input, target).item()).toBeCloseTo(meanOf(expected), 4);
    expectClose([await mg.mseLoss(input, target, { reduction: 'sum' }).item()], [sumOf(expected)], {
      rtol: 1e-5,
    });
  });

  it('gradcheck and gradgradcheck w.r.t. both arguments', async () => {
    const input = mg.tensor(Float32Array.from(randomArray(6, 53)), {
      shape: [2, 3],
      requiresGrad: true,
    });
    const target = mg.tensor(Float32Array.from(randomArray(6, 54)), {
      shape: [2, 3],
      requiresGrad: true,
    });
    expect(await mg.gradcheck((a, b) => mg.mseLoss(a, b), [input, target])).toBe(true);
    expect(await mg.gradgradcheck((a, b) => mg.mseLoss(a, b), [input, target])).toBe(true);
  });

  it('rejects mismatched shapes', () => {
    expect(() => mg.mseLoss(mg.zeros([2, 3]), mg.zeros([3, 2]))).toThrow(
      /mseLoss: the input has shape \[2, 3\] but the target has shape \[3, 2\]/,
    );
  });
});

describe('binaryCrossEntropyWithLogits', () => {
  const reference = (x: number, t: number, w = 1) =>
    (1 - t) * x + (1 + (w - 1) * t) * (Math.log1p(Math.exp(-Math.abs(x))) + Math.max(-x, 0));

  it('matches float64 with and without posWeight', async () => {
    const xs = Float32Array.from(randomArray(15, 61, -6, 6));
    const ts = Float32Array.from(randomArray(15, 62, 0, 1));
    const weights = [0.5, 2, 3, 1, 4];
    const x = mg.tensor(xs, { shape: [3, 5] });
    const t = mg.tensor(ts, { shape: [3, 5] });
    const plain = Array.from(xs, (v, i) => reference(v, ts[i]));
    const weighted = Array.from(xs, (v, i) => reference(v, ts[i], weights[i % 5]));
    expectClose(await mg.binaryCrossEntropyWithLogits(x, t, { reduction: 'none' }).data(), plain, {
      atol: 1e-5,
    });
    const withWeight = mg.binaryCrossEntropyWithLogits(x, t, {
      reduction: 'none',
      posWeight: mg.tensor(weights),
    });
    expectClose(await withWeight.data(), weighted, { atol: 1e-5 });
    expect(await mg.binaryCrossEntropyWithLogits(x, t).item()).toBeCloseTo(meanOf(plain), 5);
  });

  it('stays finite for logits of +-1000', async () => {
    const x = mg.tensor([1000, -1000, 1000, -1000, 0], { requiresGrad: true });
    const t = mg.tensor([1, 0, 0, 1, 0.5]);
    const loss = mg.binaryCrossEntropyWithLogits(x, t, { reduction: 'none' });
    expectClose(await loss.data(), [0, 0, 1000, 1000, Math.log(2)], { atol: 1e-4 });
    const [g] = mg.grad(loss.sum(), x);
    // d/dx = sigmoid(x) - t.
    expectClose(await g!.data(), [0, 0, 1, -1, 0], { atol: 1e-6 });
  });

  it('has exact second derivative at x = 0', async () => {
    const x = mg.tensor([0, 0], { requiresGrad: true });
    const t = mg.tensor([1, 0.25]);
    const [g] = mg.grad(mg.binaryCrossEntropyWithLogits(x, t, { reduction: 'sum' }), x, {
      createGraph: true,
    });
    const [h] = mg.grad(g!.sum(), x);
    // d2/dx2 = sigmoid'(0) = 1/4.
    expectClose(await h!.data(), [0.25, 0.25], { atol: 1e-6 });
  });

  it('gradcheck and gradgradcheck w.r.t. logits and targets', async () => {
    const x = mg.tensor(Float32Array.from(randomArray(6, 63, -3, 3)), {
      shape: [2, 3],
      requiresGrad: true,
    });
    const t = mg.tensor(Float32Array.from(randomArray(6, 64, 0, 1)), {
      shape: [2, 3],
      requiresGrad: true,
    });
    const w = mg.tensor([2, 0.5, 1]);
    const fn = (a: mg.Tensor, b: mg.Tensor) =>
      mg.binaryCrossEntropyWithLogits(a, b, { posWeight: w });
    expect(await mg.gradcheck(fn, [x, t])).toBe(true);
    expect(await mg.gradgradcheck(fn, [x, t])).toBe(true);
  });

  it('rejects a bad posWeight and mismatched targets', () => {
    const x = mg.zeros([2, 3]);
    expect(() =>
      mg.binaryCrossEntropyWithLogits(x, mg.zeros([2, 3]), { posWeight: mg.ones([2]) }),
    ).toThrow(
      /binaryCrossEntropyWithLogits: posWeight has shape \[2\]; expected \[\] or \[1\] or \[3\]/,
    );
    expect(() => mg.binaryCrossEntropyWithLogits(x, mg.zeros([3]))).toThrow(
      /binaryCrossEntropyWithLogits: the input has shape \[2, 3\] but the target has shape \[3\]/,
    );
  });
});
