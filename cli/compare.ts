// `metagrad compare`: runs trained sinusoid learners on the same new tasks,
// times one task at test time for each, and draws their predictions side by side
// (with the CNP's band of two standard deviations) into one SVG.

import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import * as mg from '../engine/index';
import type { Task } from '../algorithms/meta/functional';
import type { MetaLearner } from '../algorithms/meta/learner';
import { CnpLearner } from '../algorithms/model/cnp';
import { Rng } from '../data/rng';
import { SINE_RANGES, sampleSineTask, sineValue, type SineTask } from '../data/sinusoid';
import { UsageError } from './errors';
import { renderSvg } from './plot';
import { disposeTask } from './tasks';
import { learnerFor, loadCheckpoint, makeSource, type TrainConfig } from './train';

export interface CompareOptions {
  runs: { dir: string; config: TrainConfig }[];
  /** Support points of each plotted and timed task. */
  shots: number;
  /** Tasks drawn in the figure. */
  plotTasks: number;
  /** Tasks timed per learner. */
  timingTasks: number;
  seed: number;
  out: string;
}

const GRID_POINTS = 100;

/** Builds a task with `shots` random support points and the query points on an even grid over the input range. */
function gridTask(sine: SineTask, shots: number, rng: Rng): Task {
  const [low, high] = SINE_RANGES.x;
  const supportX = Float32Array.from({ length: shots }, () => rng.uniform(low, high));
  const queryX = Float32Array.from(
    { length: GRID_POINTS },
    (_, i) => low + ((high - low) * i) / (GRID_POINTS - 1),
  );
  return {
    supportX: mg.tensor(supportX, { shape: [shots, 1] }),
    supportY: mg.tensor(
      supportX.map((x) => sineValue(sine, x)),
      { shape: [shots, 1] },
    ),
    queryX: mg.tensor(queryX, { shape: [GRID_POINTS, 1] }),
    queryY: mg.tensor(
      queryX.map((x) => sineValue(sine, x)),
      { shape: [GRID_POINTS, 1] },
    ),
  };
}

function label(config: TrainConfig): string {
  return `${config.algorithm} (trained at K = ${config.shots})`;
}

/** Returns the mean wall time of evaluate() per task in milliseconds, including the read back of its scores. */
async function timePerTask(learner: MetaLearner, tasks: Task[]): Promise<number> {
  // One untimed task first, so pipeline compilation is not counted.
  await learner.evaluate(tasks[0]);
  const start = performance.now();
  for (const task of tasks) await learner.evaluate(task);
  return (performance.now() - start) / tasks.length;
}

export async function runCompare(options: CompareOptions): Promise<void> {
  for (const { dir, config } of options.runs) {
    if (config.dataset !== 'sine')
      throw new UsageError(
        `${dir} is a run on --dataset ${config.dataset}; compare takes sine runs only.`,
      );
  }
  const rng = new Rng(options.seed);
  const sines = Array.from({ length: Math.max(options.plotTasks, options.timingTasks) }, () =>
    sampleSineTask(rng),
  );
  const tasks = sines.map((sine) => gridTask(sine, options.shots, rng));

  const values: Record<string, unknown>[] = [];
  for (const [index, task] of tasks.slice(0, options.plotTasks).entries()) {
    const [grid, truth, xs, ys] = await Promise.all([
      task.queryX.data(),
      task.queryY.data(),
      task.supportX.data(),
      task.supportY.data(),
    ]);
    grid.forEach((x, i) =>
      values.push({ task: index + 1, series: 'true function', x, y: truth[i] }),
    );
    xs.forEach((x, i) => values.push({ task: index + 1, series: 'support points', x, y: ys[i] }));
  }

  const table: string[] = [];
  for (const { dir, config } of options.runs) {
    mg.manualSeed(config.seed);
    const source = await makeSource(config, () => undefined);
    const { learner } = learnerFor(config, source);
    await loadCheckpoint(dir, 'model', learner, false, config.algorithm);
    const series = label(config);
    for (const [index, task] of tasks.slice(0, options.plotTasks).entries()) {
      const grid = await task.queryX.data();
      if (learner instanceof CnpLearner) {
        const { mean, std } = learner.predict(task);
        const [means, stds] = await Promise.all([mean.data(), std.data()]);
        mean.dispose();
        std.dispose();
        grid.forEach((x, i) =>
          values.push({
            task: index + 1,
            series,
            x,
            y: means[i],
            low: means[i] - 2 * stds[i],
            high: means[i] + 2 * stds[i],
          }),
        );
      } else {
        const result = await learner.evaluate(task, undefined, true);
        const predictions = await result.prediction!.data();
        result.prediction!.dispose();
        grid.forEach((x, i) => values.push({ task: index + 1, series, x, y: predictions[i] }));
      }
    }
    const milliseconds = await timePerTask(learner, tasks.slice(0, options.timingTasks));
    const steps =
      learner instanceof CnpLearner ? 'one forward pass' : `${config.testInnerSteps} inner steps`;
    table.push(`${series}: ${milliseconds.toFixed(1)} ms per task (${steps})`);
  }
  for (const task of tasks) disposeTask(task);

  const out = resolve(options.out);
  await writeFile(out, await renderSvg(figureSpec(values, options.shots)));
  console.log(table.join('\n'));
  console.log(`Figure: ${out}`);
}

function figureSpec(values: Record<string, unknown>[], shots: number): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Predictions on new sine waves from K = ${shots} points (band: CNP mean ± 2 std)`,
    data: { values },
    config: { legend: { labelLimit: 400 } },
    facet: { column: { field: 'task', type: 'ordinal', title: 'test task' } },
    spec: {
      width: 260,
      height: 200,
      layer: [
        {
          transform: [{ filter: 'isValid(datum.low)' }],
          mark: { type: 'area', opacity: 0.2 },
          encoding: {
            x: { field: 'x', type: 'quantitative', scale: { domain: [-5, 5] } },
            y: { field: 'low', type: 'quantitative', title: 'y' },
            y2: { field: 'high' },
            color: { field: 'series', type: 'nominal', title: null },
          },
        },
        {
          transform: [{ filter: "datum.series !== 'support points'" }],
          mark: { type: 'line', strokeWidth: 1.5 },
          encoding: {
            x: { field: 'x', type: 'quantitative' },
            y: { field: 'y', type: 'quantitative' },
            color: { field: 'series', type: 'nominal', title: null },
            strokeDash: {
              condition: { test: "datum.series === 'true function'", value: [4, 3] },
              value: [1, 0],
            },
          },
        },
        {
          transform: [{ filter: "datum.series === 'support points'" }],
          mark: { type: 'point', filled: true, size: 40, color: 'black' },
          encoding: {
            x: { field: 'x', type: 'quantitative' },
            y: { field: 'y', type: 'quantitative' },
          },
        },
      ],
    },
  };
}
