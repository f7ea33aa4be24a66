// The engine's public surface.

import { bindGradOps } from './autograd';
import { add, clone, onesLike } from './ops/api';

bindGradOps({ add: (a, b) => add(a, b), onesLike, clone });

export * from './ops/api';
export { Tensor, type DType, type NestedArray } from './tensor';
export {
  grad,
  gradAsync,
  backward,
  backwardAsync,
  noGrad,
  enableGrad,
  isGradEnabled,
  recordTape,
  type GradOptions,
  type Node,
} from './autograd';
export {
  StorageLimitError,
  maxTensorBytes,
  tidy,
  tidyAsync,
  keep,
  memory,
  resetPeakMemory,
  emptyCache,
  type MemoryInfo,
} from './memory';
export { init, adapterDescription } from '../kernels/gpu';
export { flush, sync, dispatchCount, yieldEventLoop } from '../kernels/runtime';
export { profile } from '../kernels/runtime';
export type { Profile, ProfileRow } from '../kernels/profile';
export type { Primitive } from './ops/primitives';
export { gradcheck, gradgradcheck, type GradcheckOptions } from './gradcheck';

// ---- layers, optimizers, checkpoints ----
export * as nn from './nn/index';
export { functionalCall, functionalCallWith, functionalView } from './nn/module';
export * as optim from './optim/index';
export {
  encodeSafetensors,
  decodeSafetensors,
  saveSafetensors,
  loadSafetensors,
  saveModule,
  loadModule,
  saveOptimizer,
  loadOptimizer,
  type StoredTensor,
  type SafetensorsContents,
} from './checkpoint';
