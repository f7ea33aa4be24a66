import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

type Measure = 'squared' | 'cosine';

/** Float64 pairwise measure of row-major x [B, N, D] and y [B, M, D]. */
function reference(
  measure: Measure,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  B: number,
  N: number,
  M: number,
  D: number,
  eps = 1e-8,
): Float64Array {
  const out = new Float64Array(B * N * M);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      for (let m = 0; m < M; m++) {
        let squared = 0;
        let dot = 0;
        let xx = 0;
        let yy = 0;
        for (let k = 0; k < D; k++) {
          const xv = x[(b * N + n) * D + k];
          const yv = y[(b * M + m) * D + k];
          squared += (xv - yv) ** 2;
          dot += xv * yv;
          xx += xv * xv;
          yy += yv * yv;
        }
        out[(b * N + n) * M + m] =
          measure === 'squared' ? squared : dot / Math.max(Math.sqrt(xx) * Math.sqrt(yy), eps);
      }
    }
  }
  return out;
}

function run(measure: Measure, x: mg.Tensor, y: mg.Tensor): mg.Tensor {
  return measure === 'squared'
    ? mg.pairwiseSquaredEuclidean(x, y)
    : mg.pairwiseCosineSimilarity(x, y);
}

const sizes: [number, number, number, number][] = [
  // [B, N, M, D]; B = 0 means unbatched.
  [0, 1, 1, 1],
  [0, 5, 7, 3],
  [0, 33, 31, 17],
  [0, 70, 129, 64],
  [0, 1, 200, 5],
  [2, 9, 4, 6],
  [3, 40, 35, 2],
];

describe('pairwise forward', () => {
  for (const measure of ['squared', 'cosine'] as const) {
    for (const [B, N, M, D] of sizes) {
      it(`${measure} B=${B} N=${N} M=${M} D=${D}`, async () => {
        const batch = Math.max(B, 1);
        const xs = Float32Array.from(randomArray(batch * N * D, N * 7 + D, -2, 2));
        const ys = Float32Array.from(randomArray(batch * M * D, M * 5 + D + 1, -2, 2));
        const xShape = B ? [B, N, D] : [N, D];
        const yShape = B ? [B, M, D] : [M, D];
        const out = run(
          measure,
          mg.tensor(xs, { shape: xShape }),
          mg.tensor(ys, { shape: yShape }),
        );
        expect(out.shape).toEqual(B ? [B, N, M] : [N, M]);
        expectClose(await out.data(), reference(measure, xs, ys, batch, N, M, D), {
          atol: 1e-5,
          rtol: 1e-4,
        });
      });
    }
  }

  it('squared distance of a point to itself is exactly 0', async () => {
    const xs = Float32Array.from(randomArray(20, 3, 1000, 1001));
    const x = mg.tensor(xs, { shape: [4, 5] });
    const out = await mg.pairwiseSquaredEuclidean(x, x).data();
    for (let i = 0; i < 4; i++) expect(out[i * 4 + i], `diagonal ${i}`).toBe(0);
  });

  it('cosine similarity of a zero row is 0, not NaN', async () => {
    const x = mg.tensor([
      [0, 0, 0],
      [1, 2, 2],
    ]);
    const y = mg.tensor([[2, 4, 4]]);
    expectClose(await mg.pairwiseCosineSimilarity(x, y).data(), [0, 1], { atol: 1e-6 });
  });

  it('handles empty sets and zero-length rows', async () => {
    const empty = mg.pairwiseSquaredEuclidean(mg.zeros([0, 3]), mg.zeros([4, 3]));
    expect(empty.shape).toEqual([0, 4]);
    const noFeatures = mg.pairwiseSquaredEuclidean(mg.zeros([2, 0]), mg.zeros([3, 0]));
    expect(Array.from(await noFeatures.data())).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('pairwise gradients', () => {
  const inputs = (batched: boolean) => {
    const x = mg.tensor(Float32Array.from(randomArray(batched ? 12 : 9, 11)), {
      shape: batched ? [2, 2, 3] : [3, 3],
      requiresGrad: true,
    });
    const y = mg.tensor(Float32Array.from(randomArray(batched ? 6 : 12, 12)), {
      shape: batched ? [2, 1, 3] : [4, 3],
      requiresGrad: true,
    });
    return [x, y];
  };

  for (const measure of ['squared', 'cosine'] as const) {
    for (const batched of [false, true]) {
      it(`${measure} gradcheck${batched ? ' batched' : ''}`, async () => {
        const fn = (x: mg.Tensor, y: mg.Tensor) => run(measure, x, y);
        expect(await mg.gradcheck(fn, inputs(batched))).toBe(true);
        expect(await mg.gradgradcheck(fn, inputs(batched))).toBe(true);
      });
    }
  }

  it('squared distance gradient matches 2 (x - y) summed', async () => {
    const xs = randomArray(6, 21);
    const ys = randomArray(8, 22);
    const x = mg.tensor(Float32Array.from(xs), { shape: [3, 2], requiresGrad: true });
    const y = mg.tensor(Float32Array.from(ys), { shape: [4, 2], requiresGrad: true });
    const [gx, gy] = mg.grad(mg.pairwiseSquaredEuclidean(x, y).sum(), [x, y]);
    const expectedX = new Float64Array(6);
    const expectedY = new Float64Array(8);
    for (let n = 0; n < 3; n++) {
      for (let m = 0; m < 4; m++) {
        for (let k = 0; k < 2; k++) {
          const diff = Math.fround(xs[n * 2 + k]) - Math.fround(ys[m * 2 + k]);
          expectedX[n * 2 + k] += 2 * diff;
          expectedY[m * 2 + k] -= 2 * diff;
        }
      }
    }
    expectClose(await gx!.data(), expectedX, { atol: 1e-5 });
    expectClose(await gy!.data(), expectedY, { atol: 1e-5 });
  });
  it('cosine gradient where eps clamps the norms', async () => {
    // |x_0| |y_m| < eps, so c[0, m] = <x_0, y_m> / eps and dc/dx_0 = y_m / eps.
    const eps = 1e-3;
    const x = mg.tensor(
      [
        [1e-5, 0, 0],
        [0.5, -0.2, 0.3],
      ],
      { requiresGrad: true },
    );
    const yValues = [
      [0.6, 0.1, -0.4],
      [-0.3, 0.8, 0.2],
    ];
    const y = mg.tensor(yValues);
    const [gx] = mg.grad(mg.pairwiseCosineSimilarity(x, y, eps).sum(), x);
    const clampedRow = Array.from((await gx!.data()).slice(0, 3));
    const expected = [0, 1, 2].map(
      (k) => (Math.fround(yValues[0][k]) + Math.fround(yValues[1][k])) / eps,
    );
    expectClose(clampedRow, expected, { rtol: 1e-4 });
  });
});

describe('pairwise errors', () => {
  it('rejects mismatched shapes and dtypes', () => {
    expect(() => mg.pairwiseSquaredEuclidean(mg.zeros([3, 4]), mg.zeros([3, 5]))).toThrow(
      /pairwiseSquaredEuclidean: x has shape \[3, 4\] and y has shape \[3, 5\]/,
    );
    expect(() => mg.pairwiseCosineSimilarity(mg.zeros([2, 3, 4]), mg.zeros([3, 3, 4]))).toThrow(
      /pairwiseCosineSimilarity: .*same batch size/,
    );
    expect(() => mg.pairwiseSquaredEuclidean(mg.zeros([4]), mg.zeros([3, 4]))).toThrow(
      /x has shape \[4\]; expected \[N, D\]/,
    );
    expect(() =>
      mg.pairwiseSquaredEuclidean(mg.zeros([3, 4], { dtype: 'i32' }), mg.zeros([3, 4])),
    ).toThrow(/x must be an f32 tensor, got i32/);
    expect(() => mg.pairwiseCosineSimilarity(mg.zeros([3, 4]), mg.zeros([3, 4]), 0)).toThrow(
      /eps must be positive, got 0/,
    );
  });
});
