// Kernel benchmark: times metagrad's matmul, conv2d (forward and both
// gradients), pairwise squared distances and per-op dispatch overhead on the
// built library, runs the same matmul and conv2d shapes through
// @tensorflow/tfjs-backend-webgpu on the same Dawn instance in this process,
// and through PyTorch's CPU backend when /usr/bin/python3 imports torch.
// Prints JSON and appends a dated section to BENCHMARKS.md.
//
// Run with `npm run bench`, which builds dist/ first: tsx cannot load the `?raw`
// WGSL imports of the sources.

import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import type * as Metagrad from '../index';
import {
  convFlops as convFlopsPadded,
  gflops,
  median,
  metagradRun as runOn,
  timeMs as timeWith,
} from './measure';

const REPETITIONS = 7;
// Fewer repetitions for conv2d, whose slowest tfjs pass takes seconds per run on lavapipe.
const CONV_REPETITIONS = 5;
const WARMUP = 2;
const MATMUL_SIZE = 1024;
const CHAIN_LENGTH = 1000;
const PAIRWISE = { rows: 2000, cols: 2000, dim: 64 };

// A 4-block, 64-channel conv net on 28x28 inputs at batch 160, 3x3 kernels with
// padding 1. Each block halves the spatial size, so blocks 2-4 get 14, 7 and 3.
const CONV_LAYERS = [
  { name: 'block 1', x: [160, 1, 28, 28], w: [64, 1, 3, 3] },
  { name: 'block 2', x: [160, 64, 14, 14], w: [64, 64, 3, 3] },
  { name: 'block 3', x: [160, 64, 7, 7], w: [64, 64, 3, 3] },
  { name: 'block 4', x: [160, 64, 3, 3], w: [64, 64, 3, 3] },
];
const PADDING = 1;

// Dawn's instance lives only while this object is referenced; tfjs finds it as
// navigator.gpu, and metagrad uses navigator.gpu when it exists.
const gpu = create([]);
for (const [name, value] of Object.entries(globals)) {
  if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
}
Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });

const distPath = '../dist/index.js';
const mg = (await import(distPath)) as typeof Metagrad;
await mg.init();
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');

// Ops that other branches add; the bench measures them when this build has them.
interface ConvOptions {
  stride?: number;
  padding?: number;
}
interface LaterOps {
  conv2d?: (
    x: Metagrad.Tensor,
    w: Metagrad.Tensor,
    bias?: Metagrad.Tensor,
    options?: ConvOptions,
  ) => Metagrad.Tensor;
  pairwiseSquaredEuclidean?: (a: Metagrad.Tensor, b: Metagrad.Tensor) => Metagrad.Tensor;
}
const laterOps = mg as unknown as LaterOps;

/** Median milliseconds of `run` after warm-up, logged to stderr under `label`. */
function timeMs(
  label: string,
  run: () => Promise<void>,
  repetitions = REPETITIONS,
): Promise<number> {
  return timeWith(label, run, repetitions, WARMUP);
}

/** Times one metagrad computation, from a synced GPU to a synced GPU, disposing its outputs. */
function metagradRun(compute: () => Metagrad.Tensor | (Metagrad.Tensor | null)[]) {
  return runOn(mg, compute);
}

/** Times one tfjs computation. Reading the output back waits for the GPU, so the copy is in the time. */
function tfjsRun(compute: () => import('@tensorflow/tfjs-core').Tensor) {
  return async () => {
    const out = compute();
    await out.data();
    out.dispose();
  };
}

const round = (value: number, digits = 2) => Number(value.toFixed(digits));
const convFlops = (x: number[], w: number[]) => convFlopsPadded(x, w, PADDING);

// ---- metagrad ----

const notes: string[] = [];

interface PairMs {
  metagrad: number;
  tfjs: number;
}

/**
 * Returns the median milliseconds of a metagrad run and a tfjs run of the same
 * computation, alternating the two in each repetition so that a change in
 * machine load hits both alike.
 */
async function timePair(
  label: string,
  ours: () => Promise<void>,
  theirs: () => Promise<void>,
  repetitions = REPETITIONS,
): Promise<PairMs> {
  const times = { metagrad: [] as number[], tfjs: [] as number[] };
  for (let i = 0; i < WARMUP + repetitions; i++) {
    for (const [name, run] of [
      ['metagrad', ours],
      ['tfjs', theirs],
    ] as const) {
      const start = performance.now();
      await run();
      if (i >= WARMUP) times[name].push(performance.now() - start);
    }
  }
  const result = { metagrad: median(times.metagrad), tfjs: median(times.tfjs) };
  console.error(
    `${label}: metagrad ${result.metagrad.toFixed(2)} ms, tfjs ${result.tfjs.toFixed(2)} ms`,
  );
  return result;
}

async function benchMatmul(): Promise<PairMs> {
  const a = mg.randn([MATMUL_SIZE, MATMUL_SIZE]);
  const b = mg.randn([MATMUL_SIZE, MATMUL_SIZE]);
  const tfA = tf.randomNormal([MATMUL_SIZE, MATMUL_SIZE]);
  const tfB = tf.randomNormal([MATMUL_SIZE, MATMUL_SIZE]);
  const result = await timePair(
    'matmul',
    metagradRun(() => mg.matmul(a, b)),
    tfjsRun(() => tf.matMul(tfA, tfB)),
  );
  for (const t of [a, b, tfA, tfB]) t.dispose();
  return result;
}

async function benchPairwise() {
  const pairwise = laterOps.pairwiseSquaredEuclidean;
  if (!pairwise) {
    notes.push('metagrad pairwiseSquaredEuclidean: skipped, it is not in this build.');
    return null;
  }
  const a = mg.randn([PAIRWISE.rows, PAIRWISE.dim]);
  const b = mg.randn([PAIRWISE.cols, PAIRWISE.dim]);
  const ms = await timeMs(
    'metagrad pairwise',
    metagradRun(() => pairwise(a, b)),
  );
  a.dispose();
  b.dispose();
  return ms;
}

/** Microseconds per op of CHAIN_LENGTH dependent adds on a 1-element tensor, including the final readback. */
async function benchDispatch() {
  const ms = await timeMs(
    `metagrad chain of ${CHAIN_LENGTH} adds`,
    async () => {
      let x = mg.zeros([1]);
      for (let i = 0; i < CHAIN_LENGTH; i++) {
        const next = x.add(1);
        x.dispose();
        x = next;
      }
      const value = await x.item();
      x.dispose();
      if (value !== CHAIN_LENGTH)
        throw new Error(`dispatch chain: expected ${CHAIN_LENGTH}, got ${value}.`);
    },
    11,
  );
  return (ms * 1000) / CHAIN_LENGTH;
}

// ---- conv2d, metagrad against tfjs-webgpu ----

type Tfjs = typeof import('@tensorflow/tfjs-core');
type ConvPass = 'forward' | 'inputGrad' | 'weightGrad';
const CONV_PASS_LABELS: Record<ConvPass, string> = {
  forward: 'forward',
  inputGrad: 'input gradient',
  weightGrad: 'weight gradient',
};

/** Returns the tfjs run of each conv2d pass for one layer, with the tensors it holds. */
function tfjsConvRuns(tfjs: Tfjs, layer: (typeof CONV_LAYERS)[number]) {
  // tfjs's native layout is NHWC with [kH, kW, Cin, Cout] filters.
  const [n, cin, h, width] = layer.x;
  const [cout, , kh, kw] = layer.w;
  const x = tfjs.randomNormal([n, h, width, cin]) as import('@tensorflow/tfjs-core').Tensor4D;
  const w = tfjs.randomNormal([kh, kw, cin, cout]) as import('@tensorflow/tfjs-core').Tensor4D;
  const dy = tfjs.conv2d(x, w, 1, PADDING);
  const kernel = (name: string, inputs: Record<string, unknown>, attrs: Record<string, unknown>) =>
    tfjsRun(
      () =>
        tfjs.engine().runKernel(
          name,
          inputs as never,
          {
            strides: 1,
            pad: PADDING,
            dataFormat: 'NHWC',
            ...attrs,
          } as never,
        ) as import('@tensorflow/tfjs-core').Tensor,
    );
  const runs: Record<ConvPass, () => Promise<void>> = {
    forward: tfjsRun(() => tfjs.conv2d(x, w, 1, PADDING)),
    inputGrad: kernel('Conv2DBackpropInput', { dy, filter: w }, { inputShape: x.shape }),
    weightGrad: kernel('Conv2DBackpropFilter', { x, dy }, { filterShape: w.shape }),
  };
  return { runs, tensors: [x, w, dy] };
}

/**
 * Returns the median milliseconds of each conv2d pass per layer for metagrad
 * (null where this build has no mg.conv2d) and tfjs, alternating the two
 * libraries in each repetition.
 */
async function benchConv() {
  const conv2d = laterOps.conv2d;
  if (!conv2d) notes.push('metagrad conv2d: skipped, mg.conv2d is not in this build.');
  const results: Record<ConvPass, { metagrad: number | null; tfjs: number }>[] = [];
  for (const layer of CONV_LAYERS) {
    const theirs = tfjsConvRuns(tf, layer);
    const row = {} as Record<ConvPass, { metagrad: number | null; tfjs: number }>;
    if (conv2d) {
      const x = mg.randn(layer.x, { requiresGrad: true });
      const w = mg.randn(layer.w, { requiresGrad: true });
      const options = { stride: 1, padding: PADDING };
      const y = conv2d(x, w, undefined, options);
      const g = mg.randn(y.shape);
      const backward = (input: Metagrad.Tensor) =>
        metagradRun(() => mg.grad(y, input, { gradOutputs: g, retainGraph: true }));
      const ours: Record<ConvPass, () => Promise<void>> = {
        forward: metagradRun(() => mg.noGrad(() => conv2d(x, w, undefined, options))),
        inputGrad: backward(x),
        weightGrad: backward(w),
      };
      for (const pass of Object.keys(ours) as ConvPass[]) {
        row[pass] = await timePair(
          `conv2d ${layer.name} ${CONV_PASS_LABELS[pass]}`,
          ours[pass],
          theirs.runs[pass],
          CONV_REPETITIONS,
        );
      }
      for (const t of [x, w, y, g]) t.dispose();
    } else {
      for (const pass of Object.keys(theirs.runs) as ConvPass[]) {
        const ms = await timeMs(
          `tfjs conv2d ${layer.name} ${CONV_PASS_LABELS[pass]}`,
          theirs.runs[pass],
          CONV_REPETITIONS,
        );
        row[pass] = { metagrad: null, tfjs: ms };
      }
    }
    for (const t of theirs.tensors) t.dispose();
    results.push(row);
  }
  return results;
}

// ---- PyTorch CPU ----

interface TorchResults {
  threads: number;
  version: string;
  matmul: number;
  conv: { forward: number; inputGrad: number; weightGrad: number }[];
}

function benchTorch(): TorchResults | null {
  const python = '/usr/bin/python3';
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    notes.push(`PyTorch CPU: skipped, \`${python} -c 'import torch'\` failed.`);
    return null;
  }
  const script = fileURLToPath(new URL('./torch_kernels.py', import.meta.url));
  const request = {
    matmul: MATMUL_SIZE,
    repetitions: REPETITIONS,
    conv: CONV_LAYERS.map((layer) => ({ x: layer.x, w: layer.w, padding: PADDING })),
  };
  const output = execFileSync(python, [script], { input: JSON.stringify(request) });
  return JSON.parse(output.toString()) as TorchResults;
}

// ---- Run and report ----

await tf.setBackend('webgpu');
await tf.ready();
const matmulMs = await benchMatmul();
const convMs = await benchConv();
const pairwiseMs = await benchPairwise();
const dispatchUs = await benchDispatch();
const torchMs = benchTorch();

const matmulFlops = 2 * MATMUL_SIZE ** 3;
// Each of the rows * cols distances takes dim subtractions, squares and additions.
const pairwiseFlops = 3 * PAIRWISE.rows * PAIRWISE.cols * PAIRWISE.dim;

const passes = ['forward', 'inputGrad', 'weightGrad'] as const;
const convReport = CONV_LAYERS.map((layer, i) => {
  const flops = convFlops(layer.x, layer.w);
  const row: Record<string, unknown> = { layer: layer.name, x: layer.x, w: layer.w };
  for (const pass of passes) {
    const ours = convMs[i][pass].metagrad ?? undefined;
    const theirs = convMs[i][pass].tfjs;
    row[pass] = {
      metagradGflops: ours === undefined ? null : round(gflops(flops, ours)),
      tfjsGflops: round(gflops(flops, theirs)),
      torchGflops: torchMs ? round(gflops(flops, torchMs.conv[i][pass])) : null,
      ratioToTfjs: ours === undefined ? null : round(theirs / ours),
    };
  }
  return row;
});

const report = {
  date: new Date().toISOString(),
  adapter: mg.adapterDescription(),
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.platform()} ${os.release()}`,
  loadAverage: os.loadavg().map((value) => round(value)),
  command: 'npm run bench',
  repetitions: REPETITIONS,
  matmul: {
    shape: `${MATMUL_SIZE}x${MATMUL_SIZE}x${MATMUL_SIZE}`,
    metagradMs: round(matmulMs.metagrad, 1),
    tfjsMs: round(matmulMs.tfjs, 1),
    metagradGflops: round(gflops(matmulFlops, matmulMs.metagrad)),
    tfjsGflops: round(gflops(matmulFlops, matmulMs.tfjs)),
    torchGflops: torchMs ? round(gflops(matmulFlops, torchMs.matmul)) : null,
    ratioToTfjs: round(matmulMs.tfjs / matmulMs.metagrad),
  },
  conv2d: convReport,
  pairwiseSquaredEuclidean:
    pairwiseMs === null
      ? null
      : {
          shape: `${PAIRWISE.rows}x${PAIRWISE.cols}x${PAIRWISE.dim}`,
          ms: round(pairwiseMs, 1),
          gflops: round(gflops(pairwiseFlops, pairwiseMs)),
        },
  dispatchUsPerOp: round(dispatchUs, 1),
  torch: torchMs ? { version: torchMs.version, threads: torchMs.threads } : null,
  notes,
};
console.log(JSON.stringify(report, null, 2));

// ---- BENCHMARKS.md ----

const fmt = (value: number | null | undefined) =>
  value === null || value === undefined ? '–' : String(value);
const lines = [
  '',
  `## ${report.date.slice(0, 10)}: ${report.matmul.shape} matmul at ${report.matmul.metagradGflops} GFLOP/s`,
  '',
  `- Command: \`${report.command}\` (median of ${REPETITIONS} timed runs, ${CONV_REPETITIONS} for conv2d, after ${WARMUP} warm-up runs; matmul and conv2d alternate metagrad and tfjs runs)`,
  `- Adapter: ${report.adapter}`,
  `- Machine: ${report.machine}; load average at the end ${report.loadAverage.join(', ')}`,
  '- conv2d GFLOP/s use 2·N·Cout·Hout·Wout·Cin·kH·kW for every pass and library, whatever algorithm each library runs.',
  `- tfjs: @tensorflow/tfjs-backend-webgpu 4.22.0 on the same Dawn instance; PyTorch: ${
    report.torch ? `${report.torch.version} CPU, ${report.torch.threads} threads` : 'not run'
  }`,
  '',
  '| Kernel | metagrad GFLOP/s | tfjs-webgpu GFLOP/s | PyTorch CPU GFLOP/s | metagrad / tfjs |',
  '| --- | --- | --- | --- | --- |',
  `| matmul ${report.matmul.shape} | ${report.matmul.metagradGflops} | ${report.matmul.tfjsGflops} | ${fmt(report.matmul.torchGflops)} | ${report.matmul.ratioToTfjs} |`,
];
for (const row of convReport) {
  for (const pass of passes) {
    const cell = row[pass] as Record<string, number | null>;
    lines.push(
      `| conv2d ${String(row.layer)} ${pass} | ${fmt(cell.metagradGflops)} | ${cell.tfjsGflops} | ${fmt(cell.torchGflops)} | ${fmt(cell.ratioToTfjs)} |`,
    );
  }
}
lines.push(
  '',
  report.pairwiseSquaredEuclidean
    ? `Pairwise squared distances ${report.pairwiseSquaredEuclidean.shape}: ${report.pairwiseSquaredEuclidean.ms} ms ` +
        `(${report.pairwiseSquaredEuclidean.gflops} GFLOP/s counting 3 FLOPs per term).`
    : 'Pairwise squared distances: not measured.',
  `Dispatch overhead: ${report.dispatchUsPerOp} µs per op over a chain of ${CHAIN_LENGTH} adds on a 1-element tensor, final readback included.`,
  ...notes.map((note) => `- ${note}`),
  '',
);
const benchmarksPath = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));
if (!existsSync(benchmarksPath)) {
  appendFileSync(
    benchmarksPath,
    '# Benchmarks\n\nEach section is one run of `npm run bench` (bench/kernels.ts), appended by the script.\n',
  );
}
appendFileSync(benchmarksPath, lines.join('\n'));
process.exit(0);
