// The layer library.

export {
  Module,
  functionalCall,
  functionalCallWith,
  type FunctionalCallOptions,
  type TensorMap,
} from './module';
export { Linear, type LinearOptions } from './linear';
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './norm';
export { ReLU, LeakyReLU, Sigmoid, Tanh } from './activation';
export { Dropout } from './dropout';
export { Sequential, Flatten, Identity, type Layer } from './containers';
export { LSTMCell, type LSTMCellOptions, type LSTMState } from './recurrent';
