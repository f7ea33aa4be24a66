import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

interface HostTensor {
  shape: number[];
  values: Float64Array;
}

/** Seeded values, rounded to f32 so that the reference and the GPU multiply the same numbers. */
function host(shape: number[], seed: number): HostTensor {
  const count = shape.reduce((x, y) => x * y, 1);
  return { shape, values: Float64Array.from(Float32Array.from(randomArray(count, seed))) };
}

function upload(t: HostTensor, requiresGrad = false): mg.Tensor {
  return mg.tensor(Float32Array.from(t.values), { shape: t.shape, requiresGrad });
}

/** float64 op(a) @ op(b) with broadcast batch dimensions, op = transpose of the last two dims when set. */
function referenceMatmul(a: HostTensor, b: HostTensor, transA = false, transB = false): HostTensor {
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const [M, K] = transA ? [aCols, aRows] : [aRows, aCols];
  const N = transB ? bRows : bCols;
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const padA = [...Array<number>(rank - aBatch.length).fill(1), ...aBatch];
  const padB = [...Array<number>(rank - bBatch.length).fill(1), ...bBatch];
  const batch = padA.map((d, i) => Math.max(d, padB[i]));
  const batchCount = batch.reduce((x, y) => x * y, 1);
  const out = new Float64Array(batchCount * M * N);

  for (let z = 0; z < batchCount; z++) {
    // Row-major batch index of each operand, with broadcast dimensions pinned to 0.
    let aIndex = 0;
    let bIndex = 0;
    let rest = z;
    let aScale = 1;
    let bScale = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const coord = rest % batch[d];
      rest = Math.floor(rest / batch[d]);
      aIndex += (padA[d] === 1 ? 0 : coord) * aScale;
      bIndex += (padB[d] === 1 ? 0 : coord) * bScale;
      aScale *= padA[d];
      bScale *= padB[d];
    }
    const aBase = aIndex * M * K;
    const bBase = bIndex * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const av = a.values[aBase + (transA ? k * M + m : m * K + k)];
          const bv = b.values[bBase + (transB ? n * K + k : k * N + n)];
          sum += av * bv;
        }
        out[(z * M + m) * N + n] = sum;
      }
    }
  }
  return { shape: [...batch, M, N], values: out };
}

async function expectMatmul(
  aShape: number[],
  bShape: number[],
  transA = false,
  transB = false,
): Promise<void> {
  const a = host(aShape, 11 + aShape.length);
  const b = host(bShape, 23 + bShape.length);
  const expected = referenceMatmul(a, b, transA, transB);
  const actual = mg.matmulT(upload(a), upload(b), transA, transB);
  expect(actual.shape).toEqual(expected.shape);
  expectClose(await actual.data(), expected.values, { atol: 1e-4, rtol: 1e-4 });
}

describe('matmul forward', () => {
  it('odd sizes 257x129x65', async () => {
    await expectMatmul([257, 65], [65, 129]);
  });

  it('vec4 sizes with partial tiles', async () => {
    // K and N multiples of 4 take the vec4 kernel; M = 130 and N = 200 leave partial tiles.
    await expectMatmul([130, 64], [64, 200]);
    await expectMatmul([3, 8], [8, 4]);
  });

  it('M = 1, N = 1 and K = 1', async () => {
    await expectMatmul([1, 300], [300, 1]);
    await expectMatmul([1, 64], [64, 8]);
    await expectMatmul([5, 1], [1, 7]);
    await expectMatmul([6, 1], [1, 8]);
  });

  it('batched with broadcast', async () => {
    await expectMatmul([3, 1, 5, 7], [4, 7, 2]);
    await expectMatmul([2, 1, 6, 8], [3, 8, 12]);
    await expectMatmul([5, 12], [2, 3, 12, 4]);
  });

  it('all four transpose combinations', async () => {
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const aShape = transA ? [33, 17] : [17, 33];
      const bShape = transB ? [9, 33] : [33, 9];
      await expectMatmul(aShape, bShape, transA, transB);
      await expectMatmul([2, ...aShape], bShape, transA, transB);
    }
  });

  it('transposed operands at odd sizes', async () => {
    // op(A) is 65x129 and op(B) is 129x57: no size is a multiple of 4 or of a tile.
    for (const [transA, transB] of [
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const aShape = transA ? [129, 65] : [65, 129];
      const bShape = transB ? [57, 129] : [129, 57];
      await expectMatmul(aShape, bShape, transA, transB);
    }
  });

  it('transposed operands at vec4 sizes, partial tiles and batches', async () => {
    // Multiples of 4 that are not multiples of the 32x32 output tile take the vec4
    // and subgroup kernels; M = 4 and N = 4 leave most of a tile empty.
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      for (const [M, K, N] of [
        [36, 20, 44],
        [4, 8, 68],
        [100, 4, 4],
      ]) {
        const aShape = transA ? [K, M] : [M, K];
        const bShape = transB ? [N, K] : [K, N];
        await expectMatmul(aShape, bShape, transA, transB);
        await expectMatmul([2, 1, ...aShape], [3, ...bShape], transA, transB);
      }
    }
  });

  it('transposed operands with K not a multiple of 4', async () => {
    // A weight gradient of a small batch is A^T B with K = batch size: M and N are
    // multiples of 4 but K is not, the case that once read past K.
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      for (const [M, K, N] of [
        [16, 2, 4],
        [8, 1, 12],
        [36, 3, 8],
        [4, 6, 40],
      ]) {
        const aShape = transA ? [K, M] : [M, K];
        const bShape = transB ? [N, K] : [K, N];
        await expectMatmul(aShape, bShape, transA, transB);
      }
    }
  });

  it('1-D operands follow torch.matmul', async () => {
    const v = host([7], 5);
    const m = host([7, 3], 6);
    const vm = mg.matmul(upload(v), upload(m));
    expect(vm.shape).toEqual([3]);
    expectClose(await vm.data(), referenceMatmul({ shape: [1, 7], values: v.values }, m).values);
    const mv = mg.matmul(upload({ shape: [3, 7], values: m.values }), upload(v));
    expect(mv.shape).toEqual([3]);
  });
});

describe('matmul gradients', () => {
  it('gradcheck and gradgradcheck, batched', async () => {
    const a = upload(host([2, 1, 3, 4], 31), true);
    const b = upload(host([3, 4, 2], 32), true);
    const f = (x: mg.Tensor, y: mg.Tensor) => mg.matmul(x, y).tanh();
    expect(await mg.gradcheck(f, [a, b])).toBe(true);
    expect(await mg.gradgradcheck(f, [a, b])).toBe(true);
  });

  it('gradcheck and gradgradcheck, transposed', async () => {
    for (const [transA, transB] of [
      [true, true],
      [true, false],
      [false, true],
    ] as const) {
      // op(A) is 3x5 and op(B) is 5x4.
      const a = upload(host(transA ? [5, 3] : [3, 5], 41), true);
      const b = upload(host(transB ? [4, 5] : [5, 4], 42), true);
      const f = (x: mg.Tensor, y: mg.Tensor) => {
        const product = mg.matmulT(x, y, transA, transB);
        return product.mul(product);
      };
      expect(await mg.gradcheck(f, [a, b])).toBe(true);
      expect(await mg.gradgradcheck(f, [a, b])).toBe(true);
    }
  });
});

describe('matmul errors', () => {
  it('inner dimension mismatch names both shapes', () => {
    expect(() => mg.matmul(mg.zeros([2, 3]), mg.zeros([4, 5]))).toThrow(
      /matmul: shapes \[2, 3\] and \[4, 5\] do not match: the inner dimensions are 3 and 4/,
    );
  });

  it('batch mismatch names both shapes', () => {
    expect(() => mg.matmul(mg.zeros([2, 3, 4]), mg.zeros([5, 4, 6]))).toThrow(
      /matmul: the batch dimensions of shapes \[2, 3, 4\] and \[5, 4, 6\] cannot be broadcast \(2 against 5\)/,
    );
  });

  it('scalar operand is rejected', () => {
    expect(() => mg.matmul(mg.zeros([]), mg.zeros([3]))).toThrow(
      /matmul: operands must have at least 1 dimension; got shapes \[\] and \[3\]/,
    );
  });
});
