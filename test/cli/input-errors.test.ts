import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OMNIGLOT_DIR } from '../data/paths';

// Bad input that reaches the built CLI: each case must end in one error line with
// exit code 2, no stack trace and no new files. None of them trains.
let work: string;
const cli = join(process.cwd(), 'dist', 'cli.js');

// A config.json that parses as valid for the sine task, for the damaged-field cases.
const validConfig = {
  algorithm: 'maml',
  dataset: 'sine',
  ways: 1,
  shots: 10,
  queries: 10,
  innerSteps: 1,
  testInnerSteps: 10,
  innerLr: 0.01,
  metaLr: 0.001,
  metaBatch: 25,
  iterations: 10,
  seed: 0,
  dataDir: '/nonexistent',
  split: 'vinyals',
  hidden: 40,
  logInterval: 10,
  evalInterval: 10,
  valEpisodes: 2,
  testEpisodes: 2,
  out: '',
  options: {},
};

async function runFolder(name: string, config: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  await writeFile(join(dir, 'config.json'), config);
  return dir;
}

beforeAll(async () => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  work = await mkdtemp(join(tmpdir(), 'mg-input-'));
  await mkdir(join(work, 'empty'));
  await writeFile(join(work, 'a-file'), 'not a folder');
  await runFolder('null-config', 'null');
  await runFolder('empty-config', '{}');
  await runFolder('text-shots', JSON.stringify({ ...validConfig, shots: 'ten' }));
  await runFolder('sine-run', JSON.stringify(validConfig));
  await runFolder('transfer-run', JSON.stringify({ command: 'dann', seed: 0 }));
  await runFolder(
    'omniglot-run',
    JSON.stringify({ ...validConfig, dataset: 'omniglot', ways: 5, shots: 1 }),
  );
  const truncated = await runFolder('truncated', JSON.stringify(validConfig));
  await writeFile(join(truncated, 'model.safetensors'), 'abc');
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function run(args: string[]) {
  return spawnSync('node', [cli, ...args], { encoding: 'utf8', cwd: work });
}

describe('metagrad rejects bad input', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'split on sine',
      () => ['train', 'maml', '--split', 'lake', '--out', 'split-run'],
      /--split does not apply to --dataset sine/,
    ],
    [
      'data dir on sine',
      () => ['train', 'maml', '--data-dir', join(work, 'empty'), '--out', 'dir-run'],
      /--data-dir does not apply to --dataset sine/,
    ],
    [
      'data dir is a file',
      () => ['train', 'maml', '--dataset', 'omniglot', '--data-dir', join(work, 'a-file')],
      /the data folder .*a-file is a file; point --data-dir/,
    ],
    [
      'data dir is empty',
      () => ['train', 'maml', '--dataset', 'omniglot', '--data-dir', join(work, 'empty')],
      /neither .*images_background\.zip nor the folder .* exists/,
    ],
    ['empty train out', () => ['train', 'maml', '--out', ''], /--out is empty; give a path/],
    [
      'empty transfer resume',
      () => ['transfer', 'dann', '--resume', ''],
      /--resume is empty; give a path/,
    ],
    [
      'download into a file',
      // A local base URL, so that a regression fails here instead of reaching the network.
      () => [
        'data',
        'omniglot',
        '--data-dir',
        join(work, 'a-file'),
        '--base-url',
        'http://127.0.0.1:9',
      ],
      /--data-dir .*a-file is a file; give a folder/,
    ],
    [
      'inner rate for cnp',
      () => ['train', 'cnp', '--inner-lr', '0.5'],
      /--inner-lr does not apply to cnp; leave it out/,
    ],
    [
      'shots for mann',
      () => ['train', 'mann', '--dataset', 'omniglot', '--data-dir', OMNIGLOT_DIR, '--shots', '5'],
      /--shots does not apply to mann; leave it out/,
    ],
    [
      'mann instances above class size',
      () => [
        'train',
        'mann',
        '--dataset',
        'omniglot',
        '--data-dir',
        OMNIGLOT_DIR,
        '--instances',
        '30',
      ],
      /--instances 30 is more than the 20 images of the smallest class/,
    ],
    [
      'mann image size not a divisor',
      () => [
        'train',
        'mann',
        '--dataset',
        'omniglot',
        '--data-dir',
        OMNIGLOT_DIR,
        '--image-size',
        '20',
      ],
      /--image-size 20 does not divide the loaded image side 28; use a divisor of 28/,
    ],
    [
      'image size for maml on omniglot',
      () => [
        'train',
        'maml',
        '--dataset',
        'omniglot',
        '--data-dir',
        OMNIGLOT_DIR,
        '--image-size',
        '14',
      ],
      /--image-size applies to --dataset cifar100, cub, miniimagenet, and to mann on omniglot, not to maml on omniglot; leave it out\./,
    ],
    [
      'null config',
      () => ['eval', join(work, 'null-config')],
      /config\.json is invalid: it contains null instead of an object of settings\. The run folder is damaged/,
    ],
    [
      'config without algorithm',
      () => ['train', 'maml', '--resume', join(work, 'empty-config')],
      /config\.json is invalid: "algorithm" is missing \(expected one of maml, /,
    ],
    [
      'config with text shots',
      () => ['eval', join(work, 'text-shots')],
      /config\.json is invalid: "shots" is "ten" \(expected a positive integer\)/,
    ],
    // The data folder of a run may move, so eval and --resume take the new one.
    [
      'eval with moved data',
      () => ['eval', join(work, 'omniglot-run'), '--data-dir', join(work, 'empty')],
      /neither .*empty\/images_background\.zip nor the folder/,
    ],
    [
      'resume with moved data',
      () => [
        'train',
        'maml',
        '--resume',
        join(work, 'omniglot-run'),
        '--data-dir',
        join(work, 'empty'),
      ],
      /neither .*empty\/images_background\.zip nor the folder/,
    ],
    [
      'truncated checkpoint',
      () => ['eval', join(work, 'truncated'), '--episodes', '1'],
      /model\.safetensors: invalid safetensors file: .*; the run folder is damaged/,
    ],
    [
      'transfer resume of train run',
      () => ['transfer', 'finetune', '--resume', join(work, 'sine-run')],
      /sine-run is a metagrad train run; use `node \S+cli\.js train maml --resume /,
    ],
    [
      'train resume of transfer run',
      () => ['train', 'maml', '--resume', join(work, 'transfer-run')],
      /transfer-run is a metagrad transfer run; use `node \S+cli\.js transfer dann --resume /,
    ],
    [
      'transfer resume of null config',
      () => ['transfer', 'dann', '--resume', join(work, 'null-config')],
      /config\.json contains null instead of an object of settings/,
    ],
    [
      'compare out is a folder',
      () => ['compare', join(work, 'sine-run'), '--out', join(work, 'empty')],
      /--out .*empty is a folder; give the path of an SVG file/,
    ],
    [
      'compare out folder missing',
      () => ['compare', join(work, 'sine-run'), '--out', join(work, 'missing', 'x.svg')],
      /the folder .*missing does not exist/,
    ],
    [
      'finetune shots above class size',
      () => ['transfer', 'finetune', '--shots', '1,7000', '--out', 'shots-run'],
      /--shots 7000 is more than the 6000 training images of class 5/,
    ],
    [
      'unknown pretrain method',
      () => ['transfer', 'pretrain', 'byol', '--out', 'byol-run'],
      /method "byol" is not supported; use simclr or moco/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(name, async () => {
      const before = await readdir(work);
      const result = run(args());
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(message);
      const lines = result.stderr
        .trim()
        .split('\n')
        .filter((line) => !line.startsWith('Warning:'));
      expect(lines.length).toBe(1);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(await readdir(work)).toEqual(before);
    });
  }
});

describe('metagrad train --resume', () => {
  it('restarts a run with no checkpoint', async () => {
    // A run killed before its first checkpoint leaves only config.json behind.
    const dir = await runFolder(
      'killed-early',
      JSON.stringify({
        ...validConfig,
        iterations: 2,
        metaBatch: 2,
        logInterval: 1,
        evalInterval: 2,
        valEpisodes: 1,
        testEpisodes: 1,
      }),
    );
    const result = run(['train', 'maml', '--resume', dir, '--no-progress']);
    expect(result.stderr).not.toMatch(/error:/);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/has no checkpoint yet; starting it from iteration 0/);
    expect(existsSync(join(dir, 'result.json'))).toBe(true);
    const metrics = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(metrics.map((line) => (JSON.parse(line) as { iteration: number }).iteration)).toEqual([
      1, 2,
    ]);
  });
});
