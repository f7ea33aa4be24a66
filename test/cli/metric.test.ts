import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OMNIGLOT_DIR } from '../data/paths';

// The metric-based algorithms through the built CLI, as a user runs them.
let work: string;
const cli = join(process.cwd(), 'dist', 'cli.js');

beforeAll(() => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  return mkdtemp(join(tmpdir(), 'mg-metric-cli-')).then((dir) => {
    work = dir;
  });
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function run(args: string[]) {
  return spawnSync('node', [cli, ...args], { encoding: 'utf8', cwd: work });
}

/** Tensor names of a safetensors file, from its JSON header. */
function safetensorsNames(path: string): string[] {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    unknown
  >;
  return Object.keys(header).filter((name) => name !== '__metadata__');
}

describe('metagrad train protonet', () => {
  it('trains with more training ways, resumes and evaluates', async () => {
    const out = join(work, 'protonet-run');
    const common = ['--no-progress'];
    const first = run([
      'train',
      'protonet',
      '--dataset',
      'omniglot',
      '--data-dir',
      OMNIGLOT_DIR,
      '--train-ways',
      '10',
      '--queries',
      '2',
      '--hidden',
      '8',
      '--iterations',
      '6',
      '--log-interval',
      '3',
      '--eval-interval',
      '3',
      '--val-episodes',
      '2',
      '--test-episodes',
      '3',
      '--stop-after',
      '3',
      '--out',
      out,
      ...common,
    ]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Stopped at iteration 3 of 6/);

    const resumed = run(['train', 'protonet', '--resume', out, ...common]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/Resuming .* at iteration 3 of 6/);
    expect(resumed.stdout).toMatch(/Test accuracy over 3 episodes \(5-way 1-shot\)/);

    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.options).toEqual({ distance: 'sqeuclidean', trainWays: 10 });
    expect(config.metaBatch).toBe(1);
    const rows = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(rows.map((row) => JSON.parse(row).iteration)).toEqual([3, 6]);

    // The checkpoint holds exactly the embedding's own names, so convNet4({ featuresOnly: true }) loads it.
    const names = safetensorsNames(join(out, 'model.safetensors'));
    expect(names).toContain('features.0.weight');
    expect(names).toContain('features.13.running_var');
    expect(names.every((name) => name.startsWith('features.'))).toBe(true);

    const evaluated = run(['eval', out, '--episodes', '4']);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    const result = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
    expect(result.algorithm).toBe('protonet');
    expect(result.test_episodes).toBe(4);
    expect(result.test_accuracy).toBeGreaterThanOrEqual(0);
    expect(result.test_accuracy).toBeLessThanOrEqual(1);
    expect(result.test_accuracy_ci95).toBeGreaterThanOrEqual(0);
  });
});

describe('metagrad eval episode shape', () => {
  const tiny = [
    '--dataset',
    'omniglot',
    '--data-dir',
    OMNIGLOT_DIR,
    '--split',
    'lake',
    '--queries',
    '2',
    '--hidden',
    '8',
    '--iterations',
    '2',
    '--val-episodes',
    '1',
    '--test-episodes',
    '1',
    '--no-progress',
  ];

  it('scores a 5-way protonet on 10-way episodes', async () => {
    const out = join(work, 'protonet-shape');
    const trained = run(['train', 'protonet', ...tiny, '--out', out]);
    expect(trained.status, trained.stderr).toBe(0);

    const evaluated = run([
      'eval',
      out,
      '--episodes',
      '3',
      '--ways',
      '10',
      '--shots',
      '2',
      '--queries',
      '3',
    ]);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toContain(
      'Test episodes: 10-way 2-shot with 3 queries per class (the run trained on 5-way 1-shot with 2 queries per class).',
    );
    expect(evaluated.stdout).toMatch(/Test accuracy over 3 episodes \(10-way 2-shot\)/);
    const result = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
    expect(result.ways).toBe(10);
    expect(result.shots).toBe(2);
    expect(result.queries).toBe(3);
    expect(result.test_episodes).toBe(3);
    // The run keeps its own settings, so a later plain eval scores 5-way episodes again.
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.ways).toBe(5);
    expect(config.shots).toBe(1);
  });

  it('rejects other ways for MAML', async () => {
    const out = join(work, 'maml-shape');
    const trained = run(['train', 'maml', ...tiny, '--meta-batch', '1', '--out', out]);
    expect(trained.status, trained.stderr).toBe(0);
    const before = await readFile(join(out, 'result.json'), 'utf8');

    const rejected = run(['eval', out, '--ways', '20']);
    expect(rejected.status).toBe(2);
    const lines = rejected.stderr
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('Warning:'));
    expect(lines).toEqual([
      'error: --ways 20 does not fit this maml run, whose output layer has the 5 classes it was trained on; use --ways 5 or train a 20-way run.',
    ]);
    expect(await readFile(join(out, 'result.json'), 'utf8')).toBe(before);
  });
});

describe('metric CLI input errors', () => {
  const omniglot = ['--dataset', 'omniglot', '--data-dir', OMNIGLOT_DIR];
  const cases: [string, string[], RegExp][] = [
    [
      'option of another algorithm',
      ['train', 'maml', ...omniglot, '--distance', 'cosine'],
      /--distance applies to protonet, not maml; leave it out/,
    ],
    [
      'FCE on protonet',
      ['train', 'protonet', ...omniglot, '--fce'],
      /--fce applies to matchingnet, not protonet/,
    ],
    [
      'bad distance',
      ['train', 'protonet', ...omniglot, '--distance', 'manhattan'],
      /--distance "manhattan" is not supported; use one of: sqeuclidean, cosine/,
    ],
    [
      'bad pair loss',
      ['train', 'siamese', ...omniglot, '--pair-loss', 'hinge'],
      /--pair-loss "hinge" is not supported; use one of: bce, contrastive/,
    ],
    [
      'inner steps for protonet',
      ['train', 'protonet', ...omniglot, '--inner-steps', '5'],
      /error: --inner-steps does not apply to protonet; leave it out\./,
    ],
    [
      'test inner steps for matchingnet',
      ['train', 'matchingnet', ...omniglot, '--test-inner-steps', '5'],
      /error: --test-inner-steps does not apply to matchingnet; leave it out\./,
    ],
    [
      'inner rate for relationnet',
      ['train', 'relationnet', ...omniglot, '--inner-lr', '0.1'],
      /error: --inner-lr does not apply to relationnet; leave it out\./,
    ],
    [
      'zero margin',
      ['train', 'siamese', ...omniglot, '--margin', '0'],
      /error: --margin 0 must be positive; use a value above 0\./,
    ],
    [
      'negative margin',
      ['train', 'siamese', ...omniglot, '--margin', '-1'],
      /error: --margin -1 must be positive; use a value above 0\./,
    ],
    [
      'sine dataset',
      ['train', 'relationnet', '--dataset', 'sine'],
      /relationnet does not run on --dataset sine; use one of: omniglot/,
    ],
    [
      'more training ways than classes',
      ['train', 'protonet', ...omniglot, '--train-ways', '9000'],
      /--train-ways 9000 is more than the \d+ classes of the train split/,
    ],
    [
      'more ways than classes',
      ['train', 'matchingnet', ...omniglot, '--ways', '9000'],
      /--ways 9000 is more than the \d+ classes/,
    ],
    [
      'more shots than images',
      ['train', 'relationnet', ...omniglot, '--shots', '18', '--queries', '5'],
      /--shots 18 plus --queries 5 is more than the 20 images of the smallest class in the train split \(.+\/character\d+/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const result = run(args);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(message);
      const lines = result.stderr
        .trim()
        .split('\n')
        .filter((line) => !line.startsWith('Warning:'));
      expect(lines).toHaveLength(1);
    });
  }

  it('names a corrupted PNG', () => {
    // A small Omniglot folder: three characters of the real background set, one image corrupted.
    const dir = join(work, 'corrupt-omniglot');
    const files = unzipSync(
      new Uint8Array(readFileSync(join(OMNIGLOT_DIR, 'images_background.zip'))),
      {
        filter: (file) => /\/Latin\/character0[1-3]\/[^/]+\.png$/.test(file.name),
      },
    );
    for (const [name, bytes] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), bytes);
    }
    const broken = Object.keys(files).sort()[4];
    writeFileSync(join(dir, broken), 'not a png');
    const evaluation = join(dir, 'images_evaluation', 'Latin', 'character01');
    mkdirSync(evaluation, { recursive: true });
    writeFileSync(join(evaluation, '0001_01.png'), files[Object.keys(files).sort()[0]]);

    const result = run([
      'train',
      'protonet',
      '--dataset',
      'omniglot',
      '--data-dir',
      dir,
      '--split',
      'lake',
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`${broken} is not a valid PNG`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
