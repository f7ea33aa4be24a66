// Every primitive op and the attributes its forward and backward receive. The
// registry must hold a rule for each key, so adding a primitive here without a
// forward and a backward is a compile error.

type NoAttrs = Record<string, never>;

export interface Reduction {
  /** Sorted, non-negative axes to reduce. */
  axes: number[];
  keepdim: boolean;
}

export interface Primitives {
  // elementwise.ts: unary
  neg: NoAttrs;
  exp: NoAttrs;
  log: NoAttrs;
  sqrt: NoAttrs;
  abs: NoAttrs;
  relu: NoAttrs;
  sigmoid: NoAttrs;
  tanh: NoAttrs;
  sign: NoAttrs;
  /** d relu/dx: 1 where x > 0, else 0. */
  relu_mask: NoAttrs;
  /** d leaky_relu/dx: 1 where x > 0, else slope. */
  leaky_relu_slope: { slope: number };
  pow_scalar: { exponent: number };
  mul_scalar: { value: number };
  add_scalar: { value: number };
  copy: NoAttrs;

  // elementwise.ts: binary, broadcasting
  add: NoAttrs;
  sub: NoAttrs;
  mul: NoAttrs;
  div: NoAttrs;
  pow: NoAttrs;
  maximum: NoAttrs;
  minimum: NoAttrs;
  eq: NoAttrs;
  gt: NoAttrs;
  lt: NoAttrs;
  ge: NoAttrs;
  le: NoAttrs;
  /** Inputs: condition, a, b. */
  where: NoAttrs;

  // reduce.ts
  sum: Reduction;

  // shape.ts
  reshape: { shape: number[] };
  expand: { shape: number[] };
  permute: { dims: number[] };

  // matmul.ts
  matmul: { transA: boolean; transB: boolean };

  // losses-distance family: softmax.ts and distance.ts
  /** axis: the non-negative axis normalised over. */
  softmax: { axis: number };
  log_softmax: { axis: number };
  /** Input: i32 labels; output: f32 [...labels.shape, numClasses]. */
  one_hot: { numClasses: number };
  pairwise_squared_euclidean: NoAttrs;
  /** eps: lower bound of the norm product in the denominator. */
  pairwise_cosine_similarity: { eps: number };
}

export type Primitive = keyof Primitives;
