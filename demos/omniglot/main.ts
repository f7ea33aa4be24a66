// Few-shot Omniglot by hand: a Prototypical Network's embedding (convNet4,
// featuresOnly) classifies a drawn query by its squared distance to each
// prototype, the mean embedding of the K drawn examples of a class.

import * as mg from '../../index';
import { assignStored, decodeSafetensors } from '../../engine/checkpoint';
import { addMessages, onLanguageChange, t } from '../shared/i18n';
import { publish, setupPage, showError, startGpu } from '../shared/page';
import checkpointUrl from '../assets/protonet-omniglot.safetensors?url';
import trainedResult from '../assets/protonet-omniglot.json';
import samples from '../assets/omniglot-samples.json';
import { messages } from './messages';
import { Pad, SIDE } from './pad';

addMessages(messages);
setupPage();

const WAYS = [2, 3, 4, 5];
// Sample episodes take K support images and one query image of each character.
const MAX_SHOTS = Math.min(3, ...samples.characters.map((c) => c.images.length - 1));
const SHOTS = Array.from({ length: MAX_SHOTS }, (_, i) => i + 1);
const search = new URLSearchParams(location.search);
const DEFAULT_WAYS = Number(search.get('ways') ?? 3);
const DEFAULT_SHOTS = Number(search.get('shots') ?? 1);

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const gpuStatus = element<HTMLParagraphElement>('gpu');
const waysSelect = element<HTMLSelectElement>('ways');
const shotsSelect = element<HTMLSelectElement>('shots');
const modelText = element<HTMLParagraphElement>('model');
const supportBox = element<HTMLDivElement>('support');
const queryBox = element<HTMLDivElement>('query');
const scores = element<HTMLTableElement>('scores');
const answer = element<HTMLParagraphElement>('answer');
const classifyButton = element<HTMLButtonElement>('classify');

/** The support pads by class, then by shot. */
let supportPads: Pad[][] = [];
let captions: HTMLElement[] = [];
let model: ReturnType<typeof mg.nn.convNet4> | null = null;
let result: { probabilities: number[]; distances: number[]; predicted: number } | null = null;
let message: { key: string; values: Record<string, number> } | null = null;
const queryPad = new Pad(() => clearResult());

/**
 * Loads the embedding that `metagrad train protonet` saved as the run's
 * model.safetensors: the state dict of convNet4({ featuresOnly: true }) under
 * its own names. The channel width is read from the first convolution's
 * weight [hidden, inChannels, 3, 3], so a run with any --hidden loads.
 */
async function loadModel(): Promise<ReturnType<typeof mg.nn.convNet4>> {
  const response = await fetch(checkpointUrl);
  if (!response.ok)
    throw new Error(
      `loading ${checkpointUrl} failed with HTTP ${response.status}; rebuild the demos.`,
    );
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(await response.arrayBuffer()));
  if (metadata.algorithm !== 'protonet')
    throw new Error(
      `${checkpointUrl} contains a ${metadata.algorithm ?? 'unknown'} model; copy the model.safetensors of a metagrad train protonet run there.`,
    );
  const first = tensors.get('features.0.weight');
  if (!first || first.shape.length !== 4)
    throw new Error(
      `${checkpointUrl} has no 4-d tensor features.0.weight; copy the model.safetensors of a metagrad train protonet run there.`,
    );
  const [hidden, inChannels] = first.shape;
  const embedding = mg.nn.convNet4({ featuresOnly: true, inChannels, imageSize: SIDE, hidden });
  assignStored(checkpointUrl, tensors, embedding);
  // Running BatchNorm statistics from training, so one image embeds the same alone or in a batch.
  return embedding.eval();
}

function figure(pads: Pad[], caption: HTMLElement): HTMLElement {
  const wrapper = document.createElement('figure');
  const row = document.createElement('div');
  row.className = 'shots';
  row.append(...pads.map((pad) => pad.canvas));
  wrapper.append(row, caption);
  return wrapper;
}

function buildPads(): void {
  const ways = Number(waysSelect.value);
  const shots = Number(shotsSelect.value);
  supportPads = Array.from({ length: ways }, () =>
    Array.from({ length: shots }, () => new Pad(() => clearResult())),
  );
  captions = supportPads.map(() => document.createElement('figcaption'));
  supportBox.replaceChildren(...supportPads.map((pads, i) => figure(pads, captions[i])));
  renderCaptions();
  clearResult();
}

function renderCaptions(): void {
  captions.forEach((caption, i) => (caption.textContent = t('class', { index: i + 1 })));
  queryCaption.textContent = t('query');
  const { test_accuracy, test_episodes, ways, shots } = trainedResult;
  // result.json records null for the interval of a single test episode.
  const ci95 = trainedResult.test_accuracy_ci95 as number | null;
  modelText.textContent = t('model', {
    accuracy: (100 * test_accuracy).toFixed(1),
    ci: ci95 === null ? 'n/a' : (100 * ci95).toFixed(1),
    episodes: test_episodes,
    ways,
    shots,
  });
}

function clearResult(): void {
  result = null;
  message = null;
  render();
}

function decodeSample(base64: string): Float32Array {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return Float32Array.from(bytes, (v) => v / 255);
}

/** Fills the support pads with N random evaluation characters, K images each, and the query with another image of one of them. */
function sampleEpisode(): void {
  const shots = supportPads[0].length;
  const picks = [...samples.characters]
    .sort(() => Math.random() - 0.5)
    .slice(0, supportPads.length);
  picks.forEach((character, i) =>
    supportPads[i].forEach((pad, shot) => pad.show(decodeSample(character.images[shot]))),
  );
  const target = picks[Math.floor(Math.random() * picks.length)];
  queryPad.show(decodeSample(target.images[shots]));
  clearResult();
}

async function classify(): Promise<void> {
  const empty = supportPads.findIndex((pads) => pads.some((pad) => pad.isEmpty));
  if (empty >= 0) {
    message = { key: 'missing.support', values: { index: empty + 1 } };
    return render();
  }
  if (queryPad.isEmpty) {
    message = { key: 'missing.query', values: {} };
    return render();
  }
  const ways = supportPads.length;
  const shots = supportPads[0].length;
  // Class-major rows: class i's shots are rows i * shots to (i + 1) * shots - 1.
  const support = new Float32Array(ways * shots * SIDE * SIDE);
  supportPads.flat().forEach((pad, i) => support.set(pad.image(), i * SIDE * SIDE));
  const [distances, probabilities] = mg.tidy(() =>
    mg.noGrad(() => {
      const embedded = model!.forward(mg.tensor(support, { shape: [ways * shots, 1, SIDE, SIDE] }));
      // Each prototype is the mean embedding of its class's shots.
      const prototypes = embedded.reshape([ways, shots, embedded.shape[1]]).mean(1);
      const query = model!.forward(mg.tensor(queryPad.image(), { shape: [1, 1, SIDE, SIDE] }));
      const squared = mg.pairwiseSquaredEuclidean(query, prototypes);
      return [squared, mg.softmax(squared.neg(), -1)];
    }),
  );
  const d = Array.from(await distances.data());
  const p = Array.from(await probabilities.data());
  distances.dispose();
  probabilities.dispose();
  const predicted = p.indexOf(Math.max(...p));
  result = { probabilities: p, distances: d, predicted };
  message = { key: 'answer', values: { index: predicted + 1 } };
  render();
  publish({ ...result, ways, shots });
}

function render(): void {
  scores.replaceChildren();
  answer.textContent = message ? t(message.key, message.values) : '';
  if (!result) return;
  const header = scores.insertRow();
  for (const text of ['', t('probability'), '', t('distance')]) {
    const cell = document.createElement('th');
    cell.textContent = text;
    header.append(cell);
  }
  result.probabilities.forEach((probability, i) => {
    const row = scores.insertRow();
    if (i === result!.predicted) row.className = 'best';
    row.insertCell().textContent = t('class', { index: i + 1 });
    row.insertCell().textContent = probability.toFixed(3);
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.round(probability * 120)}px`;
    const barCell = row.insertCell();
    barCell.style.textAlign = 'left';
    barCell.append(bar);
    row.insertCell().textContent = result!.distances[i].toFixed(2);
  });
}

const queryCaption = document.createElement('figcaption');
queryBox.append(figure([queryPad], queryCaption));
const initialWays = WAYS.includes(DEFAULT_WAYS) ? DEFAULT_WAYS : 3;
for (const n of WAYS) waysSelect.add(new Option(String(n), String(n), false, n === initialWays));
const initialShots = SHOTS.includes(DEFAULT_SHOTS) ? DEFAULT_SHOTS : 1;
for (const k of SHOTS) shotsSelect.add(new Option(String(k), String(k), false, k === initialShots));
waysSelect.addEventListener('change', buildPads);
shotsSelect.addEventListener('change', buildPads);
buildPads();
element('sample').addEventListener('click', sampleEpisode);
element('clear').addEventListener('click', () => {
  for (const pad of [...supportPads.flat(), queryPad]) pad.clear();
});
classifyButton.addEventListener('click', () => {
  classify().catch((error: unknown) => showError(gpuStatus, error));
});
onLanguageChange(() => {
  renderCaptions();
  render();
});

async function main(): Promise<void> {
  if (!(await startGpu(gpuStatus))) return;
  answer.textContent = t('loading');
  model = await loadModel();
  answer.textContent = '';
  classifyButton.disabled = false;
  element<HTMLButtonElement>('sample').disabled = false;
  window.demoStatus = 'ready';
}

main().catch((error: unknown) => showError(gpuStatus, error));
