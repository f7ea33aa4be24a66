import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

// A last.state.json that is valid JSON but lacks its fields must stop the resume with
// a usage error that names the file, not a TypeError from deep in the loader.
const cli = join(process.cwd(), 'dist', 'cli.js');
let work: string;

beforeAll(async () => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  work = await mkdtemp(join(tmpdir(), 'mg-resume-state-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

it('rejects an empty resume state', async () => {
  const out = join(work, 'run');
  const args = ['train', 'maml', '--dataset', 'sine', '--iterations', '4', '--log-interval', '1'];
  spawnSync('node', [cli, ...args, '--out', out, '--stop-after', '2', '--no-progress'], {
    encoding: 'utf8',
    cwd: work,
  });
  await writeFile(join(out, 'last.state.json'), '{}');

  const resumed = spawnSync('node', [cli, 'train', 'maml', '--resume', out], {
    encoding: 'utf8',
    cwd: work,
  });
  expect(resumed.status).toBe(2);
  expect(resumed.stderr).toContain('last.state.json');
  expect(resumed.stderr).not.toContain('Cannot read properties');
});
