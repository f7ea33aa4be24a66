// Pairwise squared Euclidean distance and cosine similarity between two sets of
// row vectors, each one kernel: [N, D] x [M, D] -> [N, M], or batched
// [B, N, D] x [B, M, D] -> [B, N, M].

import { pairwise } from '../../kernels/distance';
import { apply, type RuleTable } from '../autograd';
import { formatShape } from '../shape';
import { Tensor } from '../tensor';
import { div, gt, maximum, mul, sqrt, sub } from './elementwise';
import { matmulT } from './matmul';
import { sum } from './reduce';
import { transpose } from './shape';

function pairwiseForward(
  measure: 'squared_euclidean' | 'cosine',
  x: Tensor,
  y: Tensor,
  eps = 0,
): Tensor {
  const [N, D] = x.shape.slice(-2);
  const M = y.shape.at(-2)!;
  const batch = x.ndim === 3 ? x.shape[0] : 1;
  const shape = x.ndim === 3 ? [batch, N, M] : [N, M];
  const out = Tensor.empty(shape, 'f32', `pairwise_${measure}`);
  if (out.size > 0)
    pairwise({ measure, x: x.buffer, y: y.buffer, out: out.buffer, batch, N, M, D, eps });
  return out;
}

/** Squared row norms as a column [..., N, 1], clamped away from 0 so they can divide. */
function squaredNorms(x: Tensor): Tensor {
  return maximum(sum(mul(x, x), -1, true), 1e-30);
}

export const distanceRules: RuleTable<'pairwise_squared_euclidean' | 'pairwise_cosine_similarity'> =
  {
    pairwise_squared_euclidean: {
      forward: ([x, y]) => pairwiseForward('squared_euclidean', x, y),
      // d|x_n - y_m|^2 = 2 (x_n - y_m) . (dx_n - dy_m), so
      // grad_x = 2 (rowsum(G) x - G y) and grad_y = 2 (colsum(G) y - G^T x).
      backward(g, { inputs: [x, y], needsGrad }) {
        const gradX = needsGrad[0] ? mul(sub(mul(sum(g, -1, true), x), matmulT(g, y)), 2) : null;
        const gradY = needsGrad[1]
          ? mul(sub(mul(transpose(sum(g, -2, true)), y), matmulT(g, x, true, false)), 2)
          : null;
        return [gradX, gradY];
      },
    },
    pairwise_cosine_similarity: {
      forward: ([x, y], { eps }) => pairwiseForward('cosine', x, y, eps),
      // With d = max(|x_n| |y_m|, eps) and c = <x_n, y_m> / d: where d > eps,
      // dc/dx_n = y_m / d - c x_n / |x_n|^2, and where d is clamped, dc/dx_n = y_m / d.
      // So grad_x = (G / d) y - x rowsum(G c active) / |x|^2, and symmetrically for y.
      backward(g, { inputs: [x, y], output: c, attrs: { eps }, needsGrad }) {
        const xNorms = sqrt(sum(mul(x, x), -1, true));
        const yNorms = transpose(sqrt(sum(mul(y, y), -1, true)));
        const product = mul(xNorms, yNorms);
        const scaled = div(g, maximum(product, eps));
        const weighted = mul(mul(g, c), gt(product, eps));
        const gradX = needsGrad[0]
          ? sub(matmulT(scaled, y), mul(x, div(sum(weighted, -1, true), squaredNorms(x))))
          : null;
        const gradY = needsGrad[1]
          ? sub(
              matmulT(scaled, x, true, false),
              mul(y, div(transpose(sum(weighted, -2, true)), squaredNorms(y))),
            )
          : null;
        return [gradX, gradY];
      },
    },
  };

function checkPair(op: string, x: Tensor, y: Tensor): void {
  for (const [name, t] of [
    ['x', x],
    ['y', y],
  ] as const) {
    if (t.dtype !== 'f32') throw new Error(`${op}: ${name} must be an f32 tensor, got ${t.dtype}.`);
    if (t.ndim !== 2 && t.ndim !== 3) {
      throw new Error(
        `${op}: ${name} has shape ${formatShape(t.shape)}; expected [N, D] rows, or [B, N, D] for a batch.`,
      );
    }
  }
  const batchMismatch = x.ndim !== y.ndim || (x.ndim === 3 && x.shape[0] !== y.shape[0]);
  if (batchMismatch || x.shape.at(-1) !== y.shape.at(-1)) {
    throw new Error(
      `${op}: x has shape ${formatShape(x.shape)} and y has shape ${formatShape(y.shape)}; ` +
        'they need the same rank, the same batch size and the same row length D.',
    );
  }
}

/** Returns |x_n - y_m|^2 for every pair of rows: [N, D] x [M, D] -> [N, M], or batched [B, N, D] x [B, M, D] -> [B, N, M]. */
export function pairwiseSquaredEuclidean(x: Tensor, y: Tensor): Tensor {
  checkPair('pairwiseSquaredEuclidean', x, y);
  return apply('pairwise_squared_euclidean', [x, y], {});
}

/** Returns <x_n, y_m> / max(|x_n| |y_m|, eps) for every pair of rows, with the shapes of pairwiseSquaredEuclidean. */
export function pairwiseCosineSimilarity(x: Tensor, y: Tensor, eps = 1e-8): Tensor {
  checkPair('pairwiseCosineSimilarity', x, y);
  if (!(eps > 0)) throw new Error(`pairwiseCosineSimilarity: eps must be positive, got ${eps}.`);
  return apply('pairwise_cosine_similarity', [x, y], { eps });
}
