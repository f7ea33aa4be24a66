// Gradient reversal (Ganin and Lempitsky 2015): the identity in the forward pass,
// multiplication of the incoming gradient by -lambda in the backward pass. DANN
// puts it between the feature extractor and the domain classifier, so one
// backward pass trains the classifier to tell the domains apart and the
// features to make them indistinguishable.

import { unary } from '../../kernels/elementwise';
import { apply, type RuleTable } from '../autograd';
import { Tensor } from '../tensor';
import { mulScalar } from './elementwise';

export const reversalRules: RuleTable<'grad_reverse'> = {
  grad_reverse: {
    forward: ([x]) => {
      if (x.dtype !== 'f32')
        throw new Error(`gradReverse: expected an f32 tensor, got ${x.dtype}.`);
      const out = Tensor.empty(x.shape, 'f32', 'grad_reverse');
      if (out.size > 0) unary('copy', x.buffer, out.buffer, x.size);
      return out;
    },
    // The backward is itself the linear map -lambda I, written with a
    // differentiable op, so a gradient of this gradient passes through the
    // reversal again: for L = f(gradReverse(x)), dL/dx = -lambda f'(x) and
    // d/dx (sum dL/dx) = lambda^2 f''(x), as PyTorch gives for the same rule.
    backward: (g, { attrs }) => [mulScalar(g, -attrs.lambda)],
  },
};

/** Returns x unchanged; its gradient is multiplied by -lambda on the way back. */
export function gradReverse(x: Tensor, lambda = 1): Tensor {
  if (!Number.isFinite(lambda))
    throw new Error(`gradReverse: lambda ${lambda} is invalid; use a finite number.`);
  return apply('grad_reverse', [x], { lambda });
}
