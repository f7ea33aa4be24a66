// The demo index: links to each page and reports whether this browser has WebGPU.

import { addMessages } from './shared/i18n';
import { setupPage, showError, startGpu } from './shared/page';

addMessages({
  title: { en: 'metagrad demos', ja: 'metagrad デモ' },
  intro: {
    en: 'Each page shows one idea of meta-learning working live, computed on your own GPU through WebGPU by metagrad, a tensor and autograd engine whose every op is a hand-written WGSL kernel.',
    ja: '各ページでは、メタ学習の考え方を 1 つずつ実際に動かして見せます。計算はすべて WebGPU を通してあなたの GPU 上で行われます。使っているのは、すべての演算を手書きの WGSL カーネルで実装したテンソル・自動微分エンジン metagrad です。',
  },
  'sinusoid.name': { en: 'Sinusoid MAML', ja: 'サイン波と MAML' },
  'sinusoid.text': {
    en: 'meta-train live, then place a few points of a new wave and watch the network adapt step by step.',
    ja: 'その場でメタ学習し、新しい波の点をいくつか置いて、ネットワークが 1 ステップずつ適応する様子を見ます。',
  },
  'explorer.name': { en: 'Second-order gradient explorer', ja: '2 次勾配エクスプローラー' },
  'explorer.text': {
    en: 'the recorded tape of an inner step and the outer loss, walked backward node by node; first- and second-order meta-gradients side by side.',
    ja: '内側のステップと外側の損失で記録されたテープを、逆伝播の順に 1 ノードずつたどります。1 次と 2 次のメタ勾配を並べて比べます。',
  },
  'omniglot.name': { en: 'Few-shot Omniglot by hand', ja: '手書きで Few-shot Omniglot' },
  'omniglot.text': {
    en: 'draw a few new characters and a query; a Prototypical Network classifies it by the distance to each prototype.',
    ja: '新しい文字をいくつかとクエリを描くと、Prototypical Network が各プロトタイプまでの距離で分類します。',
  },
  'bench.name': { en: 'Kernel benchmark', ja: 'カーネルベンチマーク' },
  'bench.text': {
    en: "GFLOP/s of the engine's kernels on your GPU.",
    ja: 'あなたの GPU でのエンジンのカーネルの GFLOP/s。',
  },
});
setupPage({ home: false });

const status = document.getElementById('gpu')!;
startGpu(status).then(
  () => (window.demoStatus = 'ready'),
  (error: unknown) => showError(status, error),
);
