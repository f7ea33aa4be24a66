// The models the transfer methods train: a stack of blocks and a linear head.
// Fine-tuning strategies freeze, unfreeze and give learning rates to whole
// blocks, so the model exposes its parameters block by block.

import * as mg from '../../engine/index';
import { Module } from '../../engine/nn/module';
import type { Tensor } from '../../engine/tensor';

export type BackboneKind = 'mlp' | 'conv';
export const BACKBONE_KINDS: readonly BackboneKind[] = ['mlp', 'conv'];

export interface BackboneOptions {
  /** 'mlp': Linear -> BatchNorm1d -> ReLU blocks; 'conv': conv3x3 -> BatchNorm2d -> ReLU -> 2x2 max-pool blocks. */
  kind: BackboneKind;
  /** [channels, height, width] of one input image. */
  imageShape: [number, number, number];
  /** Output width of each block: units for 'mlp', channels for 'conv'. */
  widths: number[];
  /** Outputs of the head; 0 leaves the head out. */
  outFeatures: number;
}

/** A feature extractor of blocks followed by an optional linear head named `head`. */
export class BlockNet extends Module {
  readonly blocks: mg.nn.Sequential[];
  readonly head: mg.nn.Linear | null;
  /** Width of the flattened features the head reads. */
  readonly featureDim: number;
  readonly options: BackboneOptions;

  constructor(options: BackboneOptions) {
    super();
    this.options = options;
    const [channels, height, width] = options.imageShape;
    if (options.widths.length === 0 || options.widths.some((w) => !Number.isInteger(w) || w < 1))
      throw new Error(
        `BlockNet: widths [${options.widths.join(', ')}] are invalid; give at least one positive integer.`,
      );
    let inWidth = options.kind === 'mlp' ? channels * height * width : channels;
    let size = Math.min(height, width);
    this.blocks = options.widths.map((out, i) => {
      let block: mg.nn.Sequential;
      if (options.kind === 'mlp') {
        block = new mg.nn.Sequential(
          new mg.nn.Linear(inWidth, out),
          new mg.nn.BatchNorm1d(out),
          new mg.nn.ReLU(),
        );
      } else {
        block = new mg.nn.Sequential(
          new mg.nn.Conv2d(inWidth, out, 3, { padding: 1 }),
          new mg.nn.BatchNorm2d(out),
          new mg.nn.ReLU(),
          new mg.nn.MaxPool2d(2),
        );
        size = Math.floor(size / 2);
        if (size < 1)
          throw new Error(
            `BlockNet: ${options.widths.length} conv blocks halve a ${height}x${width} image below 1x1; use fewer widths.`,
          );
      }
      inWidth = out;
      return this.registerModule(`block${i}`, block);
    });
    const last = options.widths[options.widths.length - 1];
    this.featureDim = options.kind === 'mlp' ? last : last * size * size;
    this.head =
      options.outFeatures > 0
        ? this.registerModule('head', new mg.nn.Linear(this.featureDim, options.outFeatures))
        : null;
  }

  /** Runs blocks 0..upTo (inclusive) and returns that block's output, unflattened. */
  blockOutput(x: Tensor, upTo: number): Tensor {
    let out = this.options.kind === 'mlp' ? mg.flatten(x, 1) : x;
    for (let i = 0; i <= upTo; i++) out = this.blocks[i].forward(out);
    return out;
  }

  /** Returns the flattened features [N, featureDim]. */
  embed(x: Tensor): Tensor {
    return mg.flatten(this.blockOutput(x, this.blocks.length - 1), 1);
  }

  forward(x: Tensor): Tensor {
    const features = this.embed(x);
    if (!this.head) return features;
    return this.head.forward(features);
  }

  /**
   * Returns the trainable units from the input upwards: each block, then the head.
   * Names are the model's dotted parameter names.
   */
  parameterBlocks(): { name: string; params: [string, Tensor][] }[] {
    const all = this.namedParameters();
    const units = this.blocks.map((_, i) => `block${i}`);
    if (this.head) units.push('head');
    return units.map((unit) => ({
      name: unit,
      params: all.filter(([name]) => name.startsWith(`${unit}.`)),
    }));
  }

  /** Returns the number of parameters (weights, not buffers). */
  parameterCount(): number {
    return this.parameters().reduce((total, p) => total + p.size, 0);
  }
}

/**
 * Copies every tensor of `from` whose name and shape `to` shares, so a target
 * model starts from a pretrained backbone; names for which `skip` returns true
 * (a new head, say) keep their fresh values. Returns the names copied.
 */
export function copyMatchingState(
  from: Module,
  to: Module,
  skip: (name: string) => boolean = () => false,
): string[] {
  const target = to.stateDict();
  const copied = new Map<string, Tensor>();
  for (const [name, value] of from.stateDict()) {
    const own = target.get(name);
    if (skip(name)) continue;
    if (
      own &&
      own.shape.length === value.shape.length &&
      own.shape.every((s, i) => s === value.shape[i])
    )
      copied.set(name, value);
  }
  to.loadStateDict(copied, { strict: false });
  return [...copied.keys()];
}
