import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colourJpeg, greyJpeg } from '../data/jpeg-fixtures';

// `metagrad train` and `metagrad eval` on CIFAR-100, CUB-200-2011 and
// mini-ImageNet folders that this test writes in each release's layout, small
// enough that a run of a few iterations at 16x16 takes seconds.
let work: string;
const cli = join(process.cwd(), 'dist', 'cli.js');

/** Runs the built CLI; `errors` is stderr less Dawn's "Warning:" lines about device limits. */
function run(args: string[]) {
  // METAGRAD_DATA keeps the decoded-image cache inside the test's folder.
  const env = { ...process.env, METAGRAD_DATA: join(work, 'data') };
  const result = spawnSync('node', [cli, ...args], { encoding: 'utf8', cwd: work, env });
  const errors = result.stderr
    .split('\n')
    .filter((line) => !line.startsWith('Warning:'))
    .join('\n');
  return { ...result, errors };
}

/** Returns the colour of class k, far apart for different k, so the images carry their label. */
function classColour(k: number): [number, number, number] {
  return [(k * 53) % 256, (k * 97 + 40) % 256, (k * 151 + 90) % 256];
}

function writeCifar(dir: string): void {
  mkdirSync(dir);
  const record = (fine: number, shade: number) => {
    const bytes = new Uint8Array(3074);
    bytes[0] = fine % 20;
    bytes[1] = fine;
    classColour(fine).forEach((v, c) =>
      bytes.fill(Math.min(255, v + shade), 2 + c * 1024, 2 + (c + 1) * 1024),
    );
    return bytes;
  };
  const train: Uint8Array[] = [];
  const test: Uint8Array[] = [];
  for (let fine = 0; fine < 100; fine++) {
    for (let k = 0; k < 3; k++) train.push(record(fine, 3 * k));
    test.push(record(fine, 9));
  }
  writeFileSync(join(dir, 'train.bin'), Buffer.concat(train));
  writeFileSync(join(dir, 'test.bin'), Buffer.concat(test));
}

/** Five classes of each split of Chen et al.: odd ids train, ids 2 mod 4 val, 0 mod 4 test. */
function writeCub(dir: string): void {
  const images: string[] = [];
  const labels: string[] = [];
  const flags: string[] = [];
  let id = 0;
  for (let label = 1; label <= 20; label++) {
    // Odd labels above 10 are left out, so that each split has five classes.
    if (label > 10 && label % 2 === 1) continue;
    const folder = `${String(label).padStart(3, '0')}.Bird_${label}`;
    mkdirSync(join(dir, 'images', folder), { recursive: true });
    for (let k = 0; k < 4; k++) {
      id += 1;
      const path = `${folder}/Bird_${label}_${k}.jpg`;
      // The release has some greyscale photos; every class's last image is one here.
      const bytes =
        k === 3
          ? greyJpeg(24, 16, () => classColour(label)[0])
          : colourJpeg(30, 20, () => classColour(label));
      writeFileSync(join(dir, 'images', path), bytes);
      images.push(`${id} ${path}`);
      labels.push(`${id} ${label}`);
      flags.push(`${id} ${k < 2 ? 1 : 0}`);
    }
  }
  writeFileSync(join(dir, 'images.txt'), images.join('\n') + '\n');
  writeFileSync(join(dir, 'image_class_labels.txt'), labels.join('\n') + '\n');
  writeFileSync(join(dir, 'train_test_split.txt'), flags.join('\n') + '\n');
}

function writeMiniImagenet(dir: string): void {
  mkdirSync(join(dir, 'images'), { recursive: true });
  let k = 0;
  for (const split of ['train', 'val', 'test']) {
    const rows = ['filename,label'];
    for (let c = 0; c < 5; c++) {
      const wnid = `n0${split.length}${String(c).padStart(7, '0')}`;
      k += 1;
      for (let i = 1; i <= 4; i++) {
        const file = `${wnid}${String(i).padStart(8, '0')}.jpg`;
        writeFileSync(
          join(dir, 'images', file),
          colourJpeg(40, 32, () => classColour(k)),
        );
        rows.push(`${file},${wnid}`);
      }
    }
    writeFileSync(join(dir, `${split}.csv`), rows.join('\n') + '\n');
  }
}

/** The shapes of a safetensors file's tensors, from its JSON header. */
function safetensorsShapes(path: string): Record<string, number[]> {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<
    string,
    { shape: number[] }
  >;
  return Object.fromEntries(
    Object.entries(header)
      .filter(([name]) => name !== '__metadata__')
      .map(([name, entry]) => [name, entry.shape]),
  );
}

const dirs = { cifar100: '', cub: '', miniimagenet: '' };

beforeAll(async () => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  work = await mkdtemp(join(tmpdir(), 'mg-image-sets-'));
  dirs.cifar100 = join(work, 'cifar-100-binary');
  dirs.cub = join(work, 'CUB_200_2011');
  dirs.miniimagenet = join(work, 'mini-imagenet');
  writeCifar(dirs.cifar100);
  writeCub(dirs.cub);
  writeMiniImagenet(dirs.miniimagenet);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const tiny = [
  '--image-size',
  '16',
  '--shots',
  '1',
  '--queries',
  '2',
  '--hidden',
  '4',
  '--iterations',
  '2',
  '--log-interval',
  '1',
  '--eval-interval',
  '2',
  '--val-episodes',
  '2',
  '--test-episodes',
  '2',
  '--no-progress',
];

describe('metagrad train on image sets', () => {
  it.each([
    ['maml', 'cifar100', ['--meta-batch', '1', '--inner-steps', '1', '--test-inner-steps', '1']],
    ['protonet', 'cub', []],
    ['relationnet', 'miniimagenet', []],
  ] as const)('trains %s on %s and evaluates it', (algorithm, dataset, extra) => {
    const out = join(work, `${algorithm}-${dataset}`);
    const args = ['--dataset', dataset, '--data-dir', dirs[dataset], '--out', out];
    const trained = run(['train', algorithm, ...args, ...tiny, ...extra]);
    expect(trained.errors).toBe('');
    expect(trained.status).toBe(0);
    expect(trained.stdout).toMatch(/Test accuracy over 2 episodes \(5-way 1-shot\)/);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
      imageSize: number;
    };
    expect(config.imageSize).toBe(16);
    // The first convolution reads three colour channels.
    const shapes = safetensorsShapes(join(out, 'model.safetensors'));
    const firstConv = Object.entries(shapes).find(([, shape]) => shape.length === 4)!;
    expect(firstConv[1].slice(1)).toEqual([3, 3, 3]);

    const evaluated = run(['eval', out, '--episodes', '3']);
    expect(evaluated.errors).toBe('');
    expect(evaluated.status).toBe(0);
    expect(evaluated.stdout).toMatch(/Test accuracy over 3 episodes/);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
      dataset: string;
      test_episodes: number;
      test_accuracy: number;
    };
    expect(result.dataset).toBe(dataset);
    expect(result.test_episodes).toBe(3);
    expect(result.test_accuracy).toBeGreaterThanOrEqual(0);
    expect(result.test_accuracy).toBeLessThanOrEqual(1);
    if (dataset !== 'cifar100')
      expect(
        readdirSync(join(work, 'data', 'cache')).some((f) =>
          f.startsWith(`${dataset === 'cub' ? 'cub' : 'mini-imagenet'}-16-`),
        ),
      ).toBe(true);
  });

  it.each([
    [
      'a missing folder',
      ['maml', '--dataset', 'cub', '--data-dir', 'nowhere'],
      /^error: --data-dir \S+nowhere does not exist; --dataset cub expects the CUB-200-2011 folder \(CUB_200_2011\) with images\.txt, image_class_labels\.txt, train_test_split\.txt and the images\/ folder; .+ then pass that folder as --data-dir\.\n$/,
    ],
    [
      'a folder without the CSVs',
      ['protonet', '--dataset', 'miniimagenet', '--data-dir', 'CUB_200_2011'],
      /^error: --data-dir \S+CUB_200_2011 has no train\.csv, val\.csv, test\.csv; --dataset miniimagenet expects/,
    ],
    [
      'more ways than classes',
      ['maml', '--dataset', 'cub', '--data-dir', 'CUB_200_2011', '--ways', '6', ...tiny],
      /^error: --ways 6 is more than the 5 classes of the train split; use at most 5\.\n$/,
    ],
    [
      'an algorithm without images',
      ['mann', '--dataset', 'cifar100', '--data-dir', 'cifar-100-binary'],
      /^error: mann does not run on --dataset cifar100; use one of: omniglot\.\n$/,
    ],
    [
      'the Omniglot split option',
      ['maml', '--dataset', 'miniimagenet', '--split', 'lake'],
      /^error: --split applies to --dataset omniglot; miniimagenet uses its standard few-shot class split/,
    ],
    [
      'a too small image size',
      ['maml', '--dataset', 'cifar100', '--image-size', '8'],
      /^error: --image-size 8 is too small; use at least 16\.\n$/,
    ],
  ])('rejects %s', (_, args, message) => {
    const out = join(work, 'rejected');
    const result = run(['train', ...args, '--out', out]);
    expect(result.errors).toMatch(message);
    expect(result.status).toBe(2);
    expect(existsSync(out)).toBe(false);
  });
});
