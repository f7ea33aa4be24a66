import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import * as mg from '../../index';
import { describe, expect, it } from 'vitest';
import {
  CIFAR100_FINE_NAMES,
  CIFAR_FS_CLASSES,
  cubSplitOf,
  decodeImage,
  loadCifar100,
  loadCub200,
  loadMiniImagenet,
  parseCifar100,
} from '../../data/image-sets';
import { materialize, sampleEpisode } from '../../data/episodes';
import { Rng } from '../../data/rng';
import { classSplitSource, disposeTask } from '../../cli/tasks';
import { learnerFor, type TrainConfig } from '../../cli/train';
import { colourJpeg, greyJpeg } from './jpeg-fixtures';

// The CIFAR-100, CUB-200-2011 and mini-ImageNet loaders on small files that
// this test writes in each release's layout, and episodes sampled from them.

const root = mkdtempSync(join(tmpdir(), 'image-sets-'));

/** Writes a width x height PNG filled with one RGB colour. */
function writePng(
  file: string,
  width: number,
  height: number,
  rgb: [number, number, number],
): void {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) png.data.set([...rgb, 255], i * 4);
  writeFileSync(file, PNG.sync.write(png));
}

/** Writes a width x height colour JPEG whose pixel (x, y) is rgb(x, y). */
function writeJpeg(
  file: string,
  width: number,
  height: number,
  rgb: (x: number, y: number) => [number, number, number],
): void {
  writeFileSync(file, colourJpeg(width, height, rgb));
}

/** Mean of channel c of a size x size channels-first image over columns [x0, x1). */
function meanOf(image: Uint8Array, size: number, c: number, x0: number, x1: number): number {
  let total = 0;
  for (let y = 0; y < size; y++)
    for (let x = x0; x < x1; x++) total += image[c * size * size + y * size + x];
  return total / (size * (x1 - x0));
}

describe('JPEG decoding', () => {
  const dir = join(root, 'jpeg');
  mkdirSync(dir);

  it('decodes colour JPEGs to their mean colours', async () => {
    // Left half orange, right half blue, the boundary on a block edge; shrunk 4x.
    const file = join(dir, 'halves.jpg');
    writeJpeg(file, 64, 48, (x) => (x < 32 ? [220, 120, 30] : [20, 60, 200]));
    const image = await decodeImage(file, 16);
    const left = [0, 1, 2].map((c) => meanOf(image, 16, c, 0, 8));
    const right = [0, 1, 2].map((c) => meanOf(image, 16, c, 8, 16));
    // Quality 95 JPEG keeps flat areas within a few levels.
    [220, 120, 30].forEach((v, c) => expect(Math.abs(left[c] - v)).toBeLessThan(4));
    [20, 60, 200].forEach((v, c) => expect(Math.abs(right[c] - v)).toBeLessThan(4));
  });

  it('decodes greyscale JPEGs into three equal channels', async () => {
    const file = join(dir, 'grey.jpg');
    writeFileSync(
      file,
      greyJpeg(32, 16, (bx) => (bx < 2 ? 40 : 170)),
    );
    const image = await decodeImage(file, 8);
    for (let c = 0; c < 3; c++) {
      expect(meanOf(image, 8, c, 0, 4)).toBeCloseTo(40, 6);
      expect(meanOf(image, 8, c, 4, 8)).toBeCloseTo(170, 6);
    }
  });

  it('averages areas when shrinking', async () => {
    // One-pixel stripes of 0 and 200 average to 100; sampling would alias them.
    const file = join(dir, 'stripes.png');
    const png = new PNG({ width: 40, height: 40 });
    for (let i = 0; i < 1600; i++) png.data.set([(i % 40) % 2 ? 200 : 0, 50, 50, 255], i * 4);
    writeFileSync(file, PNG.sync.write(png));
    const image = await decodeImage(file, 10);
    expect(Array.from(new Set(image.subarray(0, 100)))).toEqual([100]);
  });

  it('names a truncated JPEG', async () => {
    const whole = join(dir, 'whole.jpg');
    writeJpeg(whole, 32, 32, (x, y) => [x * 8, y * 8, 128]);
    const file = join(dir, 'truncated.jpg');
    const bytes = readFileSync(whole);
    writeFileSync(file, bytes.subarray(0, bytes.length >> 1));
    // jpeg-js's own reason depends on where the cut falls, so only the frame is checked.
    const error = await decodeImage(file, 8).catch((e: unknown) => e as Error);
    expect((error as Error).message).toMatch(
      /^\S+truncated\.jpg: not a readable JPEG image \(.+\); the file is truncated or damaged/,
    );
    expect((error as Error).message.startsWith(`${file}: `)).toBe(true);
  });

  it('names a file that is no image', async () => {
    const file = join(dir, 'notes.jpg');
    writeFileSync(file, 'GIF89a');
    await expect(decodeImage(file, 8)).rejects.toThrow(
      `${file}: neither a JPEG nor a PNG image (it starts with bytes 47 49 46 38)`,
    );
  });
});

function cifarRecord(coarse: number, fine: number, fill: number): Uint8Array {
  const record = new Uint8Array(3074);
  record[0] = coarse;
  record[1] = fine;
  record.fill(fill, 2, 1026);
  record.fill(fill + 1, 1026, 2050);
  record.fill(fill + 2, 2050);
  return record;
}

describe('CIFAR-100 binary', () => {
  const dir = join(root, 'cifar-100-binary');
  mkdirSync(dir);
  const train: Uint8Array[] = [];
  const test: Uint8Array[] = [];
  for (let fine = 0; fine < 100; fine++) {
    for (let k = 0; k < 3; k++) train.push(cifarRecord(fine % 20, fine, fine));
    test.push(cifarRecord(fine % 20, fine, fine));
  }
  writeFileSync(join(dir, 'train.bin'), Buffer.concat(train));
  writeFileSync(join(dir, 'test.bin'), Buffer.concat(test));

  it('splits classes as CIFAR-FS and samples episodes', async () => {
    const splits = await loadCifar100(dir);
    expect([splits.train, splits.val, splits.test].map((s) => s.classes.length)).toEqual([
      64, 16, 20,
    ]);
    const names = new Set(
      [...splits.train.classes, ...splits.val.classes, ...splits.test.classes].map((c) => c.name),
    );
    expect(names.size).toBe(100);
    expect(splits.test.classes.map((c) => c.name)).toEqual(CIFAR_FS_CLASSES.test);
    expect(splits.val.classes.map((c) => c.name)).toEqual(CIFAR_FS_CLASSES.val);
    // The names are in label order, which is alphabetical in the release.
    expect([...CIFAR100_FINE_NAMES].sort()).toEqual(CIFAR100_FINE_NAMES);
    expect(splits.test.classes[0].images).toEqual([...[0, 1, 2].map((k) => 95 * 3 + k), 300 + 95]);
    expect(splits.train.classes.every((c) => c.images.length === 4)).toBe(true);
    const shape = { ways: 5, shots: 1, queries: 2 };
    const episode = materialize(splits.test, sampleEpisode(splits.test, shape, new Rng(1)), shape);
    expect(episode.imageShape).toEqual([3, 32, 32]);
    // Every pixel of a record of fine class f is f/255 in R, (f+1)/255 in G and (f+2)/255 in B.
    const first = splits.test.classes[sampleEpisode(splits.test, shape, new Rng(1)).classes[0]];
    const fine = CIFAR100_FINE_NAMES.indexOf(first.name);
    expect(episode.supportX[0]).toBeCloseTo(fine / 255, 6);
    expect(episode.supportX[1024]).toBeCloseTo((fine + 1) / 255, 6);
    expect(episode.supportX[2048]).toBeCloseTo((fine + 2) / 255, 6);
  });

  it('feeds MAML through the episode sampler', async () => {
    await mg.init();
    const splits = await loadCifar100(dir);
    const shape = { ways: 5, shots: 1, queries: 2 };
    const source = classSplitSource(splits, shape);
    expect(source.inputShape).toEqual([3, 32, 32]);
    const config = {
      algorithm: 'maml',
      dataset: 'omniglot',
      ...shape,
      innerSteps: 1,
      testInnerSteps: 1,
      innerLr: 0.4,
      metaLr: 0.001,
      metaBatch: 2,
      hidden: 4,
      seed: 0,
      options: {},
    } as unknown as TrainConfig;
    const { learner } = learnerFor(config, source);
    const tasks = source.sampleTrain(new Rng(4), 2);
    const step = await learner.trainStep(tasks, 0);
    for (const task of tasks) disposeTask(task);
    expect(Number.isFinite(step.loss)).toBe(true);
    const task = source.fixed('test', 1, 0).task(0);
    const result = await learner.evaluate(task);
    disposeTask(task);
    expect(result.accuracy).toBeGreaterThanOrEqual(0);
  });

  it('rejects a truncated file naming it', async () => {
    const bad = join(root, 'cifar-bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'train.bin'), Buffer.concat(train).subarray(0, 3074 * 2 + 100));
    writeFileSync(join(bad, 'test.bin'), Buffer.concat(test));
    await expect(loadCifar100(bad)).rejects.toThrow(
      `${join(bad, 'train.bin')}: 6248 bytes is not a whole number of 3074-byte CIFAR-100 records`,
    );
  });

  it('rejects labels outside CIFAR-100', () => {
    expect(() => parseCifar100(cifarRecord(30, 2, 0), 'x.bin')).toThrow(
      'x.bin: record 0 has coarse label 30 and fine label 2',
    );
  });
});

describe('CUB-200-2011', () => {
  const dir = join(root, 'CUB_200_2011');
  // Chen et al.'s split: odd classes train, 2 mod 4 val, 0 mod 4 test.
  const classes = [1, 3, 2, 6, 4, 8];
  const images: string[] = [];
  const labels: string[] = [];
  const split: string[] = [];
  let id = 0;
  for (const label of classes) {
    const folder = `${String(label).padStart(3, '0')}.Bird_${label}`;
    mkdirSync(join(dir, 'images', folder), { recursive: true });
    for (let k = 0; k < 3; k++) {
      id += 1;
      const path = `${folder}/Bird_${label}_${k}.png`;
      writePng(join(dir, 'images', path), 40 + k * 7, 30, [label, k * 50, 200]);
      images.push(`${id} ${path}`);
      labels.push(`${id} ${label}`);
      split.push(`${id} ${k < 2 ? 1 : 0}`);
    }
  }
  writeFileSync(join(dir, 'images.txt'), images.join('\n') + '\n');
  writeFileSync(join(dir, 'image_class_labels.txt'), labels.join('\n') + '\n');
  writeFileSync(join(dir, 'train_test_split.txt'), split.join('\n') + '\n');

  it('reads the lists, resizes and splits by class', async () => {
    const cub = await loadCub200(dir, 84);
    expect(cub.train.classes.map((c) => c.name)).toEqual(['001.Bird_1', '003.Bird_3']);
    expect(cub.val.classes.map((c) => c.name)).toEqual(['002.Bird_2', '006.Bird_6']);
    expect(cub.test.classes.map((c) => c.name)).toEqual(['004.Bird_4', '008.Bird_8']);
    const counts = { train: 0, val: 0, test: 0 };
    for (let label = 1; label <= 200; label++) counts[cubSplitOf(label)] += 1;
    expect(counts).toEqual({ train: 100, val: 50, test: 50 });
    expect(Array.from(cub.isTrain.slice(0, 3))).toEqual([1, 1, 0]);
    const store = cub.train.store;
    expect([store.channels, store.height, store.width]).toEqual([3, 84, 84]);
    // A one-colour image stays that colour after resizing.
    const plane = 84 * 84;
    const image = 3 * plane * 4; // image 5 (0-based 4): class 3, k = 1.
    expect([
      store.pixels[image + 100],
      store.pixels[image + plane + 100],
      store.pixels[image + 2 * plane],
    ]).toEqual([3, 50, 200]);
    const shape = { ways: 2, shots: 1, queries: 2 };
    const episode = materialize(cub.test, sampleEpisode(cub.test, shape, new Rng(2)), shape);
    expect(episode.queryX.length).toBe(4 * 3 * plane);
  });

  it('reads the release JPEGs, greyscale ones too', async () => {
    const jpegDir = join(root, 'CUB_jpeg');
    mkdirSync(join(jpegDir, 'images', '001.A'), { recursive: true });
    writeJpeg(join(jpegDir, 'images', '001.A', 'a.jpg'), 50, 40, () => [30, 140, 90]);
    writeFileSync(
      join(jpegDir, 'images', '001.A', 'b.jpg'),
      greyJpeg(48, 40, () => 99),
    );
    writeFileSync(join(jpegDir, 'images.txt'), '1 001.A/a.jpg\n2 001.A/b.jpg\n');
    writeFileSync(join(jpegDir, 'image_class_labels.txt'), '1 1\n2 1\n');
    writeFileSync(join(jpegDir, 'train_test_split.txt'), '1 1\n2 0\n');
    const seen: number[] = [];
    const cub = await loadCub200(jpegDir, 20, { onProgress: (done) => seen.push(done) });
    expect(seen).toEqual([1, 2]);
    const pixels = cub.train.store.pixels;
    const plane = 20 * 20;
    [30, 140, 90].forEach((v, c) =>
      expect(Math.abs(meanOf(pixels.subarray(0, 3 * plane), 20, c, 0, 20) - v)).toBeLessThan(4),
    );
    for (let c = 0; c < 3; c++)
      expect(meanOf(pixels.subarray(3 * plane), 20, c, 0, 20)).toBeCloseTo(99, 6);
  });

  it('names a missing list file', async () => {
    await expect(loadCub200(join(root, 'nowhere'))).rejects.toThrow(
      `${join(root, 'nowhere', 'images.txt')}: file not found`,
    );
  });
});

describe('mini-ImageNet', () => {
  const dir = join(root, 'mini-imagenet');
  mkdirSync(join(dir, 'images'), { recursive: true });
  let n = 0;
  for (const [split, wnids] of [
    ['train', ['n01532829', 'n01558993', 'n01704323']],
    ['val', ['n01855672', 'n02091244']],
    ['test', ['n01930112', 'n01981276']],
  ] as const) {
    const rows = ['filename,label'];
    for (const wnid of wnids)
      for (let k = 1; k <= 4; k++) {
        const file = `${wnid}${String(k).padStart(8, '0')}.jpg`;
        const grey = 8 * n;
        writeJpeg(join(dir, 'images', file), 100, 90, () => [grey, grey, grey]);
        rows.push(`${file},${wnid}`);
        n++;
      }
    writeFileSync(join(dir, `${split}.csv`), rows.join('\n') + '\n');
  }

  it('reads the split CSVs and resizes to 84x84', async () => {
    const splits = await loadMiniImagenet(dir);
    expect(splits.train.classes.map((c) => c.name)).toEqual([
      'n01532829',
      'n01558993',
      'n01704323',
    ]);
    expect(splits.test.classes.map((c) => c.images)).toEqual([
      [20, 21, 22, 23],
      [24, 25, 26, 27],
    ]);
    expect(splits.val.store.height).toBe(84);
    // Image 20's grey level is 160, within JPEG's error of a flat area.
    expect(Math.abs(splits.val.store.pixels[20 * 3 * 84 * 84] - 160)).toBeLessThan(3);
    const shape = { ways: 3, shots: 2, queries: 2 };
    const episode = materialize(
      splits.train,
      sampleEpisode(splits.train, shape, new Rng(0)),
      shape,
    );
    expect(episode.imageShape).toEqual([3, 84, 84]);
    expect(Array.from(episode.supportY)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it('reads decoded images from its cache until an image changes', async () => {
    const cacheDir = join(root, 'cache');
    const first = await loadMiniImagenet(dir, 16, { cacheDir });
    const [name] = readdirSync(cacheDir);
    expect(name).toMatch(/^mini-imagenet-16-[0-9a-f]{16}\.mgcache$/);
    // A cache of the right length is trusted: filled with 7s, it gives 7s.
    writeFileSync(join(cacheDir, name), new Uint8Array(first.train.store.pixels.length).fill(7));
    const cached = await loadMiniImagenet(dir, 16, { cacheDir });
    expect(new Set(cached.test.store.pixels)).toEqual(new Set([7]));
    // An edited image changes the key, so the images are decoded again.
    const edited = join(dir, 'images', 'n0193011200000001.jpg');
    writeFileSync(
      edited,
      colourJpeg(50, 40, () => [9, 9, 9]),
    );
    const again = await loadMiniImagenet(dir, 16, { cacheDir });
    expect(readdirSync(cacheDir).length).toBe(2);
    expect(again.test.store.pixels[20 * 3 * 16 * 16]).toBeLessThan(12);
    expect(again.test.store.pixels[21 * 3 * 16 * 16]).toBeGreaterThan(160);
  });

  it('rejects a CSV without its header', async () => {
    const bad = join(root, 'mini-bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'train.csv'), 'a.png,n1\n');
    await expect(loadMiniImagenet(bad)).rejects.toThrow(
      `${join(bad, 'train.csv')}: the first line must be the header "filename,label"`,
    );
  });
});
