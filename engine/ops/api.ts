// Every public op function, gathered for the Tensor methods and the package index.

export * from './creation';
export * from './elementwise';
export * from './reduce';
export * from './shape';
export * from './matmul';
// ops-index family
export * from './indexing';
// losses-distance family
export * from './softmax';
export * from './loss';
export * from './distance';
// conv-pool family
export * from './conv';
export * from './pool';
// gradient reversal
export * from './reversal';
// BatchNorm's fused arithmetic
export * from './norm';
