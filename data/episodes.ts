// N-way K-shot episodes over any labelled image set: splits of classes, seeded
// sampling, and fixed evaluation episode lists.

import { Rng } from './rng';
import type { OmniglotData } from './omniglot';

/** Images stored as bytes, channels x height x width each, scaled by 1/255 when read. */
export interface ImageStore {
  channels: number;
  height: number;
  width: number;
  pixels: Uint8Array;
}

export interface ImageClass {
  /** Human-readable name, e.g. Greek/character03@90. */
  name: string;
  /** Indices of the class's images in the store. */
  images: number[];
  /** Quarter turns counter-clockwise applied to every image (0-3). */
  rotation: number;
}

export interface ClassSplit {
  name: string;
  store: ImageStore;
  classes: ImageClass[];
}

export interface EpisodeShape {
  ways: number;
  shots: number;
  queries: number;
}

export interface EpisodeSpec {
  /** Indices into split.classes, one per way; way i gets label i. */
  classes: number[];
  /** For each way, shots + queries image indices into the class's image list. */
  picks: number[][];
}

export interface Episode {
  supportX: Float32Array;
  supportY: Int32Array;
  queryX: Float32Array;
  queryY: Int32Array;
  /** [channels, height, width] of one image. */
  imageShape: [number, number, number];
  ways: number;
  shots: number;
  queries: number;
}

export type OmniglotSplitName = 'vinyals' | 'lake';

export interface OmniglotSplitOptions {
  /**
   * 'vinyals': 1,200 characters (a seeded shuffle of all 1,623) for meta-training
   * and the remaining 423 for meta-testing, as in the Matching Networks and MAML
   * papers. 'lake': images_background for training, images_evaluation for testing.
   */
  split?: OmniglotSplitName;
  /** Characters carved from the training characters for validation. */
  validationCharacters?: number;
  /** Add rotations by 90, 180 and 270 degrees as new classes. */
  rotations?: boolean;
  seed?: number;
}

/** Splits Omniglot into train, validation and test classes. */
export function omniglotSplits(
  data: OmniglotData,
  options: OmniglotSplitOptions = {},
): { train: ClassSplit; val: ClassSplit; test: ClassSplit } {
  const split = options.split ?? 'vinyals';
  const validation = options.validationCharacters ?? 100;
  const rotations = options.rotations ?? true;
  const store: ImageStore = {
    channels: 1,
    height: data.size,
    width: data.size,
    pixels: data.pixels,
  };

  let trainChars: number[];
  let testChars: number[];
  const all = data.characters.map((_, i) => i);
  if (split === 'vinyals') {
    if (all.length < 1200 + 1) {
      throw new Error(
        `Omniglot: the 'vinyals' split needs more than 1,200 characters; the data has ${all.length}. Use --split lake or the full dataset.`,
      );
    }
    const shuffled = new Rng(options.seed ?? 1).shuffle([...all]);
    trainChars = shuffled.slice(0, 1200);
    testChars = shuffled.slice(1200);
  } else if (split === 'lake') {
    trainChars = all.filter((i) => data.characters[i].set === 'images_background');
    testChars = all.filter((i) => data.characters[i].set === 'images_evaluation');
  } else {
    throw new Error(`Omniglot: unknown split '${String(split)}'; use 'vinyals' or 'lake'.`);
  }
  if (validation < 0 || validation >= trainChars.length) {
    throw new Error(
      `Omniglot: validationCharacters ${validation} must be in [0, ${trainChars.length - 1}].`,
    );
  }
  const valChars = trainChars.slice(trainChars.length - validation);
  trainChars = trainChars.slice(0, trainChars.length - validation);

  const toClasses = (chars: number[]): ImageClass[] =>
    chars.flatMap((c) => {
      const character = data.characters[c];
      const images = Array.from(
        { length: character.imageCount },
        (_, i) => character.firstImage + i,
      );
      const name = `${character.alphabet}/${character.character}`;
      const turns = rotations ? [0, 1, 2, 3] : [0];
      return turns.map((rotation) => ({
        name: rotation ? `${name}@${rotation * 90}` : name,
        images,
        rotation,
      }));
    });
  return {
    train: { name: 'train', store, classes: toClasses(trainChars) },
    val: { name: 'val', store, classes: toClasses(valChars) },
    test: { name: 'test', store, classes: toClasses(testChars) },
  };
}

/** An episode shape that a split cannot supply; the message names the option to change. */
export class EpisodeShapeError extends Error {
  override name = 'EpisodeShapeError';
}

/** Throws an error naming the option when a split cannot supply episodes of this shape. */
export function checkEpisodeShape(split: ClassSplit, shape: EpisodeShape): void {
  const { ways, shots, queries } = shape;
  for (const [name, value] of [
    ['ways', ways],
    ['shots', shots],
    ['queries', queries],
  ] as const) {
    if (!Number.isInteger(value) || value < (name === 'queries' ? 0 : 1)) {
      throw new EpisodeShapeError(`--${name} ${value} is invalid; use a positive integer.`);
    }
  }
  if (ways > split.classes.length) {
    throw new EpisodeShapeError(
      `--ways ${ways} is more than the ${split.classes.length} classes of the ${split.name} split; use at most ${split.classes.length}.`,
    );
  }
  const smallest = split.classes.reduce((a, b) => (b.images.length < a.images.length ? b : a));
  const fewest = smallest.images.length;
  if (shots + queries > fewest) {
    throw new EpisodeShapeError(
      `--shots ${shots} plus --queries ${queries} is more than the ${fewest} images of the smallest class in the ${split.name} split (${smallest.name}); ` +
        `use shots + queries <= ${fewest}.`,
    );
  }
}

/** Samples one episode: `ways` distinct classes, and shots + queries distinct images of each. */
export function sampleEpisode(split: ClassSplit, shape: EpisodeShape, rng: Rng): EpisodeSpec {
  checkEpisodeShape(split, shape);
  const classes = rng.sample(split.classes.length, shape.ways);
  const picks = classes.map((c) =>
    rng.sample(split.classes[c].images.length, shape.shots + shape.queries),
  );
  return { classes, picks };
}

/**
 * Returns a fixed list of evaluation episodes from `seed`, so every evaluation of a run,
 * and of different runs, uses the same tasks.
 */
export function fixedEpisodes(
  split: ClassSplit,
  shape: EpisodeShape,
  count: number,
  seed: number,
): EpisodeSpec[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => sampleEpisode(split, shape, rng));
}

/** Copies image `index` of the store into out at `offset`, rotated by quarter turns counter-clockwise. */
function writeImage(
  store: ImageStore,
  index: number,
  rotation: number,
  out: Float32Array,
  offset: number,
): void {
  const { channels, height, width } = store;
  const plane = height * width;
  const base = index * channels * plane;
  if (rotation !== 0 && height !== width) throw new Error('Rotations need square images.');
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        // Output (y, x) takes the source pixel that a counter-clockwise turn moves there (np.rot90).
        let sy = y;
        let sx = x;
        if (rotation === 1) [sy, sx] = [x, width - 1 - y];
        else if (rotation === 2) [sy, sx] = [height - 1 - y, width - 1 - x];
        else if (rotation === 3) [sy, sx] = [height - 1 - x, y];
        out[offset + c * plane + y * width + x] =
          store.pixels[base + c * plane + sy * width + sx] / 255;
      }
    }
  }
}

/** Builds the support and query arrays of an episode, class-major, labels 0..ways-1. */
export function materialize(split: ClassSplit, spec: EpisodeSpec, shape: EpisodeShape): Episode {
  const { store } = split;
  const imageSize = store.channels * store.height * store.width;
  const { ways, shots, queries } = shape;
  const supportX = new Float32Array(ways * shots * imageSize);
  const queryX = new Float32Array(ways * queries * imageSize);
  const supportY = new Int32Array(ways * shots);
  const queryY = new Int32Array(ways * queries);

  spec.classes.forEach((c, way) => {
    const imageClass = split.classes[c];
    spec.picks[way].forEach((pick, i) => {
      const index = imageClass.images[pick];
      if (i < shots) {
        const slot = way * shots + i;
        writeImage(store, index, imageClass.rotation, supportX, slot * imageSize);
        supportY[slot] = way;
      } else {
        const slot = way * queries + (i - shots);
        writeImage(store, index, imageClass.rotation, queryX, slot * imageSize);
        queryY[slot] = way;
      }
    });
  });
  return {
    supportX,
    supportY,
    queryX,
    queryY,
    imageShape: [store.channels, store.height, store.width],
    ways,
    shots,
    queries,
  };
}
