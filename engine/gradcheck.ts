// Finite-difference checks of first and second derivatives, with tolerances
// that suit f32 arithmetic.

import { grad } from './autograd';
import { numel } from './shape';
import { tidy } from './memory';
import { add, mul, sum } from './ops/api';
import { tensor } from './ops/creation';
import type { Tensor } from './tensor';

export interface GradcheckOptions {
  /** Finite-difference step. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Inputs with at most this many elements in total are checked element by element; larger ones along random directions. */
  maxElementwise?: number;
  /** Number of random directions for large inputs. */
  directions?: number;
  /** Seed of the host-side generator for projections and directions. */
  seed?: number;
}

type Fn = (...inputs: Tensor[]) => Tensor;

// Mulberry32: a small seeded generator, so a check is reproducible.
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValues(count: number, next: () => number): Float32Array {
  return Float32Array.from({ length: count }, () => 2 * next() - 1);
}

function randomLike(shape: readonly number[], next: () => number): Tensor {
  return tensor(randomValues(numel(shape), next), { shape });
}

/**
 * Checks the gradients of fn at `inputs` (the f32 ones that require grad)
 * against central differences of the scalar sum(fn(inputs) * v) for a fixed
 * random v. Returns true, or throws naming the input, the element or direction,
 * and both values.
 */
export async function gradcheck(
  fn: Fn,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): Promise<true> {
  const eps = options.eps ?? 1e-3;
  const atol = options.atol ?? 1e-2;
  const rtol = options.rtol ?? 1e-2;
  const next = generator(options.seed ?? 1234);

  const hostInputs = await Promise.all(
    inputs.map(async (input) => Float32Array.from(await input.data())),
  );
  const checked = inputs.map((input, i) => i).filter((i) => inputs[i].requiresGrad);
  if (checked.length === 0)
    throw new Error(
      'gradcheck: no input requires grad; call requiresGrad_() on the inputs to check.',
    );

  // The projection v that turns any output into a scalar.
  const projection = randomLike(
    tidy(() => [...fn(...inputs).shape]),
    next,
  );
  const scalar = (...xs: Tensor[]) => sum(mul(fn(...xs), projection));

  // Analytic gradients.
  // An output that does not depend on the inputs through the tape (for example the
  // gradient of a linear function, in gradgradcheck) has an analytic gradient of zero.
  const analyticTensors = tidy(() => {
    const out = scalar(...inputs);
    const wrt = checked.map((i) => inputs[i]);
    return out.requiresGrad ? grad(out, wrt, { allowUnused: true }) : wrt.map(() => null);
  });
  const analytic = await Promise.all(
    analyticTensors.map((g, k) =>
      g ? g.data() : Promise.resolve(new Float32Array(inputs[checked[k]].size)),
    ),
  );
  for (const g of analyticTensors) g?.dispose();

  // Evaluates the scalar with input i replaced by host values. Grad mode stays on
  // because gradgradcheck's function itself calls grad.
  const evaluate = async (i: number, values: Float32Array): Promise<number> => {
    const result = tidy(() => {
      const replaced = inputs.map((input, j) =>
        j === i ? tensor(values, { shape: input.shape, requiresGrad: input.requiresGrad }) : input,
      );
      return scalar(...replaced).detach();
    });
    const value = (await result.data())[0];
    result.dispose();
    return value;
  };

  const totalElements = checked.reduce((count, i) => count + inputs[i].size, 0);
  const elementwise = totalElements <= (options.maxElementwise ?? 96);
  const failures: string[] = [];

  for (const [k, i] of checked.entries()) {
    const base = hostInputs[i];
    const analyticGrad = analytic[k];
    const directions: Float32Array[] = elementwise
      ? Array.from({ length: base.length }, (_, j) => {
          const e = new Float32Array(base.length);
          e[j] = 1;
          return e;
        })
      : Array.from({ length: options.directions ?? 4 }, () => randomValues(base.length, next));

    const pending = directions.map(async (direction, d) => {
      const plus = base.map((x, j) => x + eps * direction[j]);
      const minus = base.map((x, j) => x - eps * direction[j]);
      const [fPlus, fMinus] = await Promise.all([evaluate(i, plus), evaluate(i, minus)]);
      const numeric = (fPlus - fMinus) / (2 * eps);
      let expected = 0;
      for (let j = 0; j < base.length; j++) expected += analyticGrad[j] * direction[j];
      if (!(Math.abs(numeric - expected) <= atol + rtol * Math.abs(numeric))) {
        const where = elementwise ? `element ${d}` : `random direction ${d}`;
        failures.push(
          `input ${i}, ${where}: analytic ${expected.toPrecision(6)}, numeric ${numeric.toPrecision(6)}`,
        );
      }
    });
    await Promise.all(pending);
  }
  projection.dispose();

  if (failures.length > 0) {
    throw new Error(
      `gradcheck failed (eps ${eps}, atol ${atol}, rtol ${rtol}):\n  ${failures.slice(0, 10).join('\n  ')}`,
    );
  }
  return true;
}

/**
 * Checks second derivatives: runs gradcheck on the scalar function
 * sum_i <d(sum(fn * v))/d input_i, w_i>, whose gradient is a Hessian-vector product.
 */
export async function gradgradcheck(
  fn: Fn,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): Promise<true> {
  const next = generator((options.seed ?? 1234) + 1);
  const checked = inputs.filter((input) => input.requiresGrad);
  const projection = randomLike(
    tidy(() => [...fn(...inputs).shape]),
    next,
  );
  const weights = checked.map((input) => randomLike(input.shape, next));

  const firstOrder = (...xs: Tensor[]): Tensor => {
    const wrt = xs.filter((_, i) => inputs[i].requiresGrad);
    const grads = grad(sum(mul(fn(...xs), projection)), wrt, {
      createGraph: true,
      allowUnused: true,
    });
    let total: Tensor | null = null;
    grads.forEach((g, k) => {
      if (!g) return;
      const term = sum(mul(g, weights[k]));
      total = total ? add(total, term) : term;
    });
    if (!total)
      throw new Error(
        'gradgradcheck: the function does not depend on any input that requires grad.',
      );
    return total;
  };

  try {
    return await gradcheck(firstOrder, inputs, options);
  } finally {
    projection.dispose();
    for (const w of weights) w.dispose();
  }
}
