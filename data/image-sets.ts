// Loaders of standard few-shot image sets from their official release layouts,
// each returning ClassSplits for the episode sampler (data/episodes.ts), so
// MAML and the metric-based methods can run on them:
//  - CIFAR-100, binary version: train.bin and test.bin, records of one coarse
//    label byte, one fine label byte and 3,072 pixel bytes (1,024 each of R, G, B).
//  - CUB-200-2011: images.txt ("<id> <path>"), image_class_labels.txt
//    ("<id> <class 1-200>"), train_test_split.txt ("<id> <1 train | 0 test>") and images/.
//  - mini-ImageNet as Ravi and Larochelle (2017) split it: train.csv, val.csv and
//    test.csv ("filename,label" with a header line) and an images/ folder.
// Images (JPEG, as the CUB and mini-ImageNet releases ship them, or PNG) are
// identified by their first bytes, decoded, converted to RGB and resized to a
// square by area averaging. CUB and mini-ImageNet default to 84x84, the size
// used by Ravi and Larochelle (2017) and Chen et al. (2019), and CIFAR-100 to
// its own 32x32. A non-square CUB photo is scaled to the square whole,
// not cropped, so the bird stays in view whatever its place in the frame.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import type { ClassSplit, ImageClass, ImageStore } from './episodes';
import { areaWeights } from './omniglot';

/** A malformed file of an image set; the message names the file. */
export class ImageSetError extends Error {
  override name = 'ImageSetError';
}

async function readText(file: string): Promise<string> {
  if (!existsSync(file))
    throw new ImageSetError(`${file}: file not found; check --data-dir and the release layout.`);
  return readFile(file, 'utf8');
}

// ---------------------------------------------------------------- CIFAR-100

const CIFAR_RECORD = 2 + 3 * 32 * 32;

export interface Cifar100Part {
  store: ImageStore;
  fine: Int32Array;
  coarse: Int32Array;
}

/** Parses one CIFAR-100 binary file (train.bin or test.bin). */
export function parseCifar100(bytes: Uint8Array, file: string): Cifar100Part {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0)
    throw new ImageSetError(
      `${file}: ${bytes.length} bytes is not a whole number of ${CIFAR_RECORD}-byte CIFAR-100 records; the file is truncated or not the binary version.`,
    );
  const count = bytes.length / CIFAR_RECORD;
  const pixels = new Uint8Array(count * 3072);
  const fine = new Int32Array(count);
  const coarse = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const base = i * CIFAR_RECORD;
    coarse[i] = bytes[base];
    fine[i] = bytes[base + 1];
    if (coarse[i] > 19 || fine[i] > 99)
      throw new ImageSetError(
        `${file}: record ${i} has coarse label ${coarse[i]} and fine label ${fine[i]}; CIFAR-100 labels are 0-19 and 0-99. Is this the CIFAR-10 file?`,
      );
    pixels.set(bytes.subarray(base + 2, base + CIFAR_RECORD), i * 3072);
  }
  return { store: { channels: 3, height: 32, width: 32, pixels }, fine, coarse };
}

function classesOf(
  labels: Int32Array,
  ids: readonly number[],
  names: readonly string[],
): ImageClass[] {
  const byClass = new Map<number, number[]>(ids.map((id) => [id, []]));
  labels.forEach((label, i) => byClass.get(label)?.push(i));
  return ids.map((id) => ({
    name: names[id] ?? String(id),
    images: byClass.get(id)!,
    rotation: 0,
  }));
}

/** CIFAR-100's fine class names in label order (alphabetical, as fine_label_names.txt lists them). */
export const CIFAR100_FINE_NAMES = (
  'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus ' +
  'butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch ' +
  'crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo ' +
  'keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse ' +
  'mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy ' +
  'porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper ' +
  'snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television ' +
  'tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm'
).split(' ');

/** The 16 validation and 20 test classes of CIFAR-FS (Bertinetto et al. 2019); the other 64 train. */
export const CIFAR_FS_CLASSES = {
  val: (
    'beaver otter flatfish shark lamp television beetle butterfly sea camel cattle crab ' +
    'crocodile maple_tree motorcycle tractor'
  ).split(' '),
  test: (
    'whale poppy rose sweet_pepper telephone bed table wardrobe leopard plain chimpanzee fox ' +
    'snail worm baby man woman bicycle pickup_truck rocket'
  ).split(' '),
};

/**
 * Loads CIFAR-100 (binary version) from `dir` (the cifar-100-binary folder)
 * and splits its 100 fine classes into the 64 train, 16 val and 20 test
 * classes of CIFAR-FS (Bertinetto et al. 2019). Each class contains its 500 train
 * and 100 test images together, as few-shot splits do. Images are resized to
 * size x size when size is not 32.
 */
export async function loadCifar100(
  dir: string,
  size = 32,
): Promise<{ train: ClassSplit; val: ClassSplit; test: ClassSplit }> {
  const parts: Cifar100Part[] = [];
  for (const name of ['train.bin', 'test.bin']) {
    const file = join(dir, name);
    if (!existsSync(file))
      throw new ImageSetError(
        `${file}: file not found; pass the cifar-100-binary folder as --data-dir.`,
      );
    parts.push(parseCifar100(new Uint8Array(await readFile(file)), file));
  }
  const pixels = new Uint8Array(parts.reduce((n, p) => n + p.store.pixels.length, 0));
  const fine = new Int32Array(parts.reduce((n, p) => n + p.fine.length, 0));
  let offset = 0;
  let count = 0;
  for (const part of parts) {
    pixels.set(part.store.pixels, offset);
    fine.set(part.fine, count);
    offset += part.store.pixels.length;
    count += part.fine.length;
  }
  const store = resizeStore({ channels: 3, height: 32, width: 32, pixels }, size);
  const idsOf = (names: string[]) => names.map((name) => CIFAR100_FINE_NAMES.indexOf(name));
  const held = new Set([...CIFAR_FS_CLASSES.val, ...CIFAR_FS_CLASSES.test]);
  const split = (name: string, ids: number[]): ClassSplit => ({
    name,
    store,
    classes: classesOf(fine, ids, CIFAR100_FINE_NAMES),
  });
  return {
    train: split('train', idsOf(CIFAR100_FINE_NAMES.filter((name) => !held.has(name)))),
    val: split('val', idsOf(CIFAR_FS_CLASSES.val)),
    test: split('test', idsOf(CIFAR_FS_CLASSES.test)),
  };
}

// ---------------------------------------------------------------- images

/** Called after each decoded image with the count so far and the total. */
export type DecodeProgress = (done: number, total: number) => void;

export interface ImageLoadOptions {
  onProgress?: DecodeProgress;
  /**
   * Folder for the decoded images, so that later runs skip the decoding (75 ms
   * per 500x375 JPEG on a loaded 2-core machine, over an hour for all of
   * mini-ImageNet). Without it every load decodes every image.
   */
  cacheDir?: string;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];

/**
 * Decodes a PNG or JPEG file (identified by their first bytes, not the file
 * name) to RGB bytes resized to size x size by area averaging, channels first.
 * Greyscale images are repeated over the three channels; alpha is dropped.
 */
export async function decodeImage(file: string, size: number): Promise<Uint8Array> {
  if (!existsSync(file))
    throw new ImageSetError(`${file}: image not found; check the image folder of --data-dir.`);
  const bytes = new Uint8Array(await readFile(file));
  let rgba: { width: number; height: number; data: Uint8Array };
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    try {
      // jpeg-js returns RGBA for greyscale, RGB (YCbCr) and CMYK files alike.
      rgba = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: true });
    } catch (error) {
      throw new ImageSetError(
        `${file}: not a readable JPEG image (${(error as Error).message}); the file is truncated or damaged, so extract it from the release again.`,
      );
    }
  } else if (PNG_SIGNATURE.every((byte, i) => bytes[i] === byte)) {
    try {
      rgba = PNG.sync.read(Buffer.from(bytes));
    } catch (error) {
      throw new ImageSetError(
        `${file}: not a readable PNG image (${(error as Error).message}); the file is truncated or damaged, so extract it from the release again.`,
      );
    }
  } else {
    throw new ImageSetError(
      `${file}: neither a JPEG nor a PNG image (it starts with bytes ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}); replace it with the release's file.`,
    );
  }
  return resizeArea(rgba.data, 4, rgba.width, rgba.height, size);
}

/**
 * Resizes interleaved pixels (`stride` bytes per pixel, the first three read as
 * RGB) to size x size RGB, channels first, by area averaging. Each output pixel
 * is the mean of the input area it covers, with partly covered pixels weighted
 * by the covered fraction. Shrinking a 500-pixel photo to 84 this way keeps every input
 * pixel's share, where sampling would skip most of them and alias.
 */
export function resizeArea(
  pixels: Uint8Array,
  stride: number,
  width: number,
  height: number,
  size: number,
): Uint8Array {
  const across = areaWeights(width, size);
  const down = areaWeights(height, size);
  // Rows first: every input row shrunk to `size` columns, three channels each.
  const rows = new Float32Array(height * size * 3);
  for (let y = 0; y < height; y++) {
    for (let o = 0; o < size; o++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [x, w] of across[o]) {
        const at = (y * width + x) * stride;
        r += w * pixels[at];
        g += w * pixels[at + 1];
        b += w * pixels[at + 2];
      }
      const to = (y * size + o) * 3;
      rows[to] = r;
      rows[to + 1] = g;
      rows[to + 2] = b;
    }
  }
  const out = new Uint8Array(3 * size * size);
  for (let o = 0; o < size; o++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let total = 0;
        for (const [y, w] of down[o]) total += w * rows[(y * size + x) * 3 + c];
        out[c * size * size + o * size + x] = Math.min(255, Math.round(total));
      }
    }
  }
  return out;
}

/** Resizes every image of a store to size x size by area averaging (CIFAR-100 at another size). */
export function resizeStore(store: ImageStore, size: number): ImageStore {
  if (store.height === size && store.width === size) return store;
  const { channels, height, width } = store;
  const plane = height * width;
  const count = store.pixels.length / (channels * plane);
  const pixels = new Uint8Array(count * 3 * size * size);
  const interleaved = new Uint8Array(plane * 3);
  for (let i = 0; i < count; i++) {
    const image = store.pixels.subarray(i * channels * plane, (i + 1) * channels * plane);
    for (let p = 0; p < plane; p++)
      for (let c = 0; c < 3; c++)
        interleaved[p * 3 + c] = image[Math.min(c, channels - 1) * plane + p];
    pixels.set(resizeArea(interleaved, 3, width, height, size), i * 3 * size * size);
  }
  return { channels: 3, height: size, width: size, pixels };
}

/**
 * Reads a file of `length` bytes into one new array in 1 GiB pieces, because
 * readFile stops at 2 GiB and mini-ImageNet's cache passes that from 110x110.
 */
async function readWhole(file: string, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  const handle = await open(file, 'r');
  try {
    let offset = 0;
    while (offset < length) {
      const { bytesRead } = await handle.read(
        bytes,
        offset,
        Math.min(2 ** 30, length - offset),
        offset,
      );
      if (bytesRead === 0)
        throw new ImageSetError(`${file}: ended after ${offset} of ${length} bytes.`);
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return bytes;
}

/**
 * Decodes `files` into one store, or reads the store from `options.cacheDir`
 * when a cache file for the same files exists. The cache file's name contains a
 * hash of every file's path, size and modification time and of `size`, so an
 * edited, added or removed image makes a new cache instead of a stale read.
 */
async function decodeAll(
  files: string[],
  size: number,
  options: ImageLoadOptions,
  name: string,
): Promise<ImageStore> {
  const imageBytes = 3 * size * size;
  let cacheFile: string | null = null;
  if (options.cacheDir) {
    const hash = createHash('sha256').update(`${name} ${size}\n`);
    for (const file of files) {
      const info = await stat(file).catch(() => null);
      if (!info)
        throw new ImageSetError(`${file}: image not found; check the image folder of --data-dir.`);
      hash.update(`${file}\t${info.size}\t${info.mtimeMs}\n`);
    }
    cacheFile = join(
      options.cacheDir,
      `${name}-${size}-${hash.digest('hex').slice(0, 16)}.mgcache`,
    );
    // A cache of the wrong length (a copy cut short) is decoded again and replaced.
    const cached = await stat(cacheFile).catch(() => null);
    if (cached && cached.size === files.length * imageBytes) {
      const pixels = await readWhole(cacheFile, cached.size);
      return { channels: 3, height: size, width: size, pixels };
    }
  }
  const pixels = new Uint8Array(files.length * imageBytes);
  for (let i = 0; i < files.length; i++) {
    pixels.set(await decodeImage(files[i], size), i * imageBytes);
    options.onProgress?.(i + 1, files.length);
  }
  if (cacheFile) {
    // Written under a temporary name and renamed, so a crash never leaves a partial cache.
    await mkdir(options.cacheDir!, { recursive: true });
    const temporary = `${cacheFile}.tmp-${process.pid}`;
    await writeFile(temporary, pixels);
    await rename(temporary, cacheFile);
  }
  return { channels: 3, height: size, width: size, pixels };
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

// ---------------------------------------------------------------- CUB-200-2011

function idPairs(text: string, file: string): Map<number, string> {
  const out = new Map<number, string>();
  lines(text).forEach((line, i) => {
    const space = line.indexOf(' ');
    const id = Number(line.slice(0, space));
    if (space < 0 || !Number.isInteger(id))
      throw new ImageSetError(`${file}: line ${i + 1} "${line}" is not "<image id> <value>".`);
    out.set(id, line.slice(space + 1).trim());
  });
  return out;
}

/**
 * The split of CUB class `label` (1-200) in the few-shot split of Chen et al.
 * (2019), the one most few-shot CUB results use: counting the classes from 0,
 * even ones train (100 classes), those 1 more than a multiple of 4 val (50) and
 * those 3 more test (50). In 1-based class ids: odd ids train, ids 2 mod 4 val,
 * ids 0 mod 4 test.
 */
export function cubSplitOf(label: number): 'train' | 'val' | 'test' {
  const index = label - 1;
  if (index % 2 === 0) return 'train';
  return index % 4 === 1 ? 'val' : 'test';
}

/**
 * Loads CUB-200-2011 from `dir` (the CUB_200_2011 folder), its classes split
 * by cubSplitOf; every image of a class is in its class's split. `isTrain`
 * keeps the official train_test_split flags per store index.
 */
export async function loadCub200(
  dir: string,
  size = 84,
  options: ImageLoadOptions = {},
): Promise<{ train: ClassSplit; val: ClassSplit; test: ClassSplit; isTrain: Uint8Array }> {
  const imagesFile = join(dir, 'images.txt');
  const labelsFile = join(dir, 'image_class_labels.txt');
  const splitFile = join(dir, 'train_test_split.txt');
  const paths = idPairs(await readText(imagesFile), imagesFile);
  const labels = idPairs(await readText(labelsFile), labelsFile);
  const flags = idPairs(await readText(splitFile), splitFile);
  const ids = [...paths.keys()].sort((a, b) => a - b);
  const classOf = ids.map((id) => {
    const label = Number(labels.get(id));
    if (!Number.isInteger(label) || label < 1 || label > 200)
      throw new ImageSetError(
        `${labelsFile}: image ${id} has class ${labels.get(id)}; CUB classes are 1-200.`,
      );
    return label;
  });
  const store = await decodeAll(
    ids.map((id) => join(dir, 'images', paths.get(id)!)),
    size,
    options,
    'cub',
  );
  const isTrain = Uint8Array.from(ids, (id) => (flags.get(id) === '1' ? 1 : 0));
  const byClass = new Map<number, number[]>();
  classOf.forEach((label, i) => {
    if (!byClass.has(label)) byClass.set(label, []);
    byClass.get(label)!.push(i);
  });
  const split = (name: 'train' | 'val' | 'test'): ClassSplit => ({
    name,
    store,
    classes: [...byClass.keys()]
      .filter((label) => cubSplitOf(label) === name)
      .sort((a, b) => a - b)
      .map((label) => {
        const first = byClass.get(label)![0];
        const folder = paths.get(ids[first])!.split('/')[0];
        return { name: folder, images: byClass.get(label)!, rotation: 0 };
      }),
  });
  return {
    train: split('train'),
    val: split('val'),
    test: split('test'),
    isTrain,
  };
}

// ---------------------------------------------------------------- mini-ImageNet

/**
 * Loads mini-ImageNet from `dir`: the three split CSVs of Ravi and Larochelle
 * (64, 16 and 20 classes of 600 images) and the images/ folder, each image
 * resized to size x size (84 by default).
 */
export async function loadMiniImagenet(
  dir: string,
  size = 84,
  options: ImageLoadOptions = {},
): Promise<{ train: ClassSplit; val: ClassSplit; test: ClassSplit }> {
  const splits: Record<string, { files: string[]; labels: string[] }> = {};
  for (const name of ['train', 'val', 'test']) {
    const file = join(dir, `${name}.csv`);
    const rows = lines(await readText(file));
    if (rows[0]?.replace(/\s/g, '') !== 'filename,label')
      throw new ImageSetError(
        `${file}: the first line must be the header "filename,label", got "${rows[0] ?? ''}".`,
      );
    const files: string[] = [];
    const labels: string[] = [];
    rows.slice(1).forEach((row, i) => {
      const [filename, label] = row.split(',');
      if (!filename || !label)
        throw new ImageSetError(`${file}: line ${i + 2} "${row}" is not "filename,label".`);
      files.push(join(dir, 'images', filename));
      labels.push(label);
    });
    splits[name] = { files, labels };
  }
  const allFiles = Object.values(splits).flatMap((s) => s.files);
  const store = await decodeAll(allFiles, size, options, 'mini-imagenet');
  let offset = 0;
  const result: Record<string, ClassSplit> = {};
  for (const name of ['train', 'val', 'test']) {
    const { labels } = splits[name];
    const byClass = new Map<string, number[]>();
    labels.forEach((label, i) => {
      if (!byClass.has(label)) byClass.set(label, []);
      byClass.get(label)!.push(offset + i);
    });
    offset += labels.length;
    result[name] = {
      name,
      store,
      classes: [...byClass].map(([label, images]) => ({ name: label, images, rotation: 0 })),
    };
  }
  return { train: result.train, val: result.val, test: result.test };
}
