// Metric-learning speed benchmark. It times one Prototypical Networks training
// episode (forward and backward) with the 4-block 64-channel conv net on
// 1x28x28 inputs, and the pairwise squared Euclidean distance kernel alone at
// the episode's sizes. PyTorch runs the same computations on the CPU
// (bench/torch_metric.py through /usr/bin/python3). Prints one JSON object.
//
// Run from the repository root with:
//   npx vite build --config bench/vite.config.ts --logLevel warn && node dist/bench/metric.js [WAYS SHOTS QUERIES REPETITIONS]

import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { resolve } from 'node:path';
import * as mg from '../engine/index';
import type { Task } from '../algorithms/meta/functional';
import { ProtoNetLearner } from '../algorithms/metric/protonet';
import { convNet4 } from '../engine/nn/models';

const [ways, shots, queries, repetitions] = [
  Number(process.argv[2] ?? 60),
  Number(process.argv[3] ?? 5),
  Number(process.argv[4] ?? 5),
  Number(process.argv[5] ?? 3),
];
const DISTANCE_CALLS = 200;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function labels(count: number, repeat: number): mg.Tensor {
  return mg.tensor(
    Int32Array.from({ length: count * repeat }, (_, i) => Math.floor(i / repeat)),
    { shape: [count * repeat] },
  );
}

await mg.init();
mg.manualSeed(0);
const learner = new ProtoNetLearner(convNet4({ featuresOnly: true }), {
  lr: 1e-3,
  distance: 'sqeuclidean',
});
const task: Task = {
  supportX: mg.rand([ways * shots, 1, 28, 28]),
  supportY: labels(ways, shots),
  queryX: mg.rand([ways * queries, 1, 28, 28]),
  queryY: labels(ways, queries),
};

/** Forward and backward of one episode, from a synced device to a synced device. */
async function episodeMs(): Promise<number> {
  await mg.sync();
  const start = performance.now();
  mg.tidy(() => learner.episode(task, ways).loss.backward());
  await mg.sync();
  const elapsed = performance.now() - start;
  learner.optimizer.zeroGrad();
  await mg.yieldEventLoop();
  return elapsed;
}

await episodeMs();
const episodeTimes: number[] = [];
for (let i = 0; i < repetitions; i++) episodeTimes.push(await episodeMs());

// The distance alone: queries x prototypes x 64 features, DISTANCE_CALLS calls per timing.
const x = mg.rand([ways * queries, 64]);
const y = mg.rand([ways, 64]);
async function distanceMs(): Promise<number> {
  await mg.sync();
  const start = performance.now();
  mg.tidy(() => {
    for (let i = 0; i < DISTANCE_CALLS; i++) mg.pairwiseSquaredEuclidean(x, y);
  });
  await mg.sync();
  return (performance.now() - start) / DISTANCE_CALLS;
}
await distanceMs();
const distanceTimes = [await distanceMs(), await distanceMs(), await distanceMs()];

// Resolved from the working directory, because the command runs from the repository root.
const script = resolve('bench', 'torch_metric.py');
let torch: Record<string, unknown> | null = null;
try {
  const output = execFileSync(
    '/usr/bin/python3',
    [script, String(ways), String(shots), String(queries), String(repetitions)],
    { encoding: 'utf8' },
  );
  torch = JSON.parse(output) as Record<string, unknown>;
} catch (error) {
  console.error(`PyTorch comparison skipped: ${(error as Error).message.split('\n')[0]}`);
}

console.log(
  JSON.stringify(
    {
      date: new Date().toISOString(),
      episode: { ways, shots, queries, images: ways * (shots + queries) },
      adapter: mg.adapterDescription(),
      cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}`,
      loadAverage: os.loadavg().map((v) => Number(v.toFixed(2))),
      metagrad: { episode_ms: median(episodeTimes), distance_ms: median(distanceTimes) },
      torch,
    },
    null,
    2,
  ),
);
