// `npm start`: second-order MAML on sinusoids beside a baseline pretrained on all
// tasks jointly, with the figure of Finn et al. 2017: for a few test tasks, the
// true curve, the K support points, and the predictions before and after adaptation.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { TopLevelSpec } from 'vega-lite';
import * as mg from '../engine/index';
import { sineMlp } from '../engine/nn/models';
import { Adam } from '../engine/optim/index';
import { batchedView } from '../algorithms/meta/batched';
import { Maml } from '../algorithms/meta/maml';
import { lossFor } from '../algorithms/meta/learners';
import { functionalView } from '../engine/nn/module';
import type { ParamMap, Task } from '../algorithms/meta/functional';
import { formatMeanInterval, summarize } from '../algorithms/evaluation';
import { Rng } from '../data/rng';
import { sampleSineBatch, sampleSineTask, sineValue, type SineTask } from '../data/sinusoid';
import { renderSvg } from './plot';

export interface StartOptions {
  out: string;
  iterations: number;
  metaBatch?: number;
  shots?: number;
  innerLr?: number;
  testTasks?: number;
  seed?: number;
}

function toTask(batch: ReturnType<typeof sampleSineBatch>, t: number): Task {
  const { shots, queries } = batch;
  return {
    supportX: mg.tensor(batch.supportX.subarray(t * shots, (t + 1) * shots), { shape: [shots, 1] }),
    supportY: mg.tensor(batch.supportY.subarray(t * shots, (t + 1) * shots), { shape: [shots, 1] }),
    queryX: mg.tensor(batch.queryX.subarray(t * queries, (t + 1) * queries), {
      shape: [queries, 1],
    }),
    queryY: mg.tensor(batch.queryY.subarray(t * queries, (t + 1) * queries), {
      shape: [queries, 1],
    }),
  };
}

const GRID = Array.from({ length: 101 }, (_, i) => -5 + i * 0.1);

export async function runStart(options: StartOptions): Promise<void> {
  const shots = options.shots ?? 10;
  const metaBatch = options.metaBatch ?? 25;
  const innerLr = options.innerLr ?? 0.01;
  const testTasks = options.testTasks ?? 100;
  const seed = options.seed ?? 0;
  mg.manualSeed(seed);
  const rng = new Rng(seed);
  const mse = lossFor('regression');

  const mamlNet = sineMlp({ hidden: [40, 40] });
  const baselineNet = sineMlp({ hidden: [40, 40] });
  // The meta-batch runs as one batch of tasks (see algorithms/meta/batched.ts).
  const maml = new Maml(
    functionalView(mamlNet),
    mse,
    { innerSteps: 1, innerLr },
    batchedView(mamlNet),
  );
  const baseline = new Maml(functionalView(baselineNet), mse, { innerSteps: 1, innerLr });
  const mamlOptimizer = new Adam(mamlNet.parameters(), { lr: 0.001 });
  const baselineOptimizer = new Adam(baselineNet.parameters(), { lr: 0.001 });

  console.log(
    `Meta-training second-order MAML on sinusoids: ${options.iterations} meta-update${options.iterations === 1 ? '' : 's'} of ${metaBatch} tasks, K = ${shots}, on ${mg.adapterDescription() || 'the WebGPU adapter'}.`,
  );
  const bar = new SingleBar(
    {
      format:
        '  [{bar}] {value}/{total} | MAML query MSE {maml} | baseline MSE {baseline} | {eta_formatted} left',
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  bar.start(options.iterations, 0, { maml: '-', baseline: '-' });
  const started = performance.now();
  for (let iteration = 0; iteration < options.iterations; iteration++) {
    const batch = sampleSineBatch(rng, metaBatch, shots, shots);
    const tasks = Array.from({ length: metaBatch }, (_, t) => toTask(batch, t));
    const losses = mg.tidy(() => {
      // Tasks of one meta-batch share their shapes, so they run as one batch.
      const meta = maml.canBatch(tasks) ? maml.batchedTaskLoss(tasks) : maml.metaLoss(tasks);
      meta.loss.backward();
      mamlOptimizer.step();
      mamlOptimizer.zeroGrad();

      // The baseline regresses every task's points with one network, with no adaptation.
      let joint: mg.Tensor | null = null;
      for (const task of tasks) {
        const term = mse(
          baselineNet.forward(mg.concat([task.supportX, task.queryX])),
          mg.concat([task.supportY, task.queryY]),
        );
        joint = joint ? mg.add(joint, term) : term;
      }
      const baselineLoss = mg.mul(joint!, 1 / tasks.length);
      baselineLoss.backward();
      baselineOptimizer.step();
      baselineOptimizer.zeroGrad();
      return [meta.loss.detach(), baselineLoss.detach()];
    });
    for (const task of tasks) for (const t of Object.values(task)) t.dispose();
    // Dawn in Node needs the event loop to turn while work is queued.
    await mg.yieldEventLoop();
    if (iteration % 50 === 0 || iteration === options.iterations - 1) {
      const [a, b] = await Promise.all(losses.map((t) => t.item()));
      bar.update(iteration + 1, { maml: a.toFixed(3), baseline: b.toFixed(3) });
    } else {
      bar.update(iteration + 1);
    }
    for (const t of losses) t.dispose();
  }
  bar.stop();
  const seconds = (performance.now() - started) / 1000;

  // Evaluation on fixed test tasks: query MSE before adaptation and after 1 and 10 steps.
  const evalRng = new Rng(seed + 12345);
  const stepsList = [0, 1, 10];
  const scores = {
    maml: stepsList.map(() => [] as number[]),
    baseline: stepsList.map(() => [] as number[]),
  };
  const curves: Record<string, unknown>[] = [];
  const testTaskList: SineTask[] = Array.from({ length: testTasks }, () => sampleSineTask(evalRng));
  const plotted = 3;
  const gridX = mg.keep(mg.tensor(GRID, { shape: [GRID.length, 1] }));

  for (let t = 0; t < testTasks; t++) {
    const batch = sampleSineBatch(evalRng, 1, shots, 100, [testTaskList[t]]);
    const task = toTask(batch, 0);
    for (const [name, learner] of [
      ['maml', maml],
      ['baseline', baseline],
    ] as const) {
      const results = mg.tidy(() => {
        const trajectory = learner.adapt(task, 10, false);
        return stepsList.map((steps) => {
          const params: ParamMap = trajectory[steps];
          const query = mg
            .noGrad(() => mse(learner.model.apply(params, task.queryX), task.queryY))
            .detach();
          const curve =
            t < plotted ? mg.noGrad(() => learner.model.apply(params, gridX)).detach() : null;
          return { query, curve };
        });
      });
      for (const [i, result] of results.entries()) {
        scores[name][i].push(await result.query.item());
        if (result.curve) {
          const values = await result.curve.data();
          GRID.forEach((x, j) =>
            curves.push({
              task: t + 1,
              x,
              y: values[j],
              series: `${name}, ${stepsList[i]} step${stepsList[i] === 1 ? '' : 's'}`,
            }),
          );
        }
        result.query.dispose();
        result.curve?.dispose();
      }
    }
    if (t < plotted) {
      GRID.forEach((x) =>
        curves.push({ task: t + 1, x, y: sineValue(testTaskList[t], x), series: 'true function' }),
      );
      for (let i = 0; i < shots; i++)
        curves.push({
          task: t + 1,
          x: batch.supportX[i],
          y: batch.supportY[i],
          series: 'support points',
        });
    }
    for (const tensor of Object.values(task)) tensor.dispose();
  }
  gridX.dispose();

  const lines = [`Query MSE over ${testTasks} test tasks, K = ${shots} (mean ± 95% CI):`];
  const table: Record<string, Record<string, { mean: number; ci95: number | null }>> = {};
  for (const name of ['maml', 'baseline'] as const) {
    table[name] = {};
    const cells = stepsList.map((steps, i) => {
      const summary = summarize(scores[name][i]);
      table[name][`${steps}_steps`] = { mean: summary.mean, ci95: summary.ci95 };
      return `${steps === 0 ? 'before' : `${steps} step${steps > 1 ? 's' : ''}`}: ${formatMeanInterval(summary, 3)}`;
    });
    lines.push(
      `  ${name === 'maml' ? 'MAML (second order)' : 'pretrained baseline'}: ${cells.join(', ')}`,
    );
  }
  await mkdir(options.out, { recursive: true });
  const figure = join(options.out, 'sine-adaptation.svg');
  await writeFile(figure, await renderSvg(figureSpec(curves)));
  await writeFile(
    join(options.out, 'result.json'),
    JSON.stringify(
      {
        iterations: options.iterations,
        metaBatch,
        shots,
        innerLr,
        seconds,
        testTasks,
        query_mse: table,
      },
      null,
      2,
    ),
  );
  console.log(lines.join('\n'));
  console.log(`Trained in ${seconds.toFixed(1)} s. Figure: ${figure}`);
}

function figureSpec(values: Record<string, unknown>[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Adapting to new sine waves from K points: MAML against a pretrained baseline',
    data: { values },
    facet: { column: { field: 'task', type: 'ordinal', title: 'test task' } },
    spec: {
      width: 260,
      height: 200,
      layer: [
        {
          transform: [{ filter: "datum.series !== 'support points'" }],
          mark: { type: 'line', strokeWidth: 1.5 },
          encoding: {
            x: { field: 'x', type: 'quantitative', scale: { domain: [-5, 5] } },
            y: { field: 'y', type: 'quantitative' },
            color: { field: 'series', type: 'nominal', title: null },
            strokeDash: {
              condition: { test: "indexof(datum.series, 'baseline') >= 0", value: [4, 3] },
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
