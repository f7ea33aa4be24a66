// The second-order gradient explorer: draws the tape of one MAML inner step and
// the outer loss as a graph, steps through its backward pass node by node, and
// compares first- and second-order meta-gradients.

import { addMessages, onLanguageChange, t } from '../shared/i18n';
import { publish, setupPage, showError, startGpu } from '../shared/page';
import {
  PHASES,
  metaGradients,
  recordMetaTape,
  setup,
  type Phase,
  type RecordedTape,
  type TapeNode,
} from './compute';
import { messages } from './messages';

addMessages(messages);
setupPage();

/** The seed of the network and task; the browser test computes the same seed in Node. */
const SEED = Number(new URLSearchParams(location.search).get('seed') ?? 3);
const PHASE_COLORS: Record<Phase, string> = {
  innerForward: '#bfdbfe',
  innerBackward: '#ddd6fe',
  update: '#fde68a',
  outerForward: '#bbf7d0',
};
const BOX = { width: 78, height: 22, column: 96, row: 30, margin: 12 };

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const gpuStatus = element<HTMLParagraphElement>('gpu');
const svg = document.getElementById('graph') as unknown as SVGSVGElement;
const explain = element<HTMLDivElement>('explain');
const counter = element<HTMLSpanElement>('counter');
const gradTable = element<HTMLTableElement>('grads');

let tape: RecordedTape;
let firstOrder: Record<string, number[]>;
let secondOrder: Record<string, number[]>;
/** Nodes the backward pass visits, in decreasing tape order. */
let backwardOrder: TapeNode[] = [];
let visited = 0;

function svgElement<K extends keyof SVGElementTagNameMap>(
  name: K,
  attributes: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const created = document.createElementNS('http://www.w3.org/2000/svg', name);
  for (const [key, value] of Object.entries(attributes)) created.setAttribute(key, String(value));
  return created;
}

const formatShape = (shape: number[]) => `[${shape.join(', ')}]`;

/** Places each op in the column after its deepest input, so edges run left to right. */
function layout(nodes: TapeNode[]): Map<number, [number, number]> {
  const depth = new Map<number, number>();
  const rows = new Map<number, number>();
  const positions = new Map<number, [number, number]>();
  for (const node of nodes) {
    const inputDepths = node.inputs.map((input) => ('node' in input ? depth.get(input.node)! : 0));
    const column = 1 + Math.max(0, ...inputDepths);
    depth.set(node.id, column);
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    positions.set(node.id, [column, row]);
  }
  return positions;
}

function drawGraph(): void {
  svg.replaceChildren();
  const positions = layout(tape.nodes);
  const leaves = [
    ...new Set(tape.nodes.flatMap((n) => n.inputs.flatMap((i) => ('leaf' in i ? [i.leaf] : [])))),
  ].filter((leaf) => leaf !== 'scalar' && leaf !== 'constant');
  const center = (column: number, row: number): [number, number] => [
    BOX.margin + column * BOX.column + BOX.width / 2,
    BOX.margin + row * BOX.row + BOX.height / 2,
  ];
  const leafPosition = new Map(leaves.map((leaf, row) => [leaf, center(0, row)]));
  const columns = Math.max(...[...positions.values()].map(([c]) => c)) + 1;
  const rows = Math.max(leaves.length, ...[...positions.values()].map(([, r]) => r + 1));
  svg.setAttribute('width', String(2 * BOX.margin + columns * BOX.column));
  svg.setAttribute('height', String(2 * BOX.margin + rows * BOX.row));

  // Edges first, so boxes cover their ends.
  for (const node of tape.nodes) {
    const [x1, y1] = center(...positions.get(node.id)!);
    node.inputs.forEach((input, i) => {
      const from =
        'node' in input ? center(...positions.get(input.node)!) : leafPosition.get(input.leaf);
      if (!from) return;
      const [x0, y0] = from;
      const path = svgElement('path', {
        d: `M${x0 + BOX.width / 2},${y0} C${x0 + BOX.width},${y0} ${x1 - BOX.width},${y1} ${x1 - BOX.width / 2},${y1}`,
      });
      const title = svgElement('title', {});
      title.textContent = formatShape(node.inputShapes[i]);
      path.append(title);
      svg.append(path);
    });
  }

  const current = backwardOrder[visited - 1];
  const done = new Set(backwardOrder.slice(0, visited).map((n) => n.id));
  for (const leaf of leaves) {
    const [x, y] = leafPosition.get(leaf)!;
    const group = svgElement('g', { class: 'node' });
    group.append(
      svgElement('rect', {
        x: x - BOX.width / 2,
        y: y - BOX.height / 2,
        width: BOX.width,
        height: BOX.height,
        rx: 10,
        fill: '#f3f4f6',
      }),
    );
    const text = svgElement('text', { x, y: y + 3, 'text-anchor': 'middle' });
    text.textContent = leaf;
    group.append(text);
    svg.append(group);
  }
  for (const node of tape.nodes) {
    const [x, y] = center(...positions.get(node.id)!);
    const classes = ['node'];
    if (node.gradNorm === null) classes.push('unused');
    if (done.has(node.id)) classes.push('visited');
    if (current?.id === node.id) classes.push('current');
    const group = svgElement('g', { class: classes.join(' ') });
    group.append(
      svgElement('rect', {
        x: x - BOX.width / 2,
        y: y - BOX.height / 2,
        width: BOX.width,
        height: BOX.height,
        rx: 3,
        fill: PHASE_COLORS[node.phase],
      }),
    );
    const text = svgElement('text', { x, y: y + 3, 'text-anchor': 'middle' });
    text.textContent = node.op.length > 14 ? `${node.op.slice(0, 13)}…` : node.op;
    const title = svgElement('title', {});
    title.textContent = `#${node.id} ${node.op} → ${formatShape(node.outputShape)}`;
    group.append(text, title);
    svg.append(group);
  }
}

function renderPhases(): void {
  const legend = element<HTMLParagraphElement>('phases');
  legend.replaceChildren();
  for (const phase of PHASES) {
    const item = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.className = 'swatch';
    swatch.style.background = PHASE_COLORS[phase];
    swatch.style.height = '0.9em';
    item.append(swatch, t(`phase.${phase}`));
    legend.append(item);
  }
}

function renderStep(): void {
  counter.textContent = t('step.counter', { done: visited, total: backwardOrder.length });
  explain.replaceChildren();
  const paragraph = (text: string) => {
    const p = document.createElement('p');
    p.textContent = text;
    explain.append(p);
  };
  if (visited === 0) paragraph(t('step.start'));
  else {
    const node = backwardOrder[visited - 1];
    const inputs = node.inputs.map((input, i) =>
      'leaf' in input
        ? `${input.leaf} ${formatShape(node.inputShapes[i])}`
        : `#${input.node} ${formatShape(node.inputShapes[i])}`,
    );
    paragraph(
      t('step.node', {
        id: node.id,
        op: node.op,
        shape: formatShape(node.outputShape),
        norm: node.gradNorm!.toPrecision(4),
        inputs: inputs.join(', '),
      }),
    );
    paragraph(t(`explain.${node.phase}`));
    if (visited === backwardOrder.length) paragraph(t('explain.done'));
  }
  element<HTMLButtonElement>('step').disabled = visited >= backwardOrder.length;
  element<HTMLButtonElement>('all').disabled = visited >= backwardOrder.length;
  element<HTMLButtonElement>('reset').disabled = false;
  drawGraph();
  // Keep the current node in view inside the horizontally scrolling graph.
  svg.querySelector('.current')?.scrollIntoView({ block: 'nearest', inline: 'center' });
}

function renderGradients(): void {
  gradTable.replaceChildren();
  const caption = gradTable.createCaption();
  caption.textContent = t('grads.loss', { loss: tape.outerLoss.toPrecision(5) });
  const header = gradTable.insertRow();
  for (const key of ['grads.param', 'grads.first', 'grads.second', 'grads.difference']) {
    const cell = document.createElement('th');
    cell.textContent = t(key);
    header.append(cell);
  }
  for (const [name, second] of Object.entries(secondOrder)) {
    second.forEach((value, i) => {
      const first = firstOrder[name][i];
      const row = gradTable.insertRow();
      row.insertCell().textContent = second.length > 1 ? `${name}[${i}]` : name;
      for (const shown of [first, value, value - first])
        row.insertCell().textContent = shown.toExponential(3);
    });
  }
}

element('step').addEventListener('click', () => {
  visited = Math.min(visited + 1, backwardOrder.length);
  renderStep();
});
element('all').addEventListener('click', () => {
  visited = backwardOrder.length;
  renderStep();
});
element('reset').addEventListener('click', () => {
  visited = 0;
  renderStep();
});
onLanguageChange(() => {
  renderPhases();
  if (!tape) return;
  renderStep();
  renderGradients();
});

async function main(): Promise<void> {
  renderPhases();
  if (!(await startGpu(gpuStatus))) return;
  const state = setup(SEED);
  tape = await recordMetaTape(state);
  firstOrder = await metaGradients(state, true);
  secondOrder = await metaGradients(state, false);
  backwardOrder = tape.nodes.filter((node) => node.gradNorm !== null).reverse();
  renderStep();
  renderGradients();
  publish({
    seed: SEED,
    firstOrder,
    secondOrder,
    tapeGradients: tape.grads,
    nodes: tape.nodes.length,
    backwardNodes: backwardOrder.length,
    phases: Object.fromEntries(
      PHASES.map((phase) => [phase, tape.nodes.filter((n) => n.phase === phase).length]),
    ),
  });
  window.demoStatus = 'ready';
}

main().catch((error: unknown) => showError(gpuStatus, error));
