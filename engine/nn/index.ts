// The layer library.

export {
  Module,
  functionalCall,
  functionalCallWith,
  functionalView,
  type FunctionalView,
  type FunctionalCallOptions,
  type TensorMap,
} from './module';
export { Linear, type LinearOptions } from './linear';
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './norm';
export { ReLU, LeakyReLU, Sigmoid, Tanh } from './activation';
export { Dropout } from './dropout';
export { Sequential, Flatten, Identity, type Layer } from './containers';
export { LSTMCell, type LSTMCellOptions, type LSTMState } from './recurrent';
export { Conv2d, type Conv2dLayerOptions } from './conv';
export { MaxPool2d, AvgPool2d } from './pool';
export {
  FeatureModel,
  ResidualBlock,
  ResNet12,
  convNet4,
  omniglotMlp,
  sineMlp,
  resNet12,
  type HeadOptions,
  type ConvNet4Options,
  type MlpOptions,
  type ResNet12Options,
} from './models';
