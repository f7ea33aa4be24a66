// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_.
// Both replace each parameter's `.grad` with the clipped tensor, outside the tape.

import { noGrad } from '../autograd';
import { keep, tidy } from '../memory';
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
import { max, sum } from '../ops/reduce';
import type { Tensor } from '../tensor';

// The new gradients are kept out of tidy scopes, as backward() keeps the ones it
// writes. Two parameters can hold the same gradient tensor (the backward of
// a + b passes one upstream gradient to both), so every new gradient is computed
// before any old one is disposed, and each old one is disposed once.
function replaceGrads(params: Tensor[], next: (grad: Tensor) => Tensor): void {
  const old = new Set<Tensor>();
  const updated = params.map((p) => {
    old.add(p.grad!);
    return keep(next(p.grad!));
  });
  params.forEach((p, i) => (p.grad = updated[i]));
  for (const grad of old) grad.dispose();
}

/**
 * Scales all gradients by min(1, maxNorm / (total + 1e-6)), where total is the
 * p-norm of all gradients taken together (normType 2 by default, any p > 0, or
 * Infinity for the largest absolute value).
 * Returns the total norm before clipping, as a scalar tensor, so nothing is read
 * back to the host.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number, normType = 2): Tensor {
  if (!(maxNorm >= 0)) throw new Error(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}.`);
  if (!(normType > 0))
    throw new Error(`clipGradNorm: normType must be > 0 or Infinity, got ${normType}.`);

  // tidy frees the partial sums; the returned norm and the kept gradients survive it.
  return tidy(() =>
    noGrad(() => {
      const withGrad = params.filter((p) => p.grad);
      if (withGrad.length === 0) return full([], 0);

      // total = (sum_i sum |g_i|^p)^(1/p), or max_i max |g_i| for p = Infinity.
      const parts = withGrad.map((p) => {
        const g = p.grad!;
        if (normType === Infinity) return max(abs(g));
        return normType === 2 ? sum(mul(g, g)) : sum(powScalar(abs(g), normType));
      });
      let total = parts[0];
      for (const part of parts.slice(1))
        total = normType === Infinity ? maximum(total, part) : add(total, part);
      let norm = total;
      if (normType === 2) norm = sqrt(total);
      else if (normType !== Infinity) norm = powScalar(total, 1 / normType);

      const coef = minimum(div(full([], maxNorm), addScalar(norm, 1e-6)), 1);
      replaceGrads(withGrad, (grad) => mul(grad, coef));
      return norm;
    }),
  );
}

/** Clamps every gradient element to [-clipValue, clipValue]. */
export function clipGradValue(params: Tensor[], clipValue: number): void {
  if (!(clipValue >= 0))
    throw new Error(`clipGradValue: clipValue must be >= 0, got ${clipValue}.`);
  tidy(() =>
    noGrad(() => {
      replaceGrads(
        params.filter((p) => p.grad),
        (grad) => minimum(maximum(grad, -clipValue), clipValue),
      );
    }),
  );
}
