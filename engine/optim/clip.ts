// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_.
// Both replace each parameter's `.grad` with the clipped tensor, outside the tape.

import { noGrad } from '../autograd';
import { full } from '../ops/creation';
import {
  abs,
  add,
  addScalar,
  div,
  maximum,
  minimum,
  mul,
  powScalar,
  sqrt,
} from '../ops/elementwise';
import { sum } from '../ops/reduce';
import type { Tensor } from '../tensor';

function replaceGrad(param: Tensor, next: Tensor): void {
  param.grad?.dispose();
  param.grad = next;
}

/**
 * Scales all gradients by min(1, maxNorm / (total + 1e-6)), where total is the
 * p-norm of all gradients taken together (normType 2 by default; any finite p > 0).
 * Returns the total norm before clipping, as a scalar tensor, so nothing is read
 * back to the host.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number, normType = 2): Tensor {
  if (!(maxNorm >= 0)) throw new Error(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}.`);
  if (!(normType > 0 && Number.isFinite(normType)))
    throw new Error(`clipGradNorm: normType must be a finite number > 0, got ${normType}.`);

  return noGrad(() => {
    const withGrad = params.filter((p) => p.grad);
    if (withGrad.length === 0) return full([], 0);

    // total = (sum_i sum |g_i|^p)^(1/p); the square root path avoids abs and pow for p = 2.
    let total: Tensor | null = null;
    for (const p of withGrad) {
      const g = p.grad!;
      const part = normType === 2 ? sum(mul(g, g)) : sum(powScalar(abs(g), normType));
      total = total ? add(total, part) : part;
    }
    const norm = normType === 2 ? sqrt(total!) : powScalar(total!, 1 / normType);

    const coef = minimum(div(full([], maxNorm), addScalar(norm, 1e-6)), 1);
    for (const p of withGrad) replaceGrad(p, mul(p.grad!, coef));
    return norm;
  });
}

/** Clamps every gradient element to [-clipValue, clipValue]. */
export function clipGradValue(params: Tensor[], clipValue: number): void {
  if (!(clipValue >= 0))
    throw new Error(`clipGradValue: clipValue must be >= 0, got ${clipValue}.`);
  noGrad(() => {
    for (const p of params) {
      if (p.grad) replaceGrad(p, minimum(maximum(p.grad, -clipValue), clipValue));
    }
  });
}
