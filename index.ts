// metagrad: tensors and autograd to any order on WebGPU.
//
// Importing the package starts acquiring the GPU device, so ops can be called
// right away; a failure is stored and thrown, with what to install, by the first op.

import { init } from './kernels/gpu';

export * from './engine/index';

await init().catch(() => undefined);
