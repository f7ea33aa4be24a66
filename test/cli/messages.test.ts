import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OMNIGLOT_DIR } from '../data/paths';
import { buildCliAndFolder, cli, runCli, writeUntrainedRun } from './cli-run';

// The wording of the CLI's warnings and errors: each names the options that apply.
let work: string;

beforeAll(async () => {
  work = await buildCliAndFolder('mg-messages-');
  await writeUntrainedRun(join(work, 'omniglot-run'), 'omniglot', OMNIGLOT_DIR);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string> = {}) => runCli(work, args, env);

const tinySine = [
  '--hidden',
  '8',
  '--meta-batch',
  '1',
  '--iterations',
  '1',
  '--val-episodes',
  '1',
  '--test-episodes',
  '1',
  '--no-progress',
];

describe('divergence warning', () => {
  it('names the inner and meta rates', () => {
    const result = run(['train', 'maml', '--inner-lr', '1e300', ...tinySine, '--out', 'diverged']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      'Train again with a smaller --inner-lr or --meta-lr (this run used --inner-lr 1e+300 and --meta-lr 0.001).',
    );
  });
});

describe('data folder messages', () => {
  it('names METAGRAD_DATA when no --data-dir is given', () => {
    const result = run(['train', 'maml', '--dataset', 'omniglot', '--out', 'env-data'], {
      METAGRAD_DATA: '/nonexistent/metagrad-data',
    });
    expect(result.status).toBe(2);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(
      /^error: the data folder \/nonexistent\/metagrad-data \(from METAGRAD_DATA=\/nonexistent\/metagrad-data\) does not exist/,
    );
    expect(result.errors[0]).not.toMatch(/^error: --data-dir/);
  });

  it('names --data-dir when it is given', () => {
    const result = run(
      ['train', 'maml', '--dataset', 'omniglot', '--data-dir', '/nonexistent/flag', '--out', 'x'],
      { METAGRAD_DATA: '/nonexistent/metagrad-data' },
    );
    expect(result.status).toBe(2);
    expect(result.errors[0]).toMatch(/^error: --data-dir \/nonexistent\/flag does not exist/);
  });
});

describe('eval episode shape', () => {
  it('names the test split it evaluates', () => {
    const result = run(['eval', 'omniglot-run', '--shots', '30']);
    expect(result.status).toBe(2);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(
      /^error: --shots 30 plus --queries 15 is more than the 20 images of the smallest class in the test split/,
    );
  });
});

describe('command hints', () => {
  it('repeat node dist/cli.js as it was run', () => {
    const out = join(work, 'omniglot-run');
    const result = spawnSync('node', ['dist/cli.js', 'train', 'maml', '--out', out], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      `continue it with \`node dist/cli.js train maml --resume ${out}\``,
    );
  });

  it('say metagrad for the installed executable', async () => {
    const bin = join(work, 'bin');
    await mkdir(bin, { recursive: true });
    await symlink(cli, join(bin, 'metagrad'));
    const out = join(work, 'omniglot-run');
    const result = spawnSync('node', [join(bin, 'metagrad'), 'train', 'maml', '--out', out], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(`continue it with \`metagrad train maml --resume ${out}\``);
  });
});

describe('Ctrl-C in the test evaluation', () => {
  it('names the command that finishes it', async () => {
    const out = join(work, 'test-interrupted');
    const args = [...tinySine];
    // 100,000 test episodes keep the evaluation running until the signal arrives.
    args[args.indexOf('--test-episodes') + 1] = '100000';
    const child = spawn('node', [cli, 'train', 'maml', ...args, '--out', out], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // The iteration line comes after training; the test evaluation starts next.
      if (/iteration 1\/1/.test(stdout)) setTimeout(() => child.kill('SIGINT'), 500);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(130);
    expect(stdout).toMatch(
      `Interrupted during the test evaluation; training is finished and saved. Run the test evaluation with \`node dist/cli.js train maml --resume ${out}\`.`,
    );
    expect(existsSync(join(out, 'result.json'))).toBe(false);
  }, 60_000);
});
