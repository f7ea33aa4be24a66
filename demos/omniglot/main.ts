// Few-shot Omniglot by hand: a Prototypical Network's embedding (convNet4,
// featuresOnly) classifies a drawn query by its squared distance to the
// embedding of each drawn support character.

import * as mg from '../../index';
import { assignStored, decodeSafetensors } from '../../engine/checkpoint';
import { addMessages, onLanguageChange, t } from '../shared/i18n';
import { publish, setupPage, showError, startGpu } from '../shared/page';
import checkpointUrl from '../assets/protonet-omniglot.safetensors?url';
import samples from '../assets/omniglot-samples.json';
import { messages } from './messages';
import { Pad, SIDE } from './pad';

addMessages(messages);
setupPage();

const WAYS = [2, 3, 4, 5];
const DEFAULT_WAYS = Number(new URLSearchParams(location.search).get('ways') ?? 3);

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const gpuStatus = element<HTMLParagraphElement>('gpu');
const waysSelect = element<HTMLSelectElement>('ways');
const supportBox = element<HTMLDivElement>('support');
const queryBox = element<HTMLDivElement>('query');
const scores = element<HTMLTableElement>('scores');
const answer = element<HTMLParagraphElement>('answer');
const classifyButton = element<HTMLButtonElement>('classify');

let supportPads: Pad[] = [];
let captions: HTMLElement[] = [];
let model: ReturnType<typeof mg.nn.convNet4> | null = null;
let result: { probabilities: number[]; distances: number[]; predicted: number } | null = null;
let message: { key: string; values: Record<string, number> } | null = null;
const queryPad = new Pad(() => clearResult());

/** Loads the trained embedding: a safetensors state dict with convNet4's own names. */
async function loadModel(): Promise<ReturnType<typeof mg.nn.convNet4>> {
  const response = await fetch(checkpointUrl);
  if (!response.ok)
    throw new Error(
      `loading ${checkpointUrl} failed with HTTP ${response.status}; rebuild the demos.`,
    );
  const { tensors } = decodeSafetensors(new Uint8Array(await response.arrayBuffer()));
  const embedding = mg.nn.convNet4({
    featuresOnly: true,
    inChannels: 1,
    imageSize: 28,
    hidden: 64,
  });
  assignStored(checkpointUrl, tensors, embedding);
  // Running BatchNorm statistics from training, so one image embeds the same alone or in a batch.
  return embedding.eval();
}

function figure(pad: Pad, caption: HTMLElement): HTMLElement {
  const wrapper = document.createElement('figure');
  wrapper.append(pad.canvas, caption);
  return wrapper;
}

function buildPads(ways: number): void {
  supportPads = Array.from({ length: ways }, () => new Pad(() => clearResult()));
  captions = supportPads.map(() => document.createElement('figcaption'));
  supportBox.replaceChildren(...supportPads.map((pad, i) => figure(pad, captions[i])));
  renderCaptions();
  clearResult();
}

function renderCaptions(): void {
  captions.forEach((caption, i) => (caption.textContent = t('class', { index: i + 1 })));
  queryCaption.textContent = t('query');
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

/** Fills the support pads with N random evaluation characters and the query with another image of one of them. */
function sampleEpisode(): void {
  const picks = [...samples.characters]
    .sort(() => Math.random() - 0.5)
    .slice(0, supportPads.length);
  picks.forEach((character, i) => supportPads[i].show(decodeSample(character.images[0])));
  const target = picks[Math.floor(Math.random() * picks.length)];
  queryPad.show(decodeSample(target.images[1]));
  clearResult();
}

async function classify(): Promise<void> {
  const empty = supportPads.findIndex((pad) => pad.isEmpty);
  if (empty >= 0) {
    message = { key: 'missing.support', values: { index: empty + 1 } };
    return render();
  }
  if (queryPad.isEmpty) {
    message = { key: 'missing.query', values: {} };
    return render();
  }
  const ways = supportPads.length;
  const support = new Float32Array(ways * SIDE * SIDE);
  supportPads.forEach((pad, i) => support.set(pad.image(), i * SIDE * SIDE));
  const [distances, probabilities] = mg.tidy(() =>
    mg.noGrad(() => {
      const prototypes = model!.forward(mg.tensor(support, { shape: [ways, 1, SIDE, SIDE] }));
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
  publish({ ...result, ways });
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
queryBox.append(figure(queryPad, queryCaption));
for (const ways of WAYS)
  waysSelect.add(new Option(String(ways), String(ways), false, ways === DEFAULT_WAYS));
waysSelect.addEventListener('change', () => buildPads(Number(waysSelect.value)));
buildPads(WAYS.includes(DEFAULT_WAYS) ? DEFAULT_WAYS : 3);
element('sample').addEventListener('click', sampleEpisode);
element('clear').addEventListener('click', () => {
  for (const pad of [...supportPads, queryPad]) pad.clear();
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
