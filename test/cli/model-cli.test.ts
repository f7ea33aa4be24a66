import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OMNIGLOT_DIR } from '../data/paths';

// The model-based algorithms through the built CLI, as a user runs them.
let work: string;
const cli = join(process.cwd(), 'dist', 'cli.js');

beforeAll(async () => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  work = await mkdtemp(join(tmpdir(), 'mg-model-cli-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function run(args: string[]) {
  return spawnSync('node', [cli, ...args], { encoding: 'utf8', cwd: work });
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

describe('metagrad train cnp', () => {
  it('trains, resumes, evaluates and records the log-likelihood', async () => {
    const out = join(work, 'cnp-run');
    const trained = run([
      'train',
      'cnp',
      '--dataset',
      'sine',
      '--shots',
      '5',
      '--iterations',
      '20',
      '--meta-batch',
      '4',
      '--hidden',
      '16',
      '--representation-size',
      '8',
      '--log-interval',
      '10',
      '--eval-interval',
      '10',
      '--val-episodes',
      '5',
      '--test-episodes',
      '10',
      '--out',
      out,
      '--no-progress',
      '--stop-after',
      '10',
    ]);
    expect(trained.status, trained.stderr).toBe(0);
    expect(existsSync(join(out, 'result.json')), 'result.json before the last iteration').toBe(
      false,
    );
    const resumed = run(['train', 'cnp', '--resume', out, '--no-progress']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/Resuming .* at iteration 10 of 20/);
    for (const file of ['config.json', 'metrics.jsonl', 'model.safetensors', 'curves.svg'])
      expect(existsSync(join(out, file)), file).toBe(true);
    const result = await readJson(join(out, 'result.json'));
    expect(result.algorithm).toBe('cnp');
    expect(result.test_episodes).toBe(10);
    expect(result.test_inner_steps, 'inner steps of a learner without any').toBeUndefined();
    const metrics = result.test_metrics as Record<string, { mean: number }>;
    expect(Number.isFinite(metrics.log_likelihood.mean)).toBe(true);

    const evaluated = run(['eval', out, '--episodes', '4']);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toMatch(/Test query MSE over 4 tasks \(K = 5\)/);
    expect((await readJson(join(out, 'result.json'))).test_episodes).toBe(4);
  });

  it('rejects options of other algorithms', () => {
    const result = run(['train', 'cnp', '--dataset', 'sine', '--memory-slots', '4']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /^error: --memory-slots applies to mann, not cnp; leave it out\.$/m,
    );
  });

  it('rejects a dataset it does not run on', () => {
    const result = run(['train', 'cnp', '--dataset', 'omniglot']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/cnp does not run on --dataset omniglot; use one of: sine/);
  });

  it('rejects a zero representation size', () => {
    const result = run(['train', 'cnp', '--dataset', 'sine', '--representation-size', '0']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--representation-size 0 is too small; use at least 1/);
  });
});

describe('metagrad train mann', () => {
  it('writes accuracy by instance to result.json', async () => {
    const out = join(work, 'mann-run');
    const trained = run([
      'train',
      'mann',
      '--dataset',
      'omniglot',
      '--data-dir',
      OMNIGLOT_DIR,
      '--ways',
      '3',
      '--instances',
      '3',
      '--controller-size',
      '16',
      '--memory-slots',
      '8',
      '--memory-size',
      '8',
      '--read-heads',
      '2',
      '--iterations',
      '2',
      '--meta-batch',
      '2',
      '--val-episodes',
      '2',
      '--test-episodes',
      '3',
      '--out',
      out,
      '--no-progress',
    ]);
    expect(trained.status, trained.stderr).toBe(0);
    expect(trained.stdout).toMatch(/Test accuracy over 3 episodes \(3-way sequences\)/);
    const result = await readJson(join(out, 'result.json'));
    expect(result.metric).toBe('accuracy');
    const metrics = result.test_metrics as Record<string, { mean: number }>;
    expect(Object.keys(metrics)).toEqual([
      'accuracy_instance_1',
      'accuracy_instance_2',
      'accuracy_instance_3',
    ]);
    for (const { mean } of Object.values(metrics)) expect(mean).toBeGreaterThanOrEqual(0);
  });

  it('rejects more heads than slots', () => {
    const result = run([
      'train',
      'mann',
      '--dataset',
      'omniglot',
      '--data-dir',
      OMNIGLOT_DIR,
      '--memory-slots',
      '2',
      '--read-heads',
      '4',
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--read-heads 4 is more than --memory-slots 2/);
  });
});
