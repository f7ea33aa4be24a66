// Trains the embedding that the Omniglot demo page loads: a Prototypical
// Network (Snell et al. 2017) on a convNet4({ featuresOnly: true, inChannels: 1,
// imageSize: 28, hidden: 64 }), episodes from Omniglot's background alphabets.
// Per episode: prototypes are the mean support embedding of each class, logits
// are minus the squared distances from each query to each prototype, and the
// loss is their cross-entropy. Writes the module's state dict (its own dotted
// names, features.0.weight ...) as safetensors.
//
// NOTE: the committed checkpoint is short-trained: 43 steps in 20 minutes on a
// heavily loaded CPU adapter, 71.4% on 5-way 1-shot evaluation episodes. A
// longer run on a GPU gives a much stronger embedding.
//
// Usage (tsx cannot load the sources' `?raw` WGSL imports, so the engine comes
// from the built dist/):
//   npx vite build --logLevel warn
//   npx tsx demos/scripts/train-protonet.ts <omniglot folder> [minutes] [output]

import { resolve } from 'node:path';
import { create, globals } from 'webgpu';
import type * as Metagrad from '../../index';
import { materialize, omniglotSplits, sampleEpisode } from '../../data/episodes';
import { loadOmniglot } from '../../data/omniglot';
import { Rng } from '../../data/rng';

const [dataDir, minutesArg = '4', outputArg = 'demos/assets/protonet-omniglot.safetensors'] =
  process.argv.slice(2);
if (!dataDir) {
  console.error(
    'usage: npx tsx demos/scripts/train-protonet.ts <omniglot folder> [minutes] [output]',
  );
  process.exit(2);
}
const minutes = Number(minutesArg);
if (!(minutes > 0)) {
  console.error(`minutes ${minutesArg} is invalid; pass a positive number such as 4.`);
  process.exit(2);
}

// Dawn's instance lives only while this object is referenced; the engine finds it as navigator.gpu.
const gpu = create([]);
for (const [name, value] of Object.entries(globals)) {
  if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
}
Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
const distPath = '../../dist/index.js';
const mg = (await import(distPath)) as typeof Metagrad;
await mg.init();

// 10-way 1-shot training episodes with 5 queries per class: more ways than the
// 5-way evaluation episodes, which makes each step's task harder, yet few
// enough images (60) for a CPU WebGPU adapter.
const SHAPE = { ways: 10, shots: 1, queries: 5 };
const EVAL_SHAPE = { ways: 5, shots: 1, queries: 5 };
const SEED = 7;

const data = await loadOmniglot(dataDir);
const splits = omniglotSplits(data, { split: 'lake', rotations: true, validationCharacters: 0 });
const rng = new Rng(SEED);
mg.manualSeed(SEED);

const model = mg.nn.convNet4({ featuresOnly: true, inChannels: 1, imageSize: 28, hidden: 64 });
const optimizer = new mg.optim.Adam(model.parameters(), { lr: 1e-3 });

/** Returns the episode's prototypical loss and query logits [ways * queries, ways]. */
function episodeLoss(episode: ReturnType<typeof materialize>): {
  loss: Metagrad.Tensor;
  logits: Metagrad.Tensor;
} {
  const { ways, shots, queries } = episode;
  const support = model.forward(mg.tensor(episode.supportX, { shape: [ways * shots, 1, 28, 28] }));
  const query = model.forward(mg.tensor(episode.queryX, { shape: [ways * queries, 1, 28, 28] }));
  // Support rows are class-major, so the prototypes are means over groups of `shots` rows.
  const prototypes = support.reshape([ways, shots, support.shape[1]]).mean(1);
  const logits = mg.pairwiseSquaredEuclidean(query, prototypes).neg();
  const labels = mg.tensor(episode.queryY, { shape: [ways * queries] });
  return { loss: mg.crossEntropy(logits, labels), logits };
}

async function accuracy(logits: Metagrad.Tensor, labels: Int32Array): Promise<number> {
  const values = await logits.data();
  const ways = logits.shape[1];
  let correct = 0;
  labels.forEach((label, row) => {
    let best = 0;
    for (let c = 1; c < ways; c++) if (values[row * ways + c] > values[row * ways + best]) best = c;
    if (best === label) correct += 1;
  });
  return correct / labels.length;
}

const deadline = Date.now() + minutes * 60_000;
let iteration = 0;
while (Date.now() < deadline) {
  const episode = materialize(splits.train, sampleEpisode(splits.train, SHAPE, rng), SHAPE);
  model.train();
  const loss = mg.tidy(() => {
    const { loss } = episodeLoss(episode);
    loss.backward();
    optimizer.step();
    optimizer.zeroGrad();
    return loss.detach();
  });
  iteration += 1;
  if (iteration % 25 === 0)
    console.error(`iteration ${iteration}: loss ${(await loss.item()).toFixed(3)}`);
  loss.dispose();
  await mg.yieldEventLoop();
}

// Accuracy on 5-way 1-shot episodes of the evaluation alphabets, with the
// running BatchNorm statistics the demo page uses.
model.eval();
const evalRng = new Rng(SEED + 1);
const scores: number[] = [];
for (let i = 0; i < 50; i++) {
  const episode = materialize(
    splits.test,
    sampleEpisode(splits.test, EVAL_SHAPE, evalRng),
    EVAL_SHAPE,
  );
  const logits = mg.tidy(() => mg.noGrad(() => episodeLoss(episode).logits));
  scores.push(await accuracy(logits, episode.queryY));
  logits.dispose();
  await mg.yieldEventLoop();
}
const meanAccuracy = scores.reduce((a, b) => a + b, 0) / scores.length;
console.error(
  `${iteration} iterations; 5-way 1-shot accuracy on 50 evaluation episodes: ${(100 * meanAccuracy).toFixed(1)}%`,
);

const output = resolve(outputArg);
await mg.saveModule(output, model, {
  format: 'metagrad-protonet-embedding',
  model: 'convNet4 featuresOnly inChannels=1 imageSize=28 hidden=64',
  iterations: String(iteration),
  episode: `${SHAPE.ways}-way ${SHAPE.shots}-shot ${SHAPE.queries} queries`,
  eval_accuracy_5way_1shot: meanAccuracy.toFixed(3),
});
console.error(`wrote ${output}`);
process.exit(0);
