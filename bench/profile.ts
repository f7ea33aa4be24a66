// Where the GPU time of a conv-net training step goes: runs one second-order
// MAML meta-step (Omniglot 5-way 1-shot, 15 queries, the 4-block conv net with
// BatchNorm) and one Prototypical Networks training episode under mg.profile,
// after a warm-up of each, and prints the top ops and kernels with their share.
//
// Run from the repository root with:
//   npx vite build --config bench/vite.config.ts --logLevel warn && node dist/bench/profile.js [--meta-batch N] [--inner-steps S] [--ways W] [--rows R] [--only maml|protonet]

import * as mg from '../index';
import { createLearner, type LearnerConfig } from '../algorithms/meta/learners';
import type { Task } from '../algorithms/meta/functional';
import { ProtoNetLearner } from '../algorithms/metric/protonet';
import { disposeTask } from '../cli/tasks';
import { makeSource, type TrainConfig } from '../cli/train';
import { Rng } from '../data/rng';
import { convNet4 } from '../engine/nn/models';
import { OMNIGLOT_DIR } from '../test/data/paths';

const args = process.argv.slice(2);
function option(name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} ${args[at + 1]} is invalid; pass a positive integer.`);
  return value;
}
const metaBatch = option('--meta-batch', 2);
const innerSteps = option('--inner-steps', 1);
const ways = option('--ways', 60);
const rows = option('--rows', 20);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : null;

function print(title: string, profile: mg.Profile): void {
  console.log(`\n## ${title}`);
  console.log(
    `wall ${profile.wallMs.toFixed(0)} ms, GPU ${profile.gpuMs?.toFixed(0) ?? '-'} ms, ${profile.dispatches} dispatches`,
  );
  console.log('\nBy op:');
  console.log(profile.byOp.slice(0, rows).map(line).join('\n'));
  console.log('\nBy op and kernel entry point:');
  console.log(profile.format(rows));
  function line(row: mg.ProfileRow): string {
    const share = profile.gpuMs ? ((100 * (row.gpuMs ?? 0)) / profile.gpuMs).toFixed(1) : '-';
    return `${(row.gpuMs ?? 0).toFixed(1).padStart(10)} ${share.padStart(5)}% ${String(row.dispatches).padStart(7)}  ${row.op}`;
  }
}

await mg.init();
mg.manualSeed(0);

if (only !== 'protonet') {
  const train: TrainConfig = {
    algorithm: 'maml',
    dataset: 'omniglot',
    ways: 5,
    shots: 1,
    queries: 15,
    innerSteps,
    testInnerSteps: innerSteps,
    innerLr: 0.4,
    metaLr: 0.001,
    metaBatch,
    iterations: 1,
    seed: 0,
    dataDir: OMNIGLOT_DIR,
    split: 'vinyals',
    hidden: 64,
    logInterval: 1,
    evalInterval: 1,
    valEpisodes: 1,
    testEpisodes: 1,
    out: '',
  };
  const source = await makeSource(train, () => undefined);
  const config: LearnerConfig = {
    innerSteps,
    testInnerSteps: innerSteps,
    innerLr: 0.4,
    metaLr: 0.001,
    iterations: 1000,
    mslAnnealIterations: 1,
    firstOrderIterations: 0,
    headPrefix: 'head',
    batchTasks: true,
  };
  const net = convNet4({ hidden: 64, outFeatures: 5, inChannels: 1, imageSize: 28 });
  const learner = createLearner('maml', net, source.kind, config);
  const rng = new Rng(1);
  for (let i = 0; i < 2; i++) {
    const tasks = source.sampleTrain(rng, metaBatch);
    const step = () => learner.trainStep(tasks, i);
    if (i === 0) await step();
    else {
      const { profile } = await mg.profile(step);
      print(
        `MAML second-order meta-step: Omniglot 5-way 1-shot, 15 queries, meta-batch ${metaBatch}, ${innerSteps} inner step(s)`,
        profile,
      );
    }
    for (const task of tasks) disposeTask(task);
  }
}

if (only !== 'maml') {
  const labels = (count: number, repeat: number) =>
    mg.tensor(
      Int32Array.from({ length: count * repeat }, (_, i) => Math.floor(i / repeat)),
      { shape: [count * repeat] },
    );
  const learner = new ProtoNetLearner(convNet4({ featuresOnly: true }), {
    lr: 1e-3,
    distance: 'sqeuclidean',
  });
  const task: Task = {
    supportX: mg.rand([ways * 5, 1, 28, 28]),
    supportY: labels(ways, 5),
    queryX: mg.rand([ways * 5, 1, 28, 28]),
    queryY: labels(ways, 5),
  };
  const episode = async () => {
    mg.tidy(() => learner.episode(task, ways).loss.backward());
    await mg.sync();
    learner.optimizer.zeroGrad();
  };
  await episode();
  const { profile } = await mg.profile(episode);
  print(`ProtoNet training episode: ${ways}-way 5-shot 5-query, forward and backward`, profile);
}
process.exit(0);
