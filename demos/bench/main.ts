// Runs the engine's kernel benchmark (the cases of bench/measure.ts, which
// `npm run bench` also uses) on this browser's WebGPU adapter.

import * as mg from '../../index';
import { gflops, kernelCases, timeMs, type KernelSizes } from '../../bench/measure';
import { addMessages, language, onLanguageChange, t } from '../shared/i18n';
import { breathe, publish, setupPage, showError, startGpu, testMode } from '../shared/page';

addMessages({
  title: { en: 'Kernel benchmark', ja: 'カーネルベンチマーク' },
  intro: {
    en: "Times the engine's WGSL kernels on your GPU: a square matmul, the forward pass and both gradients of the four conv2d layers of a 64-channel conv net on 28x28 images at batch 160, and pairwise squared distances. Each figure is the median of several runs after warm-up, from a synchronised GPU to a synchronised GPU.",
    ja: 'エンジンの WGSL カーネルをあなたの GPU で計測します。正方行列の matmul、28x28 画像・バッチ 160 の 64 チャネル畳み込みネットの 4 層の conv2d (順伝播と 2 種類の勾配)、ペアごとの二乗距離です。各数値は、ウォームアップの後に複数回実行した中央値で、GPU の同期から同期までの時間です。',
  },
  run: { en: 'Run the benchmark', ja: 'ベンチマークを実行' },
  running: { en: 'Running {name}…', ja: '{name} を実行中…' },
  done: { en: 'Done: {count} kernels.', ja: '完了: {count} 個のカーネル。' },
  kernel: { en: 'Kernel', ja: 'カーネル' },
  ms: { en: 'Median time (ms)', ja: '中央値 (ms)' },
  gflops: { en: 'GFLOP/s', ja: 'GFLOP/s' },
  note: {
    en: 'conv2d GFLOP/s count 2·N·Cout·Hout·Wout·Cin·kH·kW for every pass; pairwise distances count 3 FLOPs per term. The page must stay open and visible while it runs: browsers slow down background tabs.',
    ja: 'conv2d の GFLOP/s はどのパスも 2·N·Cout·Hout·Wout·Cin·kH·kW、ペアごとの距離は 1 項あたり 3 FLOP として数えます。実行中はページを開いて表示したままにしてください。ブラウザーは裏のタブを遅くします。',
  },
});
setupPage();

const TEST = testMode();
// The benchmark's shapes, those of `npm run bench`; the test configuration
// shrinks them for SwiftShader, a CPU adapter.
const SIZES: KernelSizes = TEST
  ? {
      matmul: 64,
      conv: [{ name: 'block 1', x: [4, 1, 28, 28], w: [8, 1, 3, 3] }],
      padding: 1,
      pairwise: { rows: 64, cols: 64, dim: 16 },
    }
  : {
      matmul: 1024,
      conv: [
        { name: 'block 1', x: [160, 1, 28, 28], w: [64, 1, 3, 3] },
        { name: 'block 2', x: [160, 64, 14, 14], w: [64, 64, 3, 3] },
        { name: 'block 3', x: [160, 64, 7, 7], w: [64, 64, 3, 3] },
        { name: 'block 4', x: [160, 64, 3, 3], w: [64, 64, 3, 3] },
      ],
      padding: 1,
      pairwise: { rows: 2000, cols: 2000, dim: 64 },
    };
const REPETITIONS = TEST ? 2 : 7;
const WARMUP = TEST ? 1 : 2;

const gpuStatus = document.getElementById('gpu')!;
const runButton = document.getElementById('run') as HTMLButtonElement;
const progress = document.getElementById('progress')!;
const table = document.getElementById('results') as HTMLTableElement;
let results: { name: string; ms: number; gflops: number }[] = [];
let status: { key: string; values: Record<string, string | number> } | null = null;

// Words of the benchmark's kernel names (bench/measure.ts), shown in Japanese on a Japanese page.
const JAPANESE_WORDS: [string, string][] = [
  ['pairwise squared distances', 'ペアごとの二乗距離'],
  ['input gradient', '入力の勾配'],
  ['weight gradient', '重みの勾配'],
  ['forward', '順伝播'],
  ['block', 'ブロック'],
];

function displayName(name: string): string {
  if (language() !== 'ja') return name;
  return JAPANESE_WORDS.reduce(
    (text, [english, japanese]) => text.replace(english, japanese),
    name,
  );
}

function render(): void {
  progress.textContent = status ? t(status.key, status.values) : '';
  table.replaceChildren();
  if (results.length === 0) return;
  const header = table.insertRow();
  for (const key of ['kernel', 'ms', 'gflops']) {
    const cell = document.createElement('th');
    cell.textContent = t(key);
    header.append(cell);
  }
  for (const result of results) {
    const row = table.insertRow();
    row.insertCell().textContent = displayName(result.name);
    row.insertCell().textContent = result.ms.toFixed(2);
    row.insertCell().textContent = result.gflops.toFixed(2);
  }
}

async function run(): Promise<void> {
  runButton.disabled = true;
  results = [];
  const cases = kernelCases(mg, SIZES);
  for (const kernel of cases) {
    status = { key: 'running', values: { name: displayName(kernel.name) } };
    render();
    await breathe();
    const { run, dispose } = kernel.prepare();
    try {
      const ms = await timeMs(kernel.name, run, REPETITIONS, WARMUP, () => undefined);
      results.push({ name: kernel.name, ms, gflops: gflops(kernel.flops, ms) });
    } finally {
      dispose();
    }
  }
  status = { key: 'done', values: { count: results.length } };
  render();
  runButton.disabled = false;
  publish({ adapter: mg.adapterDescription(), results });
}

runButton.addEventListener('click', () => {
  run().catch((error: unknown) => showError(gpuStatus, error));
});
onLanguageChange(render);

async function main(): Promise<void> {
  if (!(await startGpu(gpuStatus))) return;
  runButton.disabled = false;
  window.demoStatus = 'ready';
  if (TEST) await run();
}

main().catch((error: unknown) => showError(gpuStatus, error));
