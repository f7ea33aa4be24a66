import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

// An --image-size far beyond any real image must be a usage error, not a RangeError
// from allocating the resized image store.
const cli = join(process.cwd(), 'dist', 'cli.js');
let work: string;

/** Returns CIFAR-100 binary records: `perClass` images of each fine class. */
function cifarRecords(perClass: number): Uint8Array {
  const record = 3074;
  const bytes = new Uint8Array(100 * perClass * record);
  for (let label = 0; label < 100; label++)
    for (let k = 0; k < perClass; k++) {
      const base = (label * perClass + k) * record;
      bytes[base] = label % 20;
      bytes[base + 1] = label;
      for (let j = 2; j < record; j++) bytes[base + j] = (label * 7 + k * 13 + j) % 256;
    }
  return bytes;
}

beforeAll(async () => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  work = await mkdtemp(join(tmpdir(), 'mg-image-size-'));
  await mkdir(join(work, 'cifar'));
  await writeFile(join(work, 'cifar', 'train.bin'), cifarRecords(2));
  await writeFile(join(work, 'cifar', 'test.bin'), cifarRecords(1));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

it('rejects a huge image size', () => {
  const args = ['train', 'maml', '--dataset', 'cifar100', '--data-dir', join(work, 'cifar')];
  const result = spawnSync('node', [cli, ...args, '--image-size', '999999', '--shots', '1'], {
    encoding: 'utf8',
    cwd: work,
    env: { ...process.env, METAGRAD_DATA: work },
  });
  expect(result.status).toBe(2);
  expect(result.stderr).toContain('--image-size 999999');
  expect(result.stderr).not.toContain('Invalid typed array length');
});
