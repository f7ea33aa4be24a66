// Matrix product with PyTorch's broadcasting of batch dimensions.

import { matmul as launchMatmul } from '../../kernels/matmul';
import { apply, type RuleTable } from '../autograd';
import { broadcastShapes, broadcastStrides, formatShape } from '../shape';
import { Tensor } from '../tensor';
import { reshape, sumTo } from './shape';

interface MatmulDims {
  M: number;
  K: number;
  N: number;
  batch: number[];
}

function dims(a: Tensor, b: Tensor, transA: boolean, transB: boolean): MatmulDims {
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const [M, K] = transA ? [aCols, aRows] : [aRows, aCols];
  const [K2, N] = transB ? [bCols, bRows] : [bRows, bCols];
  if (K !== K2) {
    throw new Error(
      `matmul: shapes ${formatShape(a.shape)}${transA ? 'ᵀ' : ''} and ${formatShape(b.shape)}${transB ? 'ᵀ' : ''} ` +
        `do not match: the inner dimensions are ${K} and ${K2}.`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  for (let i = 1; i <= Math.min(aBatch.length, bBatch.length); i++) {
    const [da, db] = [aBatch[aBatch.length - i], bBatch[bBatch.length - i]];
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(
        `matmul: the batch dimensions of shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} ` +
          `cannot be broadcast (${da} against ${db}); make them equal or 1.`,
      );
    }
  }
  const batch = broadcastShapes('matmul', aBatch, bBatch);
  return { M, K, N, batch };
}

export const matmulRules: RuleTable<'matmul'> = {
  matmul: {
    forward([a, b], { transA, transB }) {
      const { M, K, N, batch } = dims(a, b, transA, transB);
      const out = Tensor.empty([...batch, M, N], 'f32', 'matmul');
      if (out.size === 0) return out;
      const aBatch = a.shape.slice(0, -2);
      const bBatch = b.shape.slice(0, -2);
      launchMatmul({
        a: a.buffer,
        b: b.buffer,
        out: out.buffer,
        M,
        N,
        K,
        transA,
        transB,
        batchShape: batch,
        aBatchStrides: broadcastStrides(aBatch, batch).map(
          (s) => s * a.shape.at(-2)! * a.shape.at(-1)!,
        ),
        bBatchStrides: broadcastStrides(bBatch, batch).map(
          (s) => s * b.shape.at(-2)! * b.shape.at(-1)!,
        ),
      });
      return out;
    },
    // C = op(A) op(B): dop(A) = G op(B)ᵀ and dop(B) = op(A)ᵀ G, written with the
    // transpose flags so no operand is copied; batch broadcasts are summed away.
    backward(g, { inputs: [a, b], attrs: { transA, transB }, needsGrad }) {
      const gradA = needsGrad[0]
        ? transA
          ? matmulT(b, g, transB, true)
          : matmulT(g, b, false, !transB)
        : null;
      const gradB = needsGrad[1]
        ? transB
          ? matmulT(g, a, true, transA)
          : matmulT(a, g, !transA, false)
        : null;
      return [gradA && sumTo(gradA, a.shape), gradB && sumTo(gradB, b.shape)];
    },
  },
};

/** op(a) @ op(b) for operands of rank 2 or more, where op transposes the last two dimensions when its flag is set. */
export function matmulT(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  for (const [name, t] of [
    ['first', a],
    ['second', b],
  ] as const) {
    if (t.ndim < 2)
      throw new Error(
        `matmulT: the ${name} operand has shape ${formatShape(t.shape)}; it needs at least 2 dimensions.`,
      );
    if (t.dtype !== 'f32') throw new Error(`matmul: expected f32 operands, got ${t.dtype}.`);
  }
  return apply('matmul', [a, b], { transA, transB });
}

/** torch.matmul: 1-D operands are promoted to matrices and the added dimension removed afterwards. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) {
    throw new Error(
      `matmul: operands must have at least 1 dimension; got shapes ${formatShape(a.shape)} and ${formatShape(b.shape)}.`,
    );
  }
  const a2 = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const out = matmulT(a2, b2);
  const shape = [...out.shape];
  if (b.ndim === 1) shape.pop();
  if (a.ndim === 1) shape.splice(shape.length - (b.ndim === 1 ? 1 : 2), 1);
  return reshape(out, shape);
}
