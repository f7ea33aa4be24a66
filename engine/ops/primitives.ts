// Every primitive op and the attributes its forward and backward receive. The
// registry must hold a rule for each key, so adding a primitive here without a
// forward and a backward is a compile error.

type NoAttrs = Record<string, never>;

export interface Reduction {
  /** Sorted, non-negative axes to reduce. */
  axes: number[];
  keepdim: boolean;
}

// ops-index family: reductions, slicing, joining, gathering, casts.
/** A strided selection: element i along dimension d is starts[d] + i * steps[d]. */
export interface SliceView {
  starts: number[];
  steps: number[];
  /** Shape of the op's output: the slice for slice, the padded tensor for slice_pad. */
  shape: number[];
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
  /** relu's backward in one pass: inputs g and x, g where x > 0, else 0. */
  relu_backward: NoAttrs;
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

  // ops-index family. reduce.ts: max and min values, first index of the extreme.
  amax: Reduction;
  amin: Reduction;
  argmax: Reduction;
  argmin: Reduction;
  // indexing.ts
  slice: SliceView;
  /** The adjoint of slice: zeros of attrs.shape with the input written at the slice. */
  slice_pad: SliceView;
  concat: { axis: number };
  /** Inputs: x, 1-D i32 index. */
  index_select: { axis: number };
  /** Inputs: x, 1-D i32 index, source. */
  index_add: { axis: number };
  /** Inputs: x, i32 index of x's rank. */
  gather: { axis: number };
  /** Inputs: x, i32 index, src. */
  scatter_add: { axis: number };
  to_float: NoAttrs;
  to_int: NoAttrs;

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

// conv-pool family: convolution and pooling (conv.ts, pool.ts)
export interface ConvAttrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export interface PoolAttrs {
  kernelSize: [number, number];
  stride: [number, number];
  padding: [number, number];
}

// A second declaration of Primitives, merged with the first by TypeScript.
export interface Primitives {
  conv2d: ConvAttrs;
  /** Adjoint of conv2d in its input; inputs y and w in conv2d's geometry. */
  conv_transpose2d: ConvAttrs & { outputPadding: [number, number] };
  /** Adjoint of conv2d in its weight; inputs x and y. */
  conv2d_weight_grad: ConvAttrs & { kernelSize: [number, number] };
  /** i32 index (h * W + w) of each window's first maximum; not differentiable. */
  max_pool2d_argmax: PoolAttrs;
  /** out[n, c, o] = x[n, c, index[n, c, o]]; inputs x and the i32 index. */
  pool_gather: PoolAttrs;
  /** Adjoint of pool_gather: sums g into the positions the index names. */
  pool_scatter: PoolAttrs & { inputSize: [number, number] };
  avg_pool2d: PoolAttrs & { countIncludePad: boolean };
  /** Adjoint of avg_pool2d. */
  avg_pool2d_backward: PoolAttrs & { countIncludePad: boolean; inputSize: [number, number] };
}
// end conv-pool family

// BatchNorm's fused arithmetic (norm.ts) and the sums of two inputs it needs (reduce.ts).
export interface Primitives {
  /**
   * Inputs x, a, c: x * a + c in one pass. a and c share one shape of x's rank
   * that broadcasts to x's, such as per-channel [1, C, 1, 1].
   */
  mul_add: NoAttrs;
  /** Inputs x, a, y, b, c: x * a + y * b + c in one pass. y has x's shape, and a, b and c are as in mul_add. */
  mul_add2: NoAttrs;
  /** Inputs x, y of one shape: the sum of x * y over the axes. */
  sum_product: Reduction;
  /** Inputs x and m, m of the reduced shape with kept dimensions: the sum of (x - m)^2. */
  sum_sq_dev: Reduction;
  /**
   * Inputs x, mean, variance, weight, bias, the last four of x's reduced shape
   * over `axes` with kept dimensions: (x - mean) / sqrt(variance + eps) * weight + bias.
   * mean and variance must be x's (biased) statistics over `axes`: the backward
   * returns x's whole gradient, through the statistics too, and none for them.
   */
  batch_norm: { axes: number[]; eps: number };
}

// Gradient reversal (reversal.ts): identity forward, gradient times -lambda backward.
export interface Primitives {
  grad_reverse: { lambda: number };
}

export type Primitive = keyof Primitives;
