// Shared set-up of the CLI tests that run the built `dist/cli.js`: one build,
// a scratch folder, and runs whose stderr comes without Dawn's device-limit warnings.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const cli = join(process.cwd(), 'dist', 'cli.js');

/** Builds dist/ and returns a new scratch folder whose name starts with `prefix`. */
export async function buildCliAndFolder(prefix: string): Promise<string> {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  return mkdtemp(join(tmpdir(), prefix));
}

export type CliResult = SpawnSyncReturns<string> & { errors: string[] };

/** Runs the built CLI in `cwd`; `errors` is the non-empty stderr lines less Dawn's "Warning: maxDynamic" ones. */
export function runCli(cwd: string, args: string[], env: Record<string, string> = {}): CliResult {
  const result = spawnSync('node', [cli, ...args], {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, ...env },
  });
  const errors = result.stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('Warning: maxDynamic'));
  return { ...result, errors };
}

/**
 * Writes `dir/config.json` for a run of `dataset` that never trained: enough for
 * the checks that `eval` makes before it loads a model.
 */
export async function writeUntrainedRun(
  dir: string,
  dataset: 'sine' | 'omniglot',
  dataDir: string,
): Promise<void> {
  const sine = dataset === 'sine';
  await mkdir(dir);
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      algorithm: 'maml',
      dataset,
      ways: sine ? 1 : 5,
      shots: sine ? 10 : 1,
      queries: sine ? 10 : 15,
      innerSteps: 1,
      testInnerSteps: sine ? 10 : 3,
      innerLr: sine ? 0.01 : 0.4,
      metaLr: 0.001,
      metaBatch: sine ? 25 : 32,
      iterations: 10,
      seed: 0,
      dataDir,
      split: 'vinyals',
      hidden: sine ? 40 : 8,
      logInterval: 10,
      evalInterval: 10,
      valEpisodes: 2,
      testEpisodes: 2,
      out: '',
      options: {},
    }),
  );
}
