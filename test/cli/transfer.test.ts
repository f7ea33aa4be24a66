import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `metagrad transfer` end to end with the built CLI on tiny settings: run
// folders, Ctrl-C and resume, plots, and one-line errors for bad input.
let work: string;
const cli = join(process.cwd(), 'dist', 'cli.js');

beforeAll(async () => {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`vite build failed:\n${build.stderr}`);
  work = await mkdtemp(join(tmpdir(), 'mg-transfer-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function run(args: string[]) {
  return spawnSync('node', [cli, 'transfer', ...args], { encoding: 'utf8', cwd: work });
}

const json = async (path: string) => JSON.parse(await readFile(path, 'utf8'));
const small = ['--widths', '32,16', '--batch-size', '16', '--log-interval', '5'];

describe('metagrad transfer', () => {
  it('finetune stops on Ctrl-C and resumes', async () => {
    const out = join(work, 'finetune');
    const args = [
      'finetune',
      ...small,
      '--strategy',
      'linear,full',
      '--shots',
      '1,5',
      '--pretrain-steps',
      '40',
      '--epochs',
      '2',
      '--steps-per-epoch',
      '3',
      '--out',
      out,
    ];
    // Ctrl-C once pretraining has checkpointed step 10 of 40.
    const child = spawn('node', [cli, 'transfer', ...args], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setInterval(async () => {
        const state = await json(join(out, 'state.json')).catch(() => null);
        if (state?.current?.step >= 10) {
          clearInterval(timer);
          child.kill('SIGINT');
        }
      }, 100);
      child.on('exit', (exitCode) => {
        clearInterval(timer);
        resolve(exitCode);
      });
    });
    expect(code).toBe(130);
    const stopped = (await json(join(out, 'state.json'))).current.step;
    expect(stopped).toBeGreaterThanOrEqual(10);

    const refused = run(['finetune', '--resume', out, '--lr', '0.1']);
    expect(refused.status).toBe(2);
    expect(refused.stderr.trim()).toBe(
      'error: --resume continues a run with the settings in its config.json; leave out --lr.',
    );

    const resumed = run(['finetune', '--resume', out]);
    expect(resumed.status, resumed.stderr).toBe(0);
    const rows = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const pretrainSteps = rows.filter((row) => row.stage === 'pretrain').map((row) => row.step);
    expect(pretrainSteps.at(-1)).toBe(40);
    expect(pretrainSteps).toContain(stopped);
    expect(rows.filter((row) => row.target_accuracy !== undefined).length).toBe(4);
    expect(existsSync(join(out, 'result.json'))).toBe(true);
  });

  it('finetune writes the table and plot', async () => {
    const out = join(work, 'finetune-short');
    const args = ['finetune', ...small, '--strategy', 'linear,gradual', '--shots', '1,5'];
    const first = run([
      ...args,
      '--pretrain-steps',
      '20',
      '--epochs',
      '2',
      '--steps-per-epoch',
      '3',
      '--out',
      out,
    ]);
    expect(first.status, first.stderr).toBe(0);
    const result = await json(join(out, 'result.json'));
    expect(result.target_accuracy.map((row: { strategy: string }) => row.strategy)).toEqual([
      'linear',
      'gradual',
    ]);
    for (const row of result.target_accuracy)
      for (const shots of ['1', '5']) expect(row.accuracy[shots]).toBeGreaterThan(0);
    expect(result.source_accuracy).toBeGreaterThan(0.5);
    expect(await readFile(join(out, 'accuracy-vs-shots.svg'), 'utf8')).toMatch(/^<svg/);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
    const again = run([...args, '--out', out]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/already holds a run; continue it with/);
  });

  it('finetune keeps one checkpoint per stage', async () => {
    const out = join(work, 'finetune-short');
    for (const stage of ['linear-1', 'linear-5', 'gradual-1', 'gradual-5'])
      expect(existsSync(join(out, `model.${stage}.safetensors`))).toBe(true);
    // A resume that redoes gradual-5 keeps model.safetensors when a finished
    // stage scored higher, even one finished before the resume.
    const state = await json(join(out, 'state.json'));
    state.stages['linear-1'].target_accuracy = 2;
    delete state.stages['gradual-5'];
    await writeFile(join(out, 'state.json'), JSON.stringify(state));
    await rm(join(out, 'model.gradual-5.safetensors'));
    const best = await readFile(join(out, 'model.safetensors'));
    const resumed = run(['finetune', '--resume', out]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/gradual, 5 per class/);
    expect(resumed.stdout).not.toMatch(/linear, 1 per class/);
    expect(existsSync(join(out, 'model.gradual-5.safetensors'))).toBe(true);
    expect((await readFile(join(out, 'model.safetensors'))).equals(best)).toBe(true);
  });

  it('dann reports three accuracies and the PCA plot', async () => {
    const out = join(work, 'dann');
    const result = run([
      'dann',
      ...small,
      '--steps',
      '10',
      '--train-images',
      '200',
      '--test-images',
      '200',
      '--out',
      out,
    ]);
    expect(result.status, result.stderr).toBe(0);
    const saved = await json(join(out, 'result.json'));
    for (const key of ['source_only', 'dann', 'target_trained'])
      expect(saved[key].target_accuracy).toBeGreaterThan(0);
    expect(typeof saved.gap_closed).toBe('number');
    expect(await readFile(join(out, 'features-pca.svg'), 'utf8')).toMatch(/^<svg/);
    const metrics = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n');
    expect(metrics.length).toBe(6);
  });

  it('distill and pretrain write results', async () => {
    const distill = run([
      'distill',
      ...small,
      '--kind',
      'feature',
      '--student-widths',
      '8,4',
      '--teacher-steps',
      '10',
      '--student-images',
      '64',
      '--epochs',
      '2',
      '--out',
      join(work, 'distill'),
    ]);
    expect(distill.status, distill.stderr).toBe(0);
    const distilled = await json(join(work, 'distill', 'result.json'));
    expect(distilled.teacher.parameters).toBeGreaterThan(distilled.student_alone.parameters);
    expect(distilled.student_distilled.inference_ms_per_500).toBeGreaterThan(0);

    const moco = run([
      'pretrain',
      'moco',
      ...small,
      '--steps',
      '5',
      '--queue-size',
      '32',
      '--images',
      '200',
      '--probe-images',
      '100',
      '--test-images',
      '300',
      '--episodes',
      '3',
      '--out',
      join(work, 'moco'),
    ]);
    expect(moco.status, moco.stderr).toBe(0);
    const pretrained = await json(join(work, 'moco', 'result.json'));
    for (const name of ['moco', 'random', 'supervised']) {
      expect(pretrained[name].knn).toBeGreaterThan(0);
      expect(pretrained[name].linear_probe).toBeGreaterThan(0);
      expect(pretrained[name].few_shot_ci95).toBeGreaterThanOrEqual(0);
    }
  });

  it('rejects bad input in one line', () => {
    const strategy = run(['finetune', '--strategy', 'frozen']);
    expect(strategy.status).toBe(2);
    expect(strategy.stderr.trim()).toBe(
      'error: --strategy "frozen" is not supported; use full, linear, partial, discriminative, gradual or all.',
    );
    const method = run(['pretrain']);
    expect(method.status).toBe(2);
    expect(method.stderr).toMatch(/needs a method: simclr or moco/);
    const missing = run(['dann', '--data-dir', join(work, 'nowhere'), '--out', join(work, 'd2')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toMatch(
      /train-images-idx3-ubyte.gz: file not found; pass --data-dir/,
    );
    // One error line and no stack trace (Dawn may add its own warnings on stderr).
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(work, 'd2', 'config.json'))).toBe(false);
  });
});
