// The training loop behind `metagrad train`: meta-batches, logging, validation,
// checkpoints, resume, the curves plot and the final test evaluation.

import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { decodeProgress } from './decode-progress';
import * as mg from '../engine/index';
import {
  loadSafetensors,
  saveSafetensors,
  loadOptimizer,
  saveOptimizer,
  writeFileAtomic,
} from '../engine/checkpoint';
import { formatMeanInterval, summarize, type Summary } from '../algorithms/evaluation';
import type { ParamMap } from '../algorithms/meta/functional';
import type { MetaLearner } from '../algorithms/meta/learner';
import { Rng } from '../data/rng';
import { UsageError } from './errors';
import { curvesSpec, renderSvg, type CurvePoint } from './plot';
import { disposeTask, omniglotSource, sineSource, type TaskSource } from './tasks';
import { algorithmSpec } from './algorithms/index';
import { imageSetSource, isImageSet, type ImageSetName } from './image-sets';
import { commandName } from './invocation';

export type DatasetName = 'sine' | 'omniglot' | ImageSetName;

export interface TrainConfig {
  /** A name from cli/algorithms. */
  algorithm: string;
  dataset: DatasetName;
  ways: number;
  shots: number;
  queries: number;
  innerSteps: number;
  testInnerSteps: number;
  innerLr: number;
  metaLr: number;
  metaBatch: number;
  iterations: number;
  seed: number;
  dataDir: string;
  split: 'vinyals' | 'lake';
  hidden: number;
  logInterval: number;
  evalInterval: number;
  valEpisodes: number;
  testEpisodes: number;
  out: string;
  /** Side of the square images of cifar100, cub and miniimagenet; absent uses the dataset's size. */
  imageSize?: number;
  /** The algorithm's own options (AlgorithmSpec.options), by key; absent in runs saved before they existed. */
  options?: Record<string, number | string | boolean>;
}

export interface RunState {
  /** Iterations completed. */
  iteration: number;
  rng: number;
  engineRng: { seed: number; counter: number };
  best: { iteration: number; score: number } | null;
  /** Iterations since the last metrics row, kept so that the first row after a resume averages them all. */
  window?: StepScore[];
}

interface StepScore {
  loss: number;
  accuracy?: number;
}

/** Returns the quantity a run is selected and reported by: accuracy for classification, query MSE for regression. */
function scoreName(source: TaskSource): 'accuracy' | 'mse' {
  return source.kind === 'classification' ? 'accuracy' : 'mse';
}

/**
 * Compares a validation score with the best so far. A NaN score (a diverged
 * model) never replaces a finite best. A NaN best, which the state file stores
 * as null, is replaced by any score, so a run that recovers from an early
 * divergence still saves its best checkpoint.
 */
export function better(
  kind: TaskSource['kind'],
  score: number,
  best: number | null | undefined,
): boolean {
  if (best === undefined || best === null || !Number.isFinite(best)) return true;
  if (!Number.isFinite(score)) return false;
  return kind === 'classification' ? score > best : score < best;
}

/** Builds the task source of `config`; `testOnly` checks only the test split's episode shape (for eval). */
export async function makeSource(
  config: TrainConfig,
  log: (line: string) => void,
  testOnly = false,
): Promise<TaskSource> {
  if (config.dataset === 'sine')
    return sineSource({ shots: config.shots, queries: config.queries });
  if (isImageSet(config.dataset)) return imageSetSource(config, log, testOnly);
  const onProgress = decodeProgress(log, () => 'Decoding Omniglot (cached for later runs)');
  const custom = algorithmSpec(config.algorithm).source;
  if (custom) return custom(config, onProgress);
  const source = await omniglotSource({
    dataDir: config.dataDir,
    split: config.split,
    ways: config.ways,
    shots: config.shots,
    queries: config.queries,
    trainWays: typeof config.options?.trainWays === 'number' ? config.options.trainWays : undefined,
    testOnly,
    onProgress,
  });
  return source;
}

export function learnerFor(config: TrainConfig, source: TaskSource): { learner: MetaLearner } {
  const spec = algorithmSpec(config.algorithm);
  try {
    return { learner: spec.build(config, source) };
  } catch (error) {
    if (!(error instanceof mg.StorageLimitError)) throw error;
    // A parameter or state tensor of the new model does not fit one GPU binding.
    const settings = (spec.sizeFlags ?? ['--hidden']).map((flag) => {
      const key = flag.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
      const value = key === 'hidden' ? config.hidden : config.options?.[key];
      return value === undefined ? flag : `${flag} ${String(value)}`;
    });
    throw new UsageError(
      `the model at ${settings.join(', ')} needs a tensor of ${error.bytes} bytes, more than the GPU's largest storage binding (${error.limit} bytes); use smaller values.`,
    );
  }
}

/** A test summary with the learner's further scores (EvalResult.metrics), each summarized over the tasks. */
export interface TaskSummary extends Summary {
  metrics?: Record<string, Summary>;
}

/** Evaluates on a fixed task list: the mean score and its 95% confidence interval. */
export async function evaluateTasks(
  learner: MetaLearner,
  source: TaskSource,
  split: 'val' | 'test',
  count: number,
  seed: number,
): Promise<TaskSummary> {
  const tasks = source.fixed(split, count, seed);
  const scores: number[] = [];
  const metrics = new Map<string, number[]>();
  for (let i = 0; i < tasks.count; i++) {
    const task = tasks.task(i);
    const result = await learner.evaluate(task);
    scores.push(source.kind === 'classification' ? result.accuracy! : result.loss);
    for (const [name, value] of Object.entries(result.metrics ?? {}))
      metrics.set(name, [...(metrics.get(name) ?? []), value]);
    disposeTask(task);
  }
  const summary: TaskSummary = summarize(scores);
  if (metrics.size > 0)
    summary.metrics = Object.fromEntries(
      [...metrics].map(([name, values]) => [name, summarize(values)]),
    );
  return summary;
}

async function saveCheckpoint(
  dir: string,
  prefix: string,
  learner: MetaLearner,
  state: RunState,
): Promise<void> {
  await saveSafetensors(join(dir, `${prefix}.safetensors`), learner.stateTensors(), {
    format: 'metagrad-model',
    algorithm: learner.name,
  });
  await saveOptimizer(join(dir, `${prefix}.optimizer.safetensors`), learner.optimizer);
  await writeFileAtomic(
    join(dir, `${prefix}.state.json`),
    new TextEncoder().encode(JSON.stringify(state, null, 2)),
  );
}

export async function loadCheckpoint(
  dir: string,
  prefix: string,
  learner: MetaLearner,
  withOptimizer: boolean,
  algorithm: string,
): Promise<RunState> {
  const path = join(dir, `${prefix}.safetensors`);
  if (!existsSync(path)) {
    throw new UsageError(
      `No checkpoint ${path}: the run has not saved one yet (the first comes after --log-interval iterations); continue training it with \`${commandName()} train ${algorithm} --resume ${dir}\`.`,
    );
  }
  const { tensors } = await readDamageable(() => loadSafetensors(path));
  const onDevice: ParamMap = new Map();
  for (const [name, stored] of tensors) {
    // A copy, because the bytes may be a view into a larger (and unaligned) file buffer.
    const bytes = Uint8Array.from(stored.bytes).buffer;
    const values = stored.dtype === 'I32' ? new Int32Array(bytes) : new Float32Array(bytes);
    onDevice.set(name, mg.tensor(values, { shape: stored.shape }));
  }
  try {
    learner.loadStateTensors(onDevice);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  } finally {
    for (const t of onDevice.values()) t.dispose();
  }
  if (withOptimizer) {
    const optimizerPath = join(dir, `${prefix}.optimizer.safetensors`);
    await readDamageable(() => loadOptimizer(optimizerPath, learner.optimizer));
  }
  const statePath = join(dir, `${prefix}.state.json`);
  return readDamageable(async () => {
    let state: unknown;
    try {
      state = JSON.parse(await readFile(statePath, 'utf8'));
    } catch (error) {
      throw new Error(`${statePath} is not valid JSON (${(error as Error).message})`);
    }
    const problem = runStateProblem(state);
    if (problem) throw new Error(`${statePath} is invalid: ${problem}`);
    return state as RunState;
  });
}

/** Returns what is wrong with a parsed RunState file, or null when its fields have their types. */
export function runStateProblem(state: unknown): string | null {
  if (typeof state !== 'object' || state === null || Array.isArray(state))
    return 'it does not contain an object';
  const value = state as Record<string, unknown>;
  const isCount = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!isCount(value.iteration)) return '"iteration" is not a non-negative integer';
  if (typeof value.rng !== 'number') return '"rng" is not a number';
  const engine = value.engineRng as Record<string, unknown> | null | undefined;
  if (
    typeof engine !== 'object' ||
    engine === null ||
    !isCount(engine.seed) ||
    !isCount(engine.counter)
  )
    return '"engineRng" is not an object with integer "seed" and "counter"';
  const best = value.best as Record<string, unknown> | null | undefined;
  // JSON writes a NaN score (a diverged model) as null.
  if (
    best !== null &&
    (typeof best !== 'object' ||
      !isCount(best.iteration) ||
      (best.score !== null && typeof best.score !== 'number'))
  )
    return '"best" is neither null nor an object with "iteration" and "score"';
  if (value.window !== undefined && !Array.isArray(value.window)) return '"window" is not a list';
  return null;
}

/**
 * Runs `read` on a file of the run folder and turns its failure (a truncated or
 * edited file) into a UsageError that names the fix.
 */
async function readDamageable<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new UsageError(
      `${(error as Error).message.replace(/\.$/, '')}; the run folder is damaged, so restore the file or train a new run with another --out.`,
    );
  }
}

async function readMetrics(out: string): Promise<Record<string, number>[]> {
  const path = join(out, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .map((line, index) => ({ line, number: index + 1 }))
    .filter(({ line }) => line.trim())
    .map(({ line, number }) => {
      try {
        return JSON.parse(line) as Record<string, number>;
      } catch (error) {
        throw new UsageError(
          `${path}: line ${number} is not valid JSON (${(error as Error).message}); delete that line and run the command again.`,
        );
      }
    });
}

export async function writeCurves(out: string, title: string): Promise<void> {
  const rows = await readMetrics(out);
  const points: CurvePoint[] = [];
  for (const row of rows) {
    const iteration = row.iteration;
    if (row.train_loss !== undefined)
      points.push({ iteration, series: 'train loss', panel: 'loss', value: row.train_loss });
    if (row.train_accuracy !== undefined)
      points.push({
        iteration,
        series: 'train accuracy',
        panel: 'accuracy',
        value: row.train_accuracy,
      });
    if (row.val_accuracy !== undefined)
      points.push({
        iteration,
        series: 'val accuracy',
        panel: 'accuracy',
        value: row.val_accuracy,
      });
    if (row.val_mse !== undefined)
      points.push({ iteration, series: 'val query MSE', panel: 'mse', value: row.val_mse });
  }
  await writeFile(join(out, 'curves.svg'), await renderSvg(curvesSpec(points, title)));
}

export interface TrainOptions {
  resume: boolean;
  /** Stop after this many iterations of this invocation (for tests of resume); the run stays resumable. */
  stopAfter?: number;
  log?: (line: string) => void;
  progress?: boolean;
}

/** Runs (or resumes) a training run and writes every output into config.out. */
/** 'interrupted': stopped by SIGINT (Ctrl-C) after saving a resumable checkpoint. */
export type TrainOutcome = 'finished' | 'stopped' | 'interrupted';

export async function train(config: TrainConfig, options: TrainOptions): Promise<TrainOutcome> {
  const log = options.log ?? ((line: string) => console.log(line));
  const out = resolve(config.out);

  mg.manualSeed(config.seed);
  const source = await makeSource(config, log);
  const { learner } = learnerFor(config, source);
  const score = scoreName(source);

  // The run folder is made only once the data and the model accept the settings.
  await mkdir(out, { recursive: true });
  if (!options.resume) await writeFile(join(out, 'config.json'), JSON.stringify(config, null, 2));

  let state: RunState = {
    iteration: 0,
    rng: new Rng(config.seed).getState(),
    engineRng: mg.getRngState(),
    best: null,
  };
  // A run killed before its first checkpoint restarts from iteration 0 with its saved settings.
  const fresh = options.resume && !existsSync(join(out, 'last.safetensors'));
  if (fresh) {
    log(`${out} has no checkpoint yet; starting it from iteration 0`);
    await writeFile(join(out, 'metrics.jsonl'), '');
  }
  if (options.resume && !fresh) {
    state = await loadCheckpoint(out, 'last', learner, true, config.algorithm);
    if (state.iteration > config.iterations)
      throw new UsageError(
        `${join(out, 'last.state.json')} is invalid: iteration ${state.iteration} is past the run's ${config.iterations} iterations; the run folder is damaged, so restore the file or train a new run with another --out.`,
      );
    // A run that stopped after its last iteration but before result.json resumes into
    // the test evaluation; one with result.json has nothing left to do.
    if (state.iteration >= config.iterations && existsSync(join(out, 'result.json'))) {
      throw new UsageError(
        `${out} already finished all ${config.iterations} iterations; evaluate it again with \`${commandName()} eval ${out}\`, or train a new run with more --iterations.`,
      );
    }
    mg.setRngState(state.engineRng);
    const kept = (await readMetrics(out)).filter((row) => row.iteration <= state.iteration);
    await writeFile(
      join(out, 'metrics.jsonl'),
      kept.map((row) => JSON.stringify(row) + '\n').join(''),
    );
    log(`Resuming ${out} at iteration ${state.iteration} of ${config.iterations}`);
  }
  const rng = new Rng(0);
  rng.setState(state.rng);

  const bar =
    options.progress === false || !process.stdout.isTTY
      ? null
      : new SingleBar(
          {
            format: `${config.algorithm} [{bar}] {value}/{total} | loss {loss} | ${score === 'accuracy' ? 'acc {acc}' : 'val mse {acc}'} | {duration_formatted} elapsed, {eta_formatted} left`,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
  bar?.start(config.iterations, state.iteration, { loss: '-', acc: '-' });

  const window: StepScore[] = state.window ?? [];
  const stopAt =
    options.stopAfter === undefined
      ? config.iterations
      : Math.min(config.iterations, state.iteration + options.stopAfter);
  // Ctrl-C finishes the iteration in progress and saves a resumable checkpoint. The
  // handler stays until that checkpoint is written, so a second Ctrl-C cannot cut the write.
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) log('Saving the checkpoint before stopping; wait a moment.');
    interrupted = true;
  };
  process.on('SIGINT', onInterrupt);
  while (state.iteration < stopAt && !interrupted) {
    const tasks = source.sampleTrain(rng, config.metaBatch);
    const step = await learner.trainStep(tasks, state.iteration);
    for (const task of tasks) disposeTask(task);
    window.push(step);
    state.iteration += 1;

    const logNow =
      state.iteration % config.logInterval === 0 || state.iteration === config.iterations;
    const evalNow =
      state.iteration % config.evalInterval === 0 || state.iteration === config.iterations;
    if (logNow || evalNow) {
      const trainLoss = mean(window.map((w) => w.loss));
      // The validation interval is null when there is one validation episode.
      const row: Record<string, number | null> = {
        iteration: state.iteration,
        train_loss: trainLoss,
      };
      if (window[0]?.accuracy !== undefined)
        row.train_accuracy = mean(window.map((w) => w.accuracy!));
      window.length = 0;
      if (evalNow) {
        const val = await evaluateTasks(learner, source, 'val', config.valEpisodes, config.seed);
        row[`val_${score}`] = val.mean;
        row[`val_${score}_ci95`] = val.ci95;
        if (better(source.kind, val.mean, state.best?.score)) {
          state.best = { iteration: state.iteration, score: val.mean };
          state.rng = rng.getState();
          state.engineRng = mg.getRngState();
          await saveCheckpoint(out, 'model', learner, state);
        }
      }
      await appendFile(join(out, 'metrics.jsonl'), JSON.stringify(row) + '\n');
      bar?.update(state.iteration, {
        loss: trainLoss.toFixed(4),
        acc: (row[`val_${score}`] ?? row.train_accuracy)?.toFixed(4) ?? '-',
      });
      // Without a progress bar (no terminal, or --no-progress) each metrics row is logged.
      if (!bar) {
        const fields = Object.entries(row)
          .filter(([key]) => key !== 'iteration')
          .map(([key, value]) => `${key} ${value === null ? 'n/a' : value.toFixed(4)}`);
        log(`iteration ${state.iteration}/${config.iterations}: ${fields.join(', ')}`);
      }

      // The resumable checkpoint. A crash before it is written repeats these iterations
      // on resume, and the resume drops the metrics rows past the checkpoint.
      state.rng = rng.getState();
      state.engineRng = mg.getRngState();
      state.window = [];
      await saveCheckpoint(out, 'last', learner, state);
    } else {
      bar?.update(state.iteration);
    }
  }
  bar?.stop();
  // A run stopped between metrics rows saves where it is, with the iterations of the
  // unfinished row, so the resume repeats nothing and its first row averages them all.
  if (state.iteration < config.iterations && window.length > 0) {
    state.rng = rng.getState();
    state.engineRng = mg.getRngState();
    state.window = window;
    await saveCheckpoint(out, 'last', learner, state);
  }
  await writeCurves(out, `${config.algorithm} on ${config.dataset}`);
  if (state.iteration < config.iterations) {
    const resume = `${commandName()} train ${config.algorithm} --resume ${out}`;
    log(
      `${interrupted ? 'Interrupted' : 'Stopped'} at iteration ${state.iteration} of ${config.iterations}, with a checkpoint; continue with \`${resume}\``,
    );
    process.off('SIGINT', onInterrupt);
    return interrupted ? 'interrupted' : 'stopped';
  }
  process.off('SIGINT', onInterrupt);

  // From here on Ctrl-C stops the test evaluation at once. The checkpoints are written
  // and result.json is not, so --resume goes straight to the test evaluation.
  const onTestInterrupt = () => {
    log(
      `Interrupted during the test evaluation; training is finished and saved. Run the test evaluation with \`${commandName()} train ${config.algorithm} --resume ${out}\`.`,
    );
    process.exit(130);
  };
  process.on('SIGINT', onTestInterrupt);
  let test: TaskSummary;
  try {
    await loadCheckpoint(out, 'model', learner, false, config.algorithm);
    test = await evaluateTasks(learner, source, 'test', config.testEpisodes, config.seed);
  } finally {
    process.off('SIGINT', onTestInterrupt);
  }
  await writeResult(out, config, source, test, state.best);
  log(formatResult(source, test, config));
  if (!Number.isFinite(test.mean)) {
    // Either rate can cause it. A learner with an inner loop takes both.
    const rates =
      algorithmSpec(config.algorithm).family === 'optimization'
        ? `a smaller --inner-lr or --meta-lr (this run used --inner-lr ${config.innerLr} and --meta-lr ${config.metaLr})`
        : `a smaller --meta-lr (this run used ${config.metaLr})`;
    log(
      `Warning: the model diverged: its test ${score} is not a number, so result.json records null. Train again with ${rates}.`,
    );
  }
  return 'finished';
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export async function writeResult(
  out: string,
  config: TrainConfig,
  source: TaskSource,
  test: TaskSummary,
  best: RunState['best'],
): Promise<void> {
  const metric = scoreName(source);
  const result = {
    algorithm: config.algorithm,
    dataset: config.dataset,
    ways: source.kind === 'classification' ? config.ways : undefined,
    shots: config.shots,
    queries: config.queries,
    metric,
    [`test_${metric}`]: test.mean,
    [`test_${metric}_ci95`]: test.ci95,
    test_episodes: test.count,
    // Model-based learners take no inner steps, so the setting does not apply to them.
    test_inner_steps:
      algorithmSpec(config.algorithm).family === 'model' ? undefined : config.testInnerSteps,
    best_iteration: best?.iteration ?? null,
    iterations: config.iterations,
    // Further test scores of the learner, e.g. the MANN's accuracy by instance index.
    test_metrics: test.metrics
      ? Object.fromEntries(
          Object.entries(test.metrics).map(([name, m]) => [name, { mean: m.mean, ci95: m.ci95 }]),
        )
      : undefined,
  };
  await writeFileAtomic(
    join(out, 'result.json'),
    new TextEncoder().encode(JSON.stringify(result, null, 2)),
  );
}

export function formatResult(source: TaskSource, test: Summary, config: TrainConfig): string {
  if (source.kind === 'classification') {
    // A model-based classifier (the MANN) reads its episodes as sequences with no shots.
    const shape =
      algorithmSpec(config.algorithm).family === 'model'
        ? `${config.ways}-way sequences`
        : `${config.ways}-way ${config.shots}-shot`;
    return `Test accuracy over ${plural(test.count, 'episode')} (${shape}): ${formatMeanInterval(test, 2, 100, '%')}`;
  }
  return `Test query MSE over ${plural(test.count, 'task')} (K = ${config.shots}): ${formatMeanInterval(test, 4)}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
