// Task sources for `metagrad train --dataset cifar100|cub|miniimagenet`: the
// release folder is checked for its layout, the images are decoded (with a
// progress bar) and split by class, and episodes are drawn as on Omniglot.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProgress } from './decode-progress';
import {
  ImageSetError,
  loadCifar100,
  loadCub200,
  loadMiniImagenet,
  type DecodeProgress,
} from '../data/image-sets';
import { defaultDataDir } from '../data/omniglot';
import { UsageError } from './errors';
import { classSplitSource, type TaskSource } from './tasks';
import type { TrainConfig } from './train';

export const IMAGE_SETS = ['cifar100', 'cub', 'miniimagenet'] as const;
export type ImageSetName = (typeof IMAGE_SETS)[number];

export function isImageSet(dataset: string): dataset is ImageSetName {
  return (IMAGE_SETS as readonly string[]).includes(dataset);
}

interface ImageSetInfo {
  title: string;
  /** The folder name of the official release, used under the default data folder. */
  folder: string;
  /** Files the folder must hold, checked before any decoding. */
  required: string[];
  /** The layout, for the message when a file is missing. */
  layout: string;
  /** Instructions for getting and extracting the release. */
  source: string;
  /** Side of the square images fed to the network unless --image-size is given. */
  defaultSize: number;
}

export const IMAGE_SET_INFO: Record<ImageSetName, ImageSetInfo> = {
  cifar100: {
    title: 'CIFAR-100',
    folder: 'cifar-100-binary',
    required: ['train.bin', 'test.bin'],
    layout: 'train.bin and test.bin',
    source:
      'extract cifar-100-binary.tar.gz, the binary version from https://www.cs.toronto.edu/~kriz/cifar.html',
    defaultSize: 32,
  },
  cub: {
    title: 'CUB-200-2011',
    folder: 'CUB_200_2011',
    required: ['images.txt', 'image_class_labels.txt', 'train_test_split.txt', 'images'],
    layout: 'images.txt, image_class_labels.txt, train_test_split.txt and the images/ folder',
    source: 'extract CUB_200_2011.tgz from the Caltech-UCSD Birds-200-2011 page',
    defaultSize: 84,
  },
  miniimagenet: {
    title: 'mini-ImageNet',
    folder: 'mini-imagenet',
    required: ['train.csv', 'val.csv', 'test.csv', 'images'],
    layout:
      'train.csv, val.csv and test.csv (the split of Ravi and Larochelle) and an images/ folder with the files they name',
    source: 'put the three CSVs of Ravi and Larochelle beside the images/ folder of 60,000 JPEGs',
    defaultSize: 84,
  },
};

/**
 * Checks that `dir` holds the release layout of `dataset`, naming the layout and the fix when it does not.
 * `origin` names where the folder came from, as describeDataDir returns it.
 */
export function checkImageSetDir(
  dataset: ImageSetName,
  dir: string,
  origin = `--data-dir ${dir}`,
): void {
  const info = IMAGE_SET_INFO[dataset];
  const expect = `--dataset ${dataset} expects the ${info.title} folder (${info.folder}) with ${info.layout}; ${info.source}, then pass that folder as --data-dir.`;
  if (!existsSync(dir)) throw new UsageError(`${origin} does not exist; ${expect}`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${origin} is a file; ${expect}`);
  const missing = info.required.filter((name) => !existsSync(join(dir, name)));
  if (missing.length > 0) throw new UsageError(`${origin} has no ${missing.join(', ')}; ${expect}`);
}

/**
 * Names a data folder by where it came from: "--data-dir D" when the flag was given,
 * otherwise the folder with METAGRAD_DATA's value, or the default cache folder.
 */
export function describeDataDir(flag: string | undefined, dir: string): string {
  if (flag !== undefined) return `--data-dir ${dir}`;
  if (process.env.METAGRAD_DATA)
    return `the data folder ${dir} (from METAGRAD_DATA=${process.env.METAGRAD_DATA})`;
  return `the default data folder ${dir} (neither --data-dir nor METAGRAD_DATA is set)`;
}

/** Loads the image set of `config` and returns its episodes as a task source. */
export async function imageSetSource(
  config: TrainConfig,
  log: (line: string) => void,
  testOnly = false,
): Promise<TaskSource> {
  const dataset = config.dataset as ImageSetName;
  const info = IMAGE_SET_INFO[dataset];
  checkImageSetDir(dataset, config.dataDir);
  const size = config.imageSize ?? info.defaultSize;
  const onProgress: DecodeProgress = decodeProgress(
    log,
    (total) => `Decoding ${total} ${info.title} images at ${size}x${size} (cached for later runs)`,
  );
  // Decoded images are cached beside the Omniglot cache, for the next run and for eval.
  const cacheDir = join(defaultDataDir(), 'cache');
  let splits;
  try {
    if (dataset === 'cifar100') {
      splits = await loadCifar100(config.dataDir, size);
    } else if (dataset === 'cub') {
      splits = await loadCub200(config.dataDir, size, { onProgress, cacheDir });
    } else {
      splits = await loadMiniImagenet(config.dataDir, size, { onProgress, cacheDir });
    }
  } catch (error) {
    if (error instanceof ImageSetError) throw new UsageError(error.message);
    throw error;
  }
  const trainWays = config.options?.trainWays;
  return classSplitSource(
    splits,
    { ways: config.ways, shots: config.shots, queries: config.queries },
    typeof trainWays === 'number' ? trainWays : 0,
    testOnly,
  );
}
