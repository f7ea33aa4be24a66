// Standard few-shot models, with PyTorch-style parameter names
// (`features.0.weight`, `head.bias`, `layer1.conv1.weight`) so weights move
// between the two with safetensors. Each takes `featuresOnly` to drop the head
// and return the embedding, whose width is `featureDim`.

import { add } from '../ops/elementwise';
import { mean } from '../ops/reduce';
import { flatten } from '../ops/shape';
import type { Tensor } from '../tensor';
import { LeakyReLU, ReLU } from './activation';
import { Sequential, type Layer } from './containers';
import { Conv2d } from './conv';
import { checkPositiveInt } from './init';
import { Linear } from './linear';
import { Module } from './module';
import { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './norm';
import { MaxPool2d } from './pool';

export interface HeadOptions {
  /** Size of the output layer (the number of ways for a classifier). */
  outFeatures?: number;
  /** Leave out the head: forward returns the flattened features. */
  featuresOnly?: boolean;
}

/** A feature extractor followed by an optional linear head. */
export class FeatureModel extends Module {
  readonly features: Sequential;
  readonly head: Linear | null;
  /** Width of the feature vector that the head (if any) reads. */
  readonly featureDim: number;
  /** Width of forward's output: outFeatures with a head, featureDim without. */
  readonly outFeatures: number;

  constructor(features: Sequential, featureDim: number, options: HeadOptions, defaultOut: number) {
    super();
    this.features = this.registerModule('features', features);
    this.featureDim = featureDim;
    const outFeatures = options.outFeatures ?? defaultOut;
    checkPositiveInt('model', 'outFeatures', outFeatures);
    this.head = options.featuresOnly
      ? null
      : this.registerModule('head', new Linear(featureDim, outFeatures));
    this.outFeatures = this.head ? outFeatures : featureDim;
  }

  /** Returns the flattened features [N, featureDim]. */
  embed(x: Tensor): Tensor {
    return flatten(this.features.forward(x), 1);
  }

  forward(x: Tensor): Tensor {
    const features = this.embed(x);
    return this.head ? this.head.forward(features) : features;
  }
}

export interface ConvNet4Options extends HeadOptions {
  /** Input channels: 1 for Omniglot (default), 3 for miniImageNet. */
  inChannels?: number;
  /** Channels of every block (default 64). */
  hidden?: number;
  /** Input height and width (default 28; 84 for miniImageNet). */
  imageSize?: number;
  /** Options of every BatchNorm layer, e.g. trackRunningStats: false to always use batch statistics. */
  batchNorm?: BatchNormOptions;
  /**
   * How many blocks, counted from the first, end in the 2x2 max-pool (default 4).
   * Relation Networks pool only the first two, so a 28x28 input keeps 7x7 feature maps.
   */
  pooledBlocks?: number;
}

/**
 * Builds the 4-block conv net used by MAML and Prototypical Networks. Each block is
 * conv3x3 (padding 1) -> BatchNorm -> ReLU -> 2x2 max-pool, so a 28x28 input
 * ends at 1x1 and an 84x84 input at 5x5; default head of 5 outputs.
 */
export function convNet4(options: ConvNet4Options = {}): FeatureModel {
  const inChannels = options.inChannels ?? 1;
  const hidden = options.hidden ?? 64;
  let size = options.imageSize ?? 28;
  const pooledBlocks = options.pooledBlocks ?? 4;
  checkPositiveInt('convNet4', 'hidden', hidden);
  if (!Number.isInteger(pooledBlocks) || pooledBlocks < 0 || pooledBlocks > 4)
    throw new Error(`convNet4: pooledBlocks ${pooledBlocks} is invalid; use an integer in [0, 4].`);
  const layers: Layer[] = [];
  for (let block = 0; block < 4; block++) {
    layers.push(
      new Conv2d(block === 0 ? inChannels : hidden, hidden, 3, { padding: 1 }),
      new BatchNorm2d(hidden, options.batchNorm),
      new ReLU(),
    );
    if (block < pooledBlocks) {
      layers.push(new MaxPool2d(2));
      size = Math.floor(size / 2);
    }
  }
  if (size < 1)
    throw new Error(
      `convNet4: imageSize ${options.imageSize} is too small for ${pooledBlocks} 2x2 poolings; use at least ${2 ** pooledBlocks}.`,
    );
  return new FeatureModel(new Sequential(...layers), hidden * size * size, options, 5);
}

export interface MlpOptions extends HeadOptions {
  inFeatures?: number;
  hidden?: number[];
  /** Options of every BatchNorm layer (omniglotMlp only). */
  batchNorm?: BatchNormOptions;
}

/** Builds MAML's Omniglot MLP: 784 -> 256 -> 128 -> 64 -> 64, each Linear -> BatchNorm1d -> ReLU, with a head of 5. */
export function omniglotMlp(options: MlpOptions = {}): FeatureModel {
  const hidden = options.hidden ?? [256, 128, 64, 64];
  const layers: Layer[] = [];
  let width = options.inFeatures ?? 784;
  for (const next of hidden) {
    layers.push(new Linear(width, next), new BatchNorm1d(next, options.batchNorm), new ReLU());
    width = next;
  }
  return new FeatureModel(new Sequential(...layers), width, options, 5);
}

/** Builds MAML's sinusoid-regression MLP: 1 -> 40 -> 40 -> 1 with ReLU. */
export function sineMlp(options: MlpOptions = {}): FeatureModel {
  const hidden = options.hidden ?? [40, 40];
  const layers: Layer[] = [];
  let width = options.inFeatures ?? 1;
  for (const next of hidden) {
    layers.push(new Linear(width, next), new ReLU());
    width = next;
  }
  return new FeatureModel(new Sequential(...layers), width, options, 1);
}

/**
 * A ResNet-12 block: three conv3x3 (no bias) -> BatchNorm layers with
 * LeakyReLU between them, a conv1x1 -> BatchNorm shortcut added before the last
 * activation, then 2x2 max-pool.
 */
export class ResidualBlock extends Module {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm2d;
  private readonly conv3: Conv2d;
  private readonly bn3: BatchNorm2d;
  private readonly downsample: Sequential;
  private readonly activation: LeakyReLU;
  private readonly pool = new MaxPool2d(2);

  constructor(inChannels: number, outChannels: number, negativeSlope: number) {
    super();
    const conv3x3 = (cin: number) => new Conv2d(cin, outChannels, 3, { padding: 1, bias: false });
    this.conv1 = this.registerModule('conv1', conv3x3(inChannels));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(outChannels));
    this.conv2 = this.registerModule('conv2', conv3x3(outChannels));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(outChannels));
    this.conv3 = this.registerModule('conv3', conv3x3(outChannels));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(outChannels));
    this.downsample = this.registerModule(
      'downsample',
      new Sequential(
        new Conv2d(inChannels, outChannels, 1, { bias: false }),
        new BatchNorm2d(outChannels),
      ),
    );
    this.activation = new LeakyReLU(negativeSlope);
  }

  forward(x: Tensor): Tensor {
    let out = this.activation.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.activation.forward(this.bn2.forward(this.conv2.forward(out)));
    out = this.bn3.forward(this.conv3.forward(out));
    out = this.activation.forward(add(out, this.downsample.forward(x)));
    return this.pool.forward(out);
  }
}

export interface ResNet12Options extends HeadOptions {
  inChannels?: number;
  /** Output channels of the four blocks (default 64, 160, 320, 640). */
  channels?: [number, number, number, number];
  /** LeakyReLU slope (default 0.1). */
  negativeSlope?: number;
}

/**
 * ResNet-12 as few-shot papers use it: four residual blocks `layer1`..`layer4`
 * and a global average pool to channels[3] features. The default head has 5 outputs.
 */
export class ResNet12 extends Module {
  readonly blocks: ResidualBlock[];
  readonly head: Linear | null;
  readonly featureDim: number;
  readonly outFeatures: number;

  constructor(options: ResNet12Options = {}) {
    super();
    const channels = options.channels ?? [64, 160, 320, 640];
    const slope = options.negativeSlope ?? 0.1;
    let inChannels = options.inChannels ?? 3;
    this.blocks = channels.map((out, i) => {
      checkPositiveInt('ResNet12', `channels[${i}]`, out);
      const block = this.registerModule(`layer${i + 1}`, new ResidualBlock(inChannels, out, slope));
      inChannels = out;
      return block;
    });
    this.featureDim = channels[3];
    const outFeatures = options.outFeatures ?? 5;
    this.head = options.featuresOnly
      ? null
      : this.registerModule('head', new Linear(this.featureDim, outFeatures));
    this.outFeatures = this.head ? outFeatures : this.featureDim;
  }

  /** Returns the pooled features [N, channels[3]]. */
  embed(x: Tensor): Tensor {
    let out = x;
    for (const block of this.blocks) out = block.forward(out);
    return mean(out, [2, 3]);
  }

  forward(x: Tensor): Tensor {
    const features = this.embed(x);
    return this.head ? this.head.forward(features) : features;
  }
}

export function resNet12(options: ResNet12Options = {}): ResNet12 {
  return new ResNet12(options);
}
