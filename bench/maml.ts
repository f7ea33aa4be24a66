// MAML meta-step benchmark: seconds per second-order meta-step for Omniglot
// 5-way 1-shot (15 queries per class, meta-batch 32, 1 and 5 inner steps) and
// for sinusoids (K = 10, meta-batch 25), peak GPU memory for 1, 3 and 5 inner
// steps, the FLOP rate of the Omniglot step against the engine's own conv2d
// throughput measured in the same process, and the same steps in PyTorch on the
// CPU (bench/torch_maml.py with /usr/bin/python3). Prints JSON and appends a
// section to BENCHMARKS.md.
//
// Run with `npm run bench:maml` (it builds this file with bench/vite.config.ts,
// because tsx cannot load the `?raw` WGSL imports). Options: --data-dir DIR for
// the Omniglot folder, --meta-batch N for the Omniglot meta-batch (default 32),
// --quick for one timed step per case, --sine-only to skip the Omniglot cases,
// --ratio to time only the Omniglot 1-step meta-step and the conv2d throughput
// and print their ratio (for development; it writes nothing to BENCHMARKS.md).

import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as mg from '../index';
import { batchedView } from '../algorithms/meta/batched';
import type { Task } from '../algorithms/meta/functional';
import { createLearner, lossFor, type LearnerConfig } from '../algorithms/meta/learners';
import { Maml } from '../algorithms/meta/maml';
import { disposeTask, type TaskSource } from '../cli/tasks';
import { makeSource, type TrainConfig } from '../cli/train';
import { Rng } from '../data/rng';
import { convNet4, sineMlp } from '../engine/nn/models';
import { functionalView, type Module } from '../engine/nn/module';
import { OMNIGLOT_DIR } from '../test/data/paths';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const sineOnly = args.includes('--sine-only');
const ratioOnly = args.includes('--ratio');
const dataDirAt = args.indexOf('--data-dir');
const dataDir = dataDirAt >= 0 ? args[dataDirAt + 1] : OMNIGLOT_DIR;
const metaBatchAt = args.indexOf('--meta-batch');
const omniglotBatch = metaBatchAt >= 0 ? Number(args[metaBatchAt + 1]) : 32;
if (!Number.isInteger(omniglotBatch) || omniglotBatch < 1)
  throw new Error(`--meta-batch ${args[metaBatchAt + 1]} is invalid; pass a positive integer.`);

const OMNIGLOT = { ways: 5, shots: 1, queries: 15, metaBatch: omniglotBatch, innerLr: 0.4 };
const SINE = { shots: 10, queries: 10, metaBatch: 25, innerLr: 0.01 };
const TIMED = quick ? 1 : 3;

const learnerConfig = (innerSteps: number, innerLr: number, batchTasks = true): LearnerConfig => ({
  innerSteps,
  testInnerSteps: innerSteps,
  innerLr,
  metaLr: 0.001,
  iterations: 1000,
  mslAnnealIterations: 1,
  firstOrderIterations: 0,
  headPrefix: 'head',
  batchTasks,
});

function trainConfig(dataset: 'omniglot' | 'sine'): TrainConfig {
  const settings = dataset === 'omniglot' ? OMNIGLOT : { ...SINE, ways: 1 };
  return {
    algorithm: 'maml',
    dataset,
    ways: settings.ways,
    shots: settings.shots,
    queries: settings.queries,
    innerSteps: 1,
    testInnerSteps: 1,
    innerLr: settings.innerLr,
    metaLr: 0.001,
    metaBatch: settings.metaBatch,
    iterations: 1,
    seed: 0,
    dataDir,
    split: 'vinyals',
    hidden: dataset === 'omniglot' ? 64 : 40,
    logInterval: 1,
    evalInterval: 1,
    valEpisodes: 1,
    testEpisodes: 1,
    out: '',
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/**
 * Times second-order meta-steps of a fresh MAML learner: one warm-up step on
 * `warmupBatch` tasks (it compiles the kernels), then `timed` steps on new
 * meta-batches of `metaBatch` tasks. Returns the median seconds and the peak
 * GPU bytes above the bytes live before the first step.
 */
async function timeSteps(
  module: Module,
  source: TaskSource,
  metaBatch: number,
  config: LearnerConfig,
  timed: number,
  warmupBatch = metaBatch,
): Promise<{ seconds: number; peakBytes: number }> {
  const learner = createLearner('maml', module, source.kind, config);
  const rng = new Rng(1);
  const times: number[] = [];
  mg.resetPeakMemory();
  const base = mg.memory().bytes;
  let peakBytes = 0;
  for (let i = 0; i <= timed; i++) {
    const tasks = source.sampleTrain(rng, i === 0 ? warmupBatch : metaBatch);
    await mg.sync();
    const start = performance.now();
    await learner.trainStep(tasks, i);
    if (i > 0) times.push((performance.now() - start) / 1000);
    peakBytes = Math.max(peakBytes, mg.memory().peakBytes - base);
    for (const task of tasks) disposeTask(task);
  }
  for (const t of module.parameters()) t.grad = null;
  return { seconds: times.length ? median(times) : NaN, peakBytes };
}

// FLOPs of the convolutions and matrix products of one task's second-order
// meta-gradient, counted from the tape: every recorded node (forward passes and
// the inner loop's differentiable backward passes) once, plus one product of
// the same size for each of its operands that requires grad, which the outer
// backward pass computes.
function nodeFlops(node: mg.Node): number {
  const [a, b] = node.inputs;
  const out = node.output;
  const kernel = (w: readonly number[]) => w[1] * w[2] * w[3];
  switch (node.op) {
    case 'matmul': {
      const { transA } = node.attrs as { transA: boolean };
      return 2 * out.size * (transA ? a.shape.at(-2)! : a.shape.at(-1)!);
    }
    case 'conv2d':
      return 2 * out.size * kernel(b.shape);
    case 'conv_transpose2d':
      return 2 * a.size * kernel(b.shape);
    case 'conv2d_weight_grad':
      return 2 * b.size * kernel(out.shape);
    default:
      return 0;
  }
}

function metaStepFlops(module: Module, task: Task, innerSteps: number, innerLr: number): number {
  const loss = lossFor('classification');
  const maml = new Maml(functionalView(module), loss, { innerSteps, innerLr }, batchedView(module));
  let flops = 0;
  mg.tidy(() =>
    mg.recordTape(
      () => maml.batchedTaskLoss([task]),
      (node) => {
        const withGrad = node.inputs.slice(0, 2).filter((t) => t.requiresGrad).length;
        flops += nodeFlops(node) * (1 + withGrad);
      },
    ),
  );
  return flops;
}

// The engine's conv2d throughput on the kernel benchmark's shapes (bench/kernels.ts):
// forward, input gradient and weight gradient of the 4-block conv net at batch 160.
async function convThroughput(): Promise<number> {
  const layers = [
    { x: [160, 1, 28, 28], w: [64, 1, 3, 3] },
    { x: [160, 64, 14, 14], w: [64, 64, 3, 3] },
    { x: [160, 64, 7, 7], w: [64, 64, 3, 3] },
    { x: [160, 64, 3, 3], w: [64, 64, 3, 3] },
  ];
  let flops = 0;
  let seconds = 0;
  for (const layer of layers) {
    const x = mg.randn(layer.x, { requiresGrad: true });
    const w = mg.randn(layer.w, { requiresGrad: true });
    const y = mg.conv2d(x, w, undefined, { padding: 1 });
    const g = mg.randn(y.shape);
    const perPass = 2 * y.size * layer.w[1] * 9;
    const passes: (() => mg.Tensor[])[] = [
      () => [mg.noGrad(() => mg.conv2d(x, w, undefined, { padding: 1 }))],
      () => mg.grad(y, x, { gradOutputs: g, retainGraph: true }) as mg.Tensor[],
      () => mg.grad(y, w, { gradOutputs: g, retainGraph: true }) as mg.Tensor[],
    ];
    for (const pass of passes) {
      const times: number[] = [];
      for (let i = 0; i <= TIMED; i++) {
        await mg.sync();
        const start = performance.now();
        const outs = pass();
        await outs[0].data();
        if (i > 0) times.push((performance.now() - start) / 1000);
        for (const t of outs) t.dispose();
      }
      flops += perPass;
      seconds += median(times);
    }
    for (const t of [x, w, y, g]) t.dispose();
  }
  return flops / seconds;
}

function torchTimes(): Record<string, number> | null {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return null;
  const script = fileURLToPath(
    new URL(/* @vite-ignore */ '../../bench/torch_maml.py', import.meta.url),
  );
  try {
    const flags = [
      ...(quick ? ['--quick'] : []),
      ...(sineOnly ? ['--sine-only'] : []),
      '--meta-batch',
      String(OMNIGLOT.metaBatch),
    ];
    const out = execFileSync(python, [script, ...flags], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 30 * 60 * 1000,
    });
    return JSON.parse(out) as Record<string, number>;
  } catch (error) {
    console.error(`PyTorch side skipped: ${(error as Error).message}`);
    return null;
  }
}

// ---- runs ----

const log = (line: string) => console.error(line);

if (ratioOnly) {
  const omniglot = await makeSource(trainConfig('omniglot'), log);
  const net = () =>
    convNet4({ hidden: 64, outFeatures: OMNIGLOT.ways, inChannels: 1, imageSize: 28 });
  const run = await timeSteps(
    net(),
    omniglot,
    OMNIGLOT.metaBatch,
    learnerConfig(1, OMNIGLOT.innerLr),
    TIMED,
    Math.min(4, OMNIGLOT.metaBatch),
  );
  const sample = omniglot.sampleTrain(new Rng(2), 1)[0];
  const flops = OMNIGLOT.metaBatch * metaStepFlops(net(), sample, 1, OMNIGLOT.innerLr);
  disposeTask(sample);
  const convRate = await convThroughput();
  const rate = flops / run.seconds;
  console.log(
    `meta-batch ${OMNIGLOT.metaBatch}, 1 inner step: ${run.seconds.toFixed(2)} s, ${(rate / 1e9).toFixed(2)} GFLOP/s; ` +
      `conv2d ${(convRate / 1e9).toFixed(2)} GFLOP/s; ratio ${((100 * rate) / convRate).toFixed(1)}%`,
  );
  process.exit(0);
}

const date = new Date().toISOString().slice(0, 10);
const report: Record<string, unknown> = { date };

// Sinusoids: the batched path and the per-task loop, one after the other.
mg.manualSeed(0);
const sine = await makeSource(trainConfig('sine'), log);
const sineBatched = await timeSteps(
  sineMlp({ hidden: [40, 40] }),
  sine,
  SINE.metaBatch,
  learnerConfig(1, SINE.innerLr),
  quick ? 5 : 20,
);
const sineLoop = await timeSteps(
  sineMlp({ hidden: [40, 40] }),
  sine,
  SINE.metaBatch,
  learnerConfig(1, SINE.innerLr, false),
  quick ? 5 : 20,
);
report.sine = { batched: sineBatched, loop: sineLoop };
log(`sine: batched ${sineBatched.seconds * 1000} ms, loop ${sineLoop.seconds * 1000} ms`);

// Omniglot 5-way 1-shot, 15 queries, meta-batch 32 unless --meta-batch says otherwise.
interface OmniglotReport {
  runs: Record<number, { seconds: number; peakBytes: number }>;
  flopsPerStep: Record<number, number>;
  convRate: number;
}

async function benchOmniglot(): Promise<OmniglotReport> {
  const omniglot = await makeSource(trainConfig('omniglot'), log);
  const omniglotNet = () =>
    convNet4({ hidden: 64, outFeatures: OMNIGLOT.ways, inChannels: 1, imageSize: 28 });
  const runs: Record<number, { seconds: number; peakBytes: number }> = {};
  for (const steps of [1, 3, 5]) {
    // Three inner steps are run for the memory figure only. The warm-up step uses
    // 4 tasks, one chunk of the learner's batched path at these shapes, so its
    // peak memory is that of a full meta-batch too.
    let timed = TIMED;
    if (steps === 3) timed = 0;
    if (steps === 5) timed = Math.min(TIMED, 1);
    runs[steps] = await timeSteps(
      omniglotNet(),
      omniglot,
      OMNIGLOT.metaBatch,
      learnerConfig(steps, OMNIGLOT.innerLr),
      timed,
      Math.min(4, OMNIGLOT.metaBatch),
    );
    log(`omniglot ${steps} steps: ${JSON.stringify(runs[steps])}`);
  }
  const sample = omniglot.sampleTrain(new Rng(2), 1)[0];
  const flopsPerStep: Record<number, number> = {};
  for (const steps of [1, 5])
    flopsPerStep[steps] =
      OMNIGLOT.metaBatch * metaStepFlops(omniglotNet(), sample, steps, OMNIGLOT.innerLr);
  disposeTask(sample);
  log(`FLOPs per meta-step: ${JSON.stringify(flopsPerStep)}`);
  const convRate = await convThroughput();
  log(`conv2d benchmark throughput: ${(convRate / 1e9).toFixed(2)} GFLOP/s`);
  return { runs, flopsPerStep, convRate };
}

const omniglotReport = sineOnly ? null : await benchOmniglot();
report.omniglot = omniglotReport;

const torch = torchTimes();
report.torch = torch;
report.load = os.loadavg();
console.log(JSON.stringify(report, null, 2));

// ---- BENCHMARKS.md ----

const ms = (seconds: number) => (seconds * 1000).toFixed(1);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const torchCell = (key: string) => (torch?.[key] ? `${torch[key].toFixed(3)} s` : 'n/a');
const cpus = os.cpus();

function omniglotLines(result: OmniglotReport | null): string[] {
  if (!result) return [];
  const { runs, flopsPerStep, convRate } = result;
  const rate1 = flopsPerStep[1] / runs[1].seconds;
  const rate5 = flopsPerStep[5] / runs[5].seconds;
  return [
    `| Omniglot 5-way 1-shot, 15 queries, meta-batch ${OMNIGLOT.metaBatch}, 1 step | ${runs[1].seconds.toFixed(2)} s | ${torchCell('omniglot1')} | ${mib(runs[1].peakBytes)} MiB |`,
    `| Omniglot, 3 steps | not timed | | ${mib(runs[3].peakBytes)} MiB |`,
    `| Omniglot, 5 steps | ${runs[5].seconds.toFixed(2)} s | ${torchCell('omniglot5')} | ${mib(runs[5].peakBytes)} MiB |`,
    '',
    `Omniglot step: ${(flopsPerStep[1] / 1e9).toFixed(1)} GFLOP in convolutions and matrix products (1 step; ${(flopsPerStep[5] / 1e9).toFixed(1)} with 5), counted from the tape, ` +
      `so ${(rate1 / 1e9).toFixed(2)} GFLOP/s (${(rate5 / 1e9).toFixed(2)} with 5 steps), ` +
      `${((100 * rate1) / convRate).toFixed(0)}% of the ${(convRate / 1e9).toFixed(2)} GFLOP/s that the engine's conv2d reaches on the kernel benchmark's shapes in the same process (target at least 70%).`,
  ];
}
const lines = [
  '',
  `## ${date}: MAML meta-step speed`,
  '',
  `- Command: \`npm run bench:maml${args.length > 0 ? ` -- ${args.join(' ')}` : ''}\` (median of ${TIMED} timed meta-steps after one warm-up step; 20 for sinusoids${quick ? ', 5 with --quick' : ''}; one for 5 inner steps; 3 inner steps measured for memory only)`,
  `- Adapter: ${mg.adapterDescription()}; PyTorch ${torch?.version ?? 'not run'} on the CPU with ${torch?.threads ?? '-'} threads`,
  `- Machine: ${cpus.length} x ${cpus[0]?.model ?? 'CPU'}, ${os.platform()} ${os.release()}; load average at the end ${os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(', ')} (the benchmark's own threads count in it; other jobs on the machine add to it)`,
  '',
  '| Second-order meta-step | metagrad | PyTorch CPU | peak GPU memory |',
  '| --- | --- | --- | --- |',
  `| sinusoid K=10, meta-batch 25, 1 step, batched | ${ms(sineBatched.seconds)} ms | ${torch?.sine ? ms(torch.sine) + ' ms (tasks in a loop)' : 'n/a'} | ${mib(sineBatched.peakBytes)} MiB |`,
  `| sinusoid, the same step with tasks in a loop | ${ms(sineLoop.seconds)} ms | | ${mib(sineLoop.peakBytes)} MiB |`,
  ...omniglotLines(omniglotReport),
  '',
  `Sinusoid step: ${torch?.sine ? (sineBatched.seconds / torch.sine).toFixed(2) : 'n/a'}x PyTorch's time with tasks in a loop (target at most 2x).`,
];
appendFileSync(
  new URL(/* @vite-ignore */ '../../BENCHMARKS.md', import.meta.url),
  `${lines.join('\n')}\n`,
);
process.exit(0);
