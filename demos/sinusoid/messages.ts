import type { Messages } from '../shared/i18n';

export const messages: Messages = {
  title: { en: 'Sinusoid regression with MAML', ja: 'MAML によるサイン波回帰' },
  intro: {
    en: 'Each task is a sine wave y = A sin(x − φ) with its own amplitude A and phase φ. MAML learns an initialisation of a small network (1 → 40 → 40 → 1) from which a few gradient steps on a handful of points fit any such wave.',
    ja: '各タスクは振幅 A と位相 φ がそれぞれ異なるサイン波 y = A sin(x − φ) です。MAML は小さなネットワーク (1 → 40 → 40 → 1) の初期値を学習し、その初期値から数点に対する数回の勾配ステップで、どの波にも当てはまるようにします。',
  },
  'train.heading': { en: '1. Meta-training', ja: '1. メタ学習' },
  'train.text': {
    en: 'Each iteration samples a batch of waves, takes one inner SGD step on K = 10 points of each, and updates the initialisation with the second-order meta-gradient of the loss on 10 other points. The baseline is the same network trained on points of all waves together, with no inner step.',
    ja: '各イテレーションでは波をいくつかサンプルし、それぞれの K = 10 点で内側の SGD を 1 ステップ行い、別の 10 点での損失の 2 次のメタ勾配で初期値を更新します。ベースラインは同じネットワークを全タスクの点でまとめて学習したもので、内側のステップはありません。',
  },
  'train.start': { en: 'Start meta-training', ja: 'メタ学習を開始' },
  'train.pause': { en: 'Pause', ja: '一時停止' },
  'train.resume': { en: 'Resume', ja: '再開' },
  'train.progress': {
    en: 'Iteration {iteration} of {total}: meta-loss {maml}, baseline loss {baseline}',
    ja: 'イテレーション {iteration} / {total}: メタ損失 {maml}、ベースラインの損失 {baseline}',
  },
  'train.done': {
    en: 'Meta-training finished after {total} iterations.',
    ja: '{total} イテレーションでメタ学習が終わりました。',
  },
  'adapt.heading': { en: '2. Adapt to a new wave', ja: '2. 新しい波への適応' },
  'adapt.text': {
    en: 'Click on the plot to place up to 10 points of the new wave (the black curve). Both networks then take the chosen number of SGD steps (step size 0.01) on those points alone. The MAML initialisation should bend to the wave in a few steps; the baseline, pretrained on the average of all waves, moves little.',
    ja: 'グラフをクリックして、新しい波 (黒の曲線) の点を最大 10 個置いてください。両方のネットワークが、その点だけを使って選んだ回数の SGD ステップ (ステップ幅 0.01) を行います。MAML の初期値は数ステップで波に合わせて曲がりますが、全タスクの平均で事前学習したベースラインはあまり動きません。',
  },
  'adapt.newWave': { en: 'New wave', ja: '新しい波' },
  'adapt.clear': { en: 'Clear points', ja: '点を消す' },
  'adapt.steps': { en: 'Inner steps: ', ja: '内側のステップ数: ' },
  'adapt.needPoints': {
    en: 'Click the plot to add points of the wave.',
    ja: 'グラフをクリックして波の点を追加してください。',
  },
  'adapt.full': {
    en: 'At most 10 points; clear them to start again.',
    ja: '点は最大 10 個です。やり直すには点を消してください。',
  },
  'mse.model': { en: 'Model', ja: 'モデル' },
  'mse.pre': { en: 'MSE before', ja: '適応前の MSE' },
  'mse.post': { en: 'MSE after {steps} steps', ja: '{steps} ステップ後の MSE' },
  'legend.maml': {
    en: 'MAML meta-loss (query, after adaptation)',
    ja: 'MAML のメタ損失 (適応後のクエリ)',
  },
  'legend.baseline': { en: 'Baseline loss (all tasks)', ja: 'ベースラインの損失 (全タスク)' },
  'legend.truth': { en: 'True wave', ja: '正解の波' },
  'legend.pre': { en: 'MAML before adaptation', ja: 'MAML 適応前' },
  'legend.post': { en: 'MAML after adaptation', ja: 'MAML 適応後' },
  'legend.baselinePost': { en: 'Baseline after adaptation', ja: 'ベースライン 適応後' },
  'legend.points': { en: 'Your points (K)', ja: '置いた点 (K)' },
  maml: { en: 'MAML', ja: 'MAML' },
  baseline: { en: 'Baseline', ja: 'ベースライン' },
};
