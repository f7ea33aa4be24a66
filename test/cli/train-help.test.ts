import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';

// Two sources declare --image-size (the image sets and the MANN spec). Commander
// rejects the second, so no train command can start.
const cli = join(process.cwd(), 'dist', 'cli.js');

beforeAll(() => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
});

it('lists the train options', () => {
  const result = spawnSync('node', [cli, 'train', '--help'], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('--image-size');
});
