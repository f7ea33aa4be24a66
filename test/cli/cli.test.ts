import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OMNIGLOT_DIR } from '../data/paths';

// The CLI end to end, as a user runs it: the built dist/cli.js in its own process.
let work: string;
const cli = join(process.cwd(), 'dist', 'cli.js');

beforeAll(() => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  return mkdtemp(join(tmpdir(), 'mg-cli-')).then((dir) => {
    work = dir;
  });
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

// Runs from the temporary folder, so a default --out never lands in the repository.
function run(args: string[]) {
  return spawnSync('node', [cli, ...args], { encoding: 'utf8', cwd: work });
}

async function readLines(path: string): Promise<Record<string, number>[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line)
    .map((line) => JSON.parse(line) as Record<string, number>);
}

describe('metagrad train and eval', () => {
  it('trains, is killed mid-run, resumes and evaluates', async () => {
    const out = join(work, 'sine-run');
    const args = [
      'train',
      'maml',
      '--dataset',
      'sine',
      '--iterations',
      '40',
      '--meta-batch',
      '4',
      '--log-interval',
      '5',
      '--eval-interval',
      '10',
      '--val-episodes',
      '5',
      '--test-episodes',
      '10',
      '--out',
      out,
      '--no-progress',
    ];

    // Kill the process once it has written a resumable checkpoint past iteration 10.
    const child = spawn('node', [cli, ...args], { stdio: 'ignore' });
    const killedAt = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(async () => {
        if (!existsSync(join(out, 'last.state.json'))) return;
        const state = JSON.parse(
          await readFile(join(out, 'last.state.json'), 'utf8').catch(() => '{"iteration":0}'),
        ) as { iteration: number };
        if (state.iteration >= 10) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve(state.iteration);
        }
      }, 100);
      child.on('exit', (code) => {
        clearInterval(timer);
        if (code !== null)
          reject(new Error(`the training process exited with ${code} before it was killed`));
      });
    });
    expect(killedAt).toBeGreaterThanOrEqual(10);
    expect(existsSync(join(out, 'result.json'))).toBe(false);

    const resumed = run(['train', 'maml', '--resume', out, '--no-progress']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/Resuming .* at iteration \d+ of 40/);

    const metrics = await readLines(join(out, 'metrics.jsonl'));
    const iterations = metrics.map((row) => row.iteration);
    expect(iterations).toEqual([5, 10, 15, 20, 25, 30, 35, 40]);
    expect(metrics.filter((row) => row.val_mse !== undefined).length).toBe(4);

    const result = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
    expect(result.test_episodes).toBe(10);
    expect(result.test_mse).toBeGreaterThan(0);
    for (const file of [
      'config.json',
      'model.safetensors',
      'model.optimizer.safetensors',
      'model.state.json',
      'curves.svg',
    ]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    expect(await readFile(join(out, 'curves.svg'), 'utf8')).toMatch(/^<svg/);

    const evaluated = run(['eval', out, '--episodes', '10']);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toMatch(/Test query MSE over 10 tasks/);
    const again = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
    expect(again.test_mse).toBeCloseTo(result.test_mse, 4);

    const finished = run(['train', 'maml', '--resume', out, '--no-progress']);
    expect(finished.status, finished.stderr).toBe(2);
    expect(finished.stderr).toMatch(
      /already finished all 40 iterations; evaluate it again with `node \S+cli\.js eval /,
    );
    const unchanged = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
    expect(unchanged).toEqual(again);

    // One test task has no sample std, so the 95% interval is undefined rather than 0.
    const single = run(['eval', out, '--episodes', '1']);
    expect(single.status, single.stderr).toBe(0);
    expect(single.stdout).toMatch(
      /Test query MSE over 1 task \(K = 10\): \d+\.\d{4} \(n = 1, no interval\)/,
    );
    const singleResult = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
    expect(singleResult.test_episodes).toBe(1);
    expect(singleResult.test_mse).toBeGreaterThan(0);
    expect(singleResult.test_mse_ci95).toBeNull();
  });
});

describe('metagrad run folders', () => {
  it('stops cleanly on Ctrl-C and refuses to overwrite or reconfigure a run', async () => {
    const out = join(work, 'interrupted');
    const args = [
      'train',
      'fomaml',
      '--dataset',
      'sine',
      '--iterations',
      '100000',
      '--meta-batch',
      '2',
      '--log-interval',
      '5',
      '--eval-interval',
      '50',
      '--val-episodes',
      '2',
      '--out',
      out,
      '--no-progress',
    ];
    const child = spawn('node', [cli, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setInterval(() => {
        if (existsSync(join(out, 'last.state.json'))) {
          clearInterval(timer);
          // A second Ctrl-C while the checkpoint is written must not cut the write.
          child.kill('SIGINT');
          setTimeout(() => child.kill('SIGINT'), 50);
        }
      }, 100);
      child.on('exit', (exitCode) => {
        clearInterval(timer);
        resolve(exitCode);
      });
    });
    expect(code).toBe(130);
    expect(stdout).toMatch(
      /Interrupted at iteration (\d+) of 100000, with a checkpoint; continue with `node \S+cli\.js train fomaml --resume /,
    );
    const stoppedAt = Number(/Interrupted at iteration (\d+)/.exec(stdout)![1]);
    const state = JSON.parse(await readFile(join(out, 'last.state.json'), 'utf8')) as {
      iteration: number;
    };
    expect(state.iteration).toBe(stoppedAt);
    expect(readdirSync(out).filter((name) => name.includes('.tmp-'))).toEqual([]);

    const again = run(args);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(
      /already holds a run; continue it with `node \S+cli\.js train fomaml --resume/,
    );

    const reconfigured = run([
      'train',
      'fomaml',
      '--resume',
      out,
      '--iterations',
      '8',
      '--hidden',
      '16',
    ]);
    expect(reconfigured.status).toBe(2);
    expect(reconfigured.stderr).toMatch(
      /--resume continues a run with the settings in .*config.json; leave out --iterations, --hidden/,
    );
  });
});

describe('metagrad input errors', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'unknown algorithm',
      ['train', 'mamal'],
      /algorithm "mamal" is not supported; use one of: maml, fomaml, mamlpp, metasgd, anil, reptile/,
    ],
    [
      'unknown dataset',
      ['train', 'maml', '--dataset', 'mnist'],
      /--dataset "mnist" is not supported; use one of: sine, omniglot/,
    ],
    [
      'non-numeric value',
      ['train', 'maml', '--iterations', 'ten'],
      /--iterations "ten" is not an integer/,
    ],
    [
      'too many test episodes',
      ['train', 'maml', '--dataset', 'sine', '--test-episodes', '1e9'],
      /--test-episodes 1e9 is too large; use at most 100000/,
    ],
    [
      'too many eval episodes',
      ['eval', '/nonexistent/run', '--episodes', '1e9'],
      /--episodes 1e9 is too large; use at most 100000/,
    ],
    [
      'missing data folder',
      ['train', 'maml', '--dataset', 'omniglot', '--data-dir', '/nonexistent/omniglot'],
      /--data-dir \/nonexistent\/omniglot does not exist/,
    ],
    [
      'more ways than classes',
      ['train', 'maml', '--dataset', 'omniglot', '--data-dir', OMNIGLOT_DIR, '--ways', '5000'],
      /--ways 5000 is more than the \d+ classes/,
    ],
    [
      'too many shots and queries',
      [
        'train',
        'maml',
        '--dataset',
        'omniglot',
        '--data-dir',
        OMNIGLOT_DIR,
        '--shots',
        '10',
        '--queries',
        '15',
      ],
      /--shots 10 plus --queries 15 is more than the 20 images/,
    ],
    [
      'resume of a missing run',
      ['train', 'maml', '--resume', '/nonexistent/run'],
      /is not a run folder/,
    ],
    [
      'unsafe integer',
      ['train', 'maml', '--iterations', '1e99'],
      /--iterations 1e99 is too large; use an integer from 1 to 9007199254740991/,
    ],
    [
      'invalid base URL',
      ['data', 'omniglot', '--base-url', 'notaurl'],
      /--base-url "notaurl" is not a URL/,
    ],
    [
      'non-HTTP base URL',
      ['data', 'omniglot', '--base-url', 'ftp://127.0.0.1/x'],
      /uses ftp:; only http: and https: are supported/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const result = run(args);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(
        result.stderr
          .trim()
          .split('\n')
          .filter((line) => !line.startsWith('Warning:')).length,
      ).toBe(1);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
