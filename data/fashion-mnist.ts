// Fashion-MNIST (Xiao et al. 2017) from its four IDX gz files, the source/target
// class split for transfer experiments, and shifted target domains for domain
// adaptation: a colour-blended domain made the way MNIST-M was made from MNIST,
// an inverted one and a rotated one.

import { join } from 'node:path';
import type { ImageStore } from './episodes';
import { readIdx } from './idx';
import { Rng } from './rng';

/** The folder the Debian package dataset-fashion-mnist installs. */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** Images with one label each. */
export interface LabelledImages {
  store: ImageStore;
  labels: Int32Array;
}

export interface FashionMnist {
  train: LabelledImages;
  test: LabelledImages;
}

async function readPart(dir: string, prefix: 'train' | 't10k'): Promise<LabelledImages> {
  const imageFile = join(dir, `${prefix}-images-idx3-ubyte.gz`);
  const labelFile = join(dir, `${prefix}-labels-idx1-ubyte.gz`);
  const images = await readIdx(imageFile);
  const labels = await readIdx(labelFile);
  if (images.shape.length !== 3)
    throw new Error(
      `${imageFile}: expected a 3-D IDX array [count, height, width], got shape [${images.shape.join(', ')}].`,
    );
  if (labels.shape.length !== 1 || labels.shape[0] !== images.shape[0])
    throw new Error(
      `${labelFile}: expected ${images.shape[0]} labels to match ${imageFile}, got shape [${labels.shape.join(', ')}].`,
    );
  for (const label of labels.data)
    if (label > 9) throw new Error(`${labelFile}: label ${label} is outside 0-9.`);
  return {
    store: { channels: 1, height: images.shape[1], width: images.shape[2], pixels: images.data },
    labels: Int32Array.from(labels.data),
  };
}

/** Loads the training (60,000) and test (10,000) images from `dir`. */
export async function loadFashionMnist(dir = DEFAULT_FASHION_MNIST_DIR): Promise<FashionMnist> {
  return { train: await readPart(dir, 'train'), test: await readPart(dir, 't10k') };
}

/** Returns the number of images in a set. */
export function imageCount(images: LabelledImages): number {
  return images.labels.length;
}

/** Returns the images at `indices`, relabelled by `relabel` (original label -> new label). */
export function selectImages(
  images: LabelledImages,
  indices: readonly number[],
  relabel: (label: number) => number = (label) => label,
): LabelledImages {
  const { channels, height, width } = images.store;
  const size = channels * height * width;
  const pixels = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  indices.forEach((index, i) => {
    pixels.set(images.store.pixels.subarray(index * size, (index + 1) * size), i * size);
    labels[i] = relabel(images.labels[index]);
  });
  return { store: { channels, height, width, pixels }, labels };
}

/** The classes pretrained on (source) and transferred to (target), by original label. */
export const SOURCE_CLASSES = [0, 1, 2, 3, 4];
export const TARGET_CLASSES = [5, 6, 7, 8, 9];

export interface TransferSplit {
  /** Every training image of the source classes, labels 0-4. */
  sourceTrain: LabelledImages;
  /** Every test image of the source classes, labels 0-4. */
  sourceTest: LabelledImages;
  /** `shots` seeded training images per target class, labels 0-4 in TARGET_CLASSES order. */
  targetTrain: LabelledImages;
  /** Every test image of the target classes (1,000 per class), labels 0-4. */
  targetTest: LabelledImages;
}

function indicesOf(images: LabelledImages, classes: readonly number[]): number[] {
  const selected = new Set(classes);
  const out: number[] = [];
  images.labels.forEach((label, i) => {
    if (selected.has(label)) out.push(i);
  });
  return out;
}

/**
 * Splits Fashion-MNIST for transfer: source classes 0-4 in full, target classes
 * 5-9 with `shots` labelled training images per class drawn with `seed`, and
 * the full test split of both. The draw for a smaller `shots` is a prefix of the
 * draw for a larger one with the same seed, so a table over shots compares nested sets.
 */
export function transferSplit(data: FashionMnist, shots: number, seed: number): TransferSplit {
  if (!Number.isInteger(shots) || shots < 1)
    throw new Error(`--shots ${shots} is invalid; use a positive integer (1, 5, 10, 50).`);
  const toSource = (label: number) => SOURCE_CLASSES.indexOf(label);
  const toTarget = (label: number) => TARGET_CLASSES.indexOf(label);
  const rng = new Rng(seed);
  const picked: number[] = [];
  for (const label of TARGET_CLASSES) {
    const pool = indicesOf(data.train, [label]);
    if (shots > pool.length)
      throw new Error(
        `--shots ${shots} is more than the ${pool.length} training images of class ${label}; use at most ${pool.length}.`,
      );
    const order = rng.shuffle([...pool]);
    picked.push(...order.slice(0, shots));
  }
  return {
    sourceTrain: selectImages(data.train, indicesOf(data.train, SOURCE_CLASSES), toSource),
    sourceTest: selectImages(data.test, indicesOf(data.test, SOURCE_CLASSES), toSource),
    targetTrain: selectImages(data.train, picked, toTarget),
    targetTest: selectImages(data.test, indicesOf(data.test, TARGET_CLASSES), toTarget),
  };
}

/** Writes images[indices] into a new [n, C, H, W] array scaled to [0, 1]. */
export function imageBatch(images: LabelledImages, indices: readonly number[]): Float32Array {
  const { channels, height, width } = images.store;
  const size = channels * height * width;
  const out = new Float32Array(indices.length * size);
  indices.forEach((index, i) => {
    const base = index * size;
    for (let k = 0; k < size; k++) out[i * size + k] = images.store.pixels[base + k] / 255;
  });
  return out;
}

/** Returns the labels at `indices`. */
export function labelBatch(images: LabelledImages, indices: readonly number[]): Int32Array {
  return Int32Array.from(indices, (index) => images.labels[index]);
}

export type DomainShift = 'none' | 'blended' | 'inverted' | 'rotated';
export const DOMAIN_SHIFTS: readonly DomainShift[] = ['none', 'blended', 'inverted', 'rotated'];

export interface DomainOptions {
  /** Seed of the textures and of each image's patch choice (blended). */
  seed?: number;
  /** Rotation in degrees, counter-clockwise (rotated; default 30). */
  angle?: number;
  /** Output channels: 3 for blended, 1 or 3 for the others (default 1). */
  channels?: number;
}

const TEXTURE_SIZE = 96;
const TEXTURE_COUNT = 16;
const TEXTURE_MAX = 140;

/**
 * Generates colour textures, each a sum of a few random oriented sinusoids per
 * channel plus smoothed noise, so patches cut from them vary in colour and
 * structure as photo crops do. Returns [count, 3, size, size] bytes.
 */
export function makeTextures(seed: number, count = TEXTURE_COUNT, size = TEXTURE_SIZE): Uint8Array {
  const rng = new Rng(seed);
  const plane = size * size;
  const out = new Uint8Array(count * 3 * plane);
  for (let t = 0; t < count; t++) {
    const waves = Array.from({ length: 4 }, () => ({
      fx: rng.uniform(-0.35, 0.35),
      fy: rng.uniform(-0.35, 0.35),
      phase: rng.uniform(0, 2 * Math.PI),
    }));
    for (let c = 0; c < 3; c++) {
      // Textures stay in the darker half of the range, so |patch - image| keeps
      // the garment brighter than its background, as in the source domain.
      const base = rng.uniform(10, 100);
      const amplitude = rng.uniform(20, 70);
      const weights = waves.map(() => rng.uniform(-1, 1));
      // Noise smoothed by a running average along rows gives a grain that differs per channel.
      let grain = 0;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          let wave = 0;
          waves.forEach((w, k) => {
            wave += weights[k] * Math.sin(w.fx * x + w.fy * y + w.phase);
          });
          grain = 0.7 * grain + 0.3 * rng.uniform(-30, 30);
          const value = base + (amplitude * wave) / 2 + grain;
          out[(t * 3 + c) * plane + y * size + x] = Math.max(
            0,
            Math.min(TEXTURE_MAX, Math.round(value)),
          );
        }
      }
    }
  }
  return out;
}

function rotateImage(source: Uint8Array, size: number, angle: number, fill: number): Uint8Array {
  // Inverse mapping with bilinear interpolation about the image centre.
  const out = new Uint8Array(size * size);
  const radians = (angle * Math.PI) / 180;
  const cos = Math.cos(radians);
  const sin = Math.sin(radians);
  const centre = (size - 1) / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x - centre;
      const dy = y - centre;
      // A counter-clockwise turn on screen (y down) reads the source at the clockwise-turned point.
      const sx = cos * dx - sin * dy + centre;
      const sy = sin * dx + cos * dy + centre;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const at = (yy: number, xx: number) =>
        yy >= 0 && yy < size && xx >= 0 && xx < size ? source[yy * size + xx] : fill;
      const ax = sx - x0;
      const ay = sy - y0;
      const value =
        (1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x0 + 1)) +
        ay * ((1 - ax) * at(y0 + 1, x0) + ax * at(y0 + 1, x0 + 1));
      out[y * size + x] = Math.round(value);
    }
  }
  return out;
}

/**
 * Returns the images moved to another domain. 'blended' gives 3 channels:
 * each image is combined with a random patch of a random texture as
 * |patch - image| per channel, the blend MNIST-M used (Ganin et al. 2016), so
 * the object stays visible against a coloured background. 'inverted' is
 * 255 - x; 'rotated' turns each image by `angle` degrees. 'none' only changes
 * the channel count. Grey images become 3 channels by repeating the plane.
 */
export function shiftDomain(
  images: LabelledImages,
  shift: DomainShift,
  options: DomainOptions = {},
): LabelledImages {
  const { height, width } = images.store;
  if (images.store.channels !== 1)
    throw new Error(`shiftDomain: expected grey images, got ${images.store.channels} channels.`);
  const channels = shift === 'blended' ? 3 : (options.channels ?? 1);
  if (channels !== 1 && channels !== 3)
    throw new Error(`shiftDomain: channels ${channels} is invalid; use 1 or 3.`);
  if (shift === 'blended' && options.channels !== undefined && options.channels !== 3)
    throw new Error(`shiftDomain: the blended domain has 3 channels, not ${options.channels}.`);
  const plane = height * width;
  const count = images.labels.length;
  const pixels = new Uint8Array(count * channels * plane);
  const seed = options.seed ?? 1;
  const textures = shift === 'blended' ? makeTextures(seed) : null;
  const rng = new Rng(seed ^ 0x5bd1e995);
  if (shift === 'rotated' && height !== width)
    throw new Error('shiftDomain: rotation needs square images.');

  for (let i = 0; i < count; i++) {
    const source = images.store.pixels.subarray(i * plane, (i + 1) * plane);
    if (textures) {
      const t = rng.int(TEXTURE_COUNT);
      const oy = rng.int(TEXTURE_SIZE - height + 1);
      const ox = rng.int(TEXTURE_SIZE - width + 1);
      for (let c = 0; c < 3; c++) {
        const texture = (t * 3 + c) * TEXTURE_SIZE * TEXTURE_SIZE;
        for (let y = 0; y < height; y++)
          for (let x = 0; x < width; x++) {
            const patch = textures[texture + (oy + y) * TEXTURE_SIZE + ox + x];
            pixels[(i * 3 + c) * plane + y * width + x] = Math.abs(patch - source[y * width + x]);
          }
      }
      continue;
    }
    let shifted: Uint8Array;
    if (shift === 'inverted') shifted = source.map((v) => 255 - v);
    else if (shift === 'rotated') shifted = rotateImage(source, width, options.angle ?? 30, 0);
    else if (shift === 'none') shifted = source;
    else throw new Error(`Unknown domain '${String(shift)}'; use ${DOMAIN_SHIFTS.join(', ')}.`);
    for (let c = 0; c < channels; c++) pixels.set(shifted, (i * channels + c) * plane);
  }
  return { store: { channels, height, width, pixels }, labels: images.labels };
}
