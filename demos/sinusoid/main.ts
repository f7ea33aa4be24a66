// Sinusoid MAML, live: meta-trains a 1-40-40-1 network on sine-wave tasks next
// to a baseline trained on all tasks jointly, then adapts both to points the
// reader places on a new wave.

import * as mg from '../../index';
import type { Tensor } from '../../index';
import { Maml } from '../../algorithms/meta/maml';
import type { ParamMap } from '../../algorithms/meta/functional';
import { Rng } from '../../data/rng';
import {
  SINE_RANGES,
  sampleSineBatch,
  sampleSineTask,
  sineValue,
  type SineTask,
} from '../../data/sinusoid';
import { addMessages, onLanguageChange, t } from '../shared/i18n';
import { breathe, publish, setupPage, showError, startGpu, testMode } from '../shared/page';
import { drawPlot, plotScale } from '../shared/plot';
import { messages } from './messages';

addMessages(messages);
setupPage();

const TEST = testMode();
// The test configuration trains briefly on SwiftShader, a CPU adapter.
const ITERATIONS = TEST ? 30 : 3000;
const META_BATCH = TEST ? 2 : 8;
const SHOTS = 10;
const QUERIES = 10;
const INNER_LR = 0.01;
const MAX_POINTS = 10;
const MAX_STEPS = 10;
const GRID = Array.from({ length: 101 }, (_, i) => -5 + i / 10);

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const gpuStatus = element<HTMLParagraphElement>('gpu');
const trainButton = element<HTMLButtonElement>('train');
const progress = element<HTMLSpanElement>('progress');
const lossCanvas = element<HTMLCanvasElement>('loss');
const curvesCanvas = element<HTMLCanvasElement>('curves');
const stepsInput = element<HTMLInputElement>('steps');
const stepsValue = element<HTMLOutputElement>('steps-value');
const mseTable = element<HTMLTableElement>('mse');
const adaptStatus = element<HTMLParagraphElement>('adapt-status');

const rng = new Rng(TEST ? 1 : Date.now() % 100000);
const mse = (prediction: Tensor, target: Tensor) => mg.mseLoss(prediction, target);

interface Learner {
  model: ReturnType<typeof mg.nn.sineMlp>;
  maml: Maml;
  optimizer: InstanceType<typeof mg.optim.Adam>;
  losses: number[];
}

function learner(): Learner {
  const model = mg.nn.sineMlp();
  const maml = new Maml(mg.functionalView(model), mse, { innerSteps: 1, innerLr: INNER_LR });
  return {
    model,
    maml,
    optimizer: new mg.optim.Adam(model.parameters(), { lr: 1e-3 }),
    losses: [],
  };
}

/** Returns a [n, 1] tensor of `values`. */
function column(values: Float32Array | number[]): Tensor {
  return mg.tensor(Float32Array.from(values), { shape: [values.length, 1] });
}

let maml: Learner;
let baseline: Learner;
let iteration = 0;
let running = false;

/** Runs one meta-update of MAML and one ordinary step of the baseline on the same batch of waves. */
async function trainStep(): Promise<void> {
  const batch = sampleSineBatch(rng, META_BATCH, SHOTS, QUERIES);
  const tasks = batch.tasks.map((_, i) => ({
    supportX: column(batch.supportX.subarray(i * SHOTS, (i + 1) * SHOTS)),
    supportY: column(batch.supportY.subarray(i * SHOTS, (i + 1) * SHOTS)),
    queryX: column(batch.queryX.subarray(i * QUERIES, (i + 1) * QUERIES)),
    queryY: column(batch.queryY.subarray(i * QUERIES, (i + 1) * QUERIES)),
  }));
  const [metaLoss, baselineLoss] = mg.tidy(() => {
    const { loss } = maml.maml.metaLoss(tasks);
    loss.backward();
    maml.optimizer.step();
    maml.optimizer.zeroGrad();

    // The baseline fits every point of every wave in the batch with one network.
    const x = mg.concat(tasks.flatMap((task) => [task.supportX, task.queryX]));
    const y = mg.concat(tasks.flatMap((task) => [task.supportY, task.queryY]));
    const plain = mse(baseline.model.forward(x), y);
    plain.backward();
    baseline.optimizer.step();
    baseline.optimizer.zeroGrad();
    return [loss.detach(), plain.detach()];
  });
  for (const task of tasks) for (const tensor of Object.values(task)) tensor.dispose();
  maml.losses.push(await metaLoss.item());
  baseline.losses.push(await baselineLoss.item());
  metaLoss.dispose();
  baselineLoss.dispose();
}

function drawLosses(): void {
  const all = [...maml.losses, ...baseline.losses].filter((v) => v > 0);
  const high = Math.max(...all, 1);
  const low = Math.min(...all, high / 10);
  const points = (values: number[]) => values.map((v, i) => [i + 1, v] as [number, number]);
  drawPlot(lossCanvas, {
    x: [0, Math.max(iteration, 10)],
    y: [low, high],
    logY: true,
    series: [
      { points: points(baseline.losses), color: '#9ca3af', width: 1 },
      { points: points(maml.losses), color: '#1d4ed8', width: 1 },
    ],
  });
}

function renderProgress(): void {
  const last = (values: number[]) => (values.length ? values[values.length - 1].toFixed(3) : '–');
  progress.textContent =
    iteration >= ITERATIONS
      ? t('train.done', { total: ITERATIONS })
      : t('train.progress', {
          iteration,
          total: ITERATIONS,
          maml: last(maml.losses),
          baseline: last(baseline.losses),
        });
  let label = 'train.start';
  if (running) label = 'train.pause';
  else if (iteration > 0) label = 'train.resume';
  trainButton.textContent = t(label);
  trainButton.disabled = iteration >= ITERATIONS;
}

async function train(): Promise<void> {
  running = true;
  renderProgress();
  while (running && iteration < ITERATIONS) {
    await trainStep();
    iteration += 1;
    if (iteration % 10 === 0 || iteration === ITERATIONS) {
      drawLosses();
      renderProgress();
    }
    await breathe();
  }
  running = false;
  renderProgress();
  await adapt();
}

// ---- adaptation to the reader's wave ----

let wave: SineTask = TEST ? { amplitude: 3, phase: 1 } : sampleSineTask(rng);
let points: [number, number][] = [];
/** Predictions on GRID after 0..MAX_STEPS inner steps, for each model. */
let curves: { maml: number[][]; baseline: number[][] } | null = null;
/** Number of placed points that `curves` were adapted to. */
let curvePoints = 0;

/** Returns the predictions on GRID after each of 0..MAX_STEPS SGD steps on `support`. */
async function adaptedCurves(learned: Learner, support: [number, number][]): Promise<number[][]> {
  const task = {
    supportX: column(support.map(([x]) => x)),
    supportY: column(support.map(([, y]) => y)),
  };
  const grid = column(GRID);
  const predictions = mg.tidy(() => {
    const trajectory: ParamMap[] = learned.maml.adapt(task, MAX_STEPS, false);
    return trajectory.map((params) => mg.noGrad(() => learned.maml.model.apply(params, grid)));
  });
  const values = await Promise.all(predictions.map(async (p) => Array.from(await p.data())));
  for (const tensor of [...predictions, grid, task.supportX, task.supportY]) tensor.dispose();
  return values;
}

function gridMse(prediction: number[]): number {
  return (
    prediction.reduce((sum, y, i) => sum + (y - sineValue(wave, GRID[i])) ** 2, 0) / GRID.length
  );
}

/** Number of the latest adapt() call: clicks can start a new one before the last has finished. */
let generation = 0;

async function adapt(): Promise<void> {
  const current = ++generation;
  const support = [...points];
  const computed =
    support.length === 0
      ? null
      : {
          maml: await adaptedCurves(maml, support),
          baseline: await adaptedCurves(baseline, support),
        };
  // A later call has newer points; its curves replace these.
  if (current !== generation) return;
  curves = computed;
  curvePoints = support.length;
  render();
}

function render(): void {
  const steps = Number(stepsInput.value);
  stepsValue.textContent = String(steps);
  const truth = GRID.map((x) => [x, sineValue(wave, x)] as [number, number]);
  const curve = (values: number[]) => values.map((y, i) => [GRID[i], y] as [number, number]);
  const series = [{ points: truth, color: '#111827', width: 2 }];
  if (curves) {
    series.push(
      { points: curve(curves.baseline[steps]), color: '#f59e0b', width: 2 },
      { points: curve(curves.maml[0]), color: '#93c5fd', width: 2 },
      { points: curve(curves.maml[steps]), color: '#1d4ed8', width: 3 },
    );
  }
  drawPlot(curvesCanvas, {
    x: [SINE_RANGES.x[0], SINE_RANGES.x[1]],
    y: [-6, 6],
    series: [...series, { points, color: '#dc2626', markers: true }],
  });

  mseTable.replaceChildren();
  adaptStatus.textContent =
    points.length >= MAX_POINTS
      ? t('adapt.full')
      : points.length === 0
        ? t('adapt.needPoints')
        : '';
  if (!curves) return;
  const header = mseTable.insertRow();
  for (const key of ['mse.model', 'mse.pre', 'mse.post']) {
    const cell = document.createElement('th');
    cell.textContent = t(key, { steps });
    header.append(cell);
  }
  const result: Record<string, number> = {};
  for (const name of ['maml', 'baseline'] as const) {
    const pre = gridMse(curves[name][0]);
    const post = gridMse(curves[name][steps]);
    result[`${name}Pre`] = pre;
    result[`${name}Post`] = post;
    const row = mseTable.insertRow();
    row.insertCell().textContent = t(name);
    row.insertCell().textContent = pre.toFixed(3);
    row.insertCell().textContent = post.toFixed(3);
  }
  publish({ ...result, steps, points: curvePoints, iterations: iteration, losses: maml.losses });
}

curvesCanvas.addEventListener('click', (event) => {
  if (points.length >= MAX_POINTS) return render();
  const box = curvesCanvas.getBoundingClientRect();
  const px = ((event.clientX - box.left) / box.width) * curvesCanvas.width;
  const py = ((event.clientY - box.top) / box.height) * curvesCanvas.height;
  const scale = plotScale(curvesCanvas, { x: [-5, 5], y: [-6, 6], series: [] });
  const [x] = scale.fromPixel(px, py);
  if (x < SINE_RANGES.x[0] || x > SINE_RANGES.x[1]) return;
  // A point lies on the true wave: the reader chooses where, the task decides the value.
  points.push([x, sineValue(wave, x)]);
  void adapt();
});
element('new-wave').addEventListener('click', () => {
  wave = sampleSineTask(rng);
  points = [];
  void adapt();
});
element('clear').addEventListener('click', () => {
  points = [];
  void adapt();
});
stepsInput.addEventListener('input', render);
trainButton.addEventListener('click', () => {
  if (running) running = false;
  else void train().catch((error: unknown) => showError(gpuStatus, error));
});
onLanguageChange(() => {
  renderProgress();
  render();
});

async function main(): Promise<void> {
  if (!(await startGpu(gpuStatus))) return;
  mg.manualSeed(TEST ? 1 : Date.now() % 100000);
  maml = learner();
  baseline = learner();
  trainButton.disabled = false;
  renderProgress();
  drawLosses();
  render();
  // The test configuration trains at once; a reader starts training with the button.
  if (TEST) await train();
  window.demoStatus = 'ready';
}

main().catch((error: unknown) => showError(gpuStatus, error));
