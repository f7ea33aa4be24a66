import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OMNIGLOT_DIR } from '../data/paths';

// Values past the CLI's limits: each must end in one error line naming the option,
// with exit code 2, before any run folder is written.
let work: string;
const cli = join(process.cwd(), 'dist', 'cli.js');

beforeAll(async () => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  work = await mkdtemp(join(tmpdir(), 'mg-limits-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync('node', [cli, ...args], {
    encoding: 'utf8',
    cwd: work,
    env: { ...process.env, ...env },
  });
}

const omniglot = ['--dataset', 'omniglot', '--data-dir', OMNIGLOT_DIR];

describe('train limits', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'meta-batch on sine',
      ['train', 'maml', '--meta-batch', '1e9'],
      /^error: --meta-batch 1e9 is too large; use at most 1024 tasks/,
    ],
    [
      'meta-batch on omniglot',
      ['train', 'maml', ...omniglot, '--meta-batch', '1025'],
      /^error: --meta-batch 1025 is too large; use at most 1024 tasks/,
    ],
  ];

  it.each(cases)('rejects %s', (_name, args, message) => {
    const result = run([...args, '--out', 'run']);
    expect(result.stderr.trim()).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.status).toBe(2);
    expect(existsSync(join(work, 'run'))).toBe(false);
  });
});
