import type { Messages } from '../shared/i18n';

export const messages: Messages = {
  title: { en: 'Few-shot Omniglot by hand', ja: '手書きで Few-shot Omniglot' },
  intro: {
    en: "A Prototypical Network classifies a new image by its distance to one prototype per class: the mean embedding of that class's support examples. Its embedding (a 4-block conv net) was trained on Omniglot's background alphabets only, so the characters you draw here are classes it has never seen. One example per class is enough (N-way 1-shot classification); with K examples per class the prototype is their mean (N-way K-shot).",
    ja: 'Prototypical Network は、新しい画像をクラスごとのプロトタイプ (そのクラスのサポート例の埋め込みの平均) までの距離で分類します。埋め込み (4 ブロックの畳み込みネット) は Omniglot の background のアルファベットだけで学習しているので、ここで描く文字はどれも見たことのないクラスです。クラスごとに例が 1 つあれば足ります (N-way 1-shot 分類)。クラスごとに K 例を描くと、プロトタイプはその平均になります (N-way K-shot 分類)。',
  },
  model: {
    en: 'The embedding is the model.safetensors written by the command “metagrad train protonet” (the README gives it in full). The command “metagrad eval” measured {accuracy} ± {ci}% accuracy on {episodes} {ways}-way {shots}-shot test episodes of the evaluation alphabets.',
    ja: '埋め込みは「metagrad train protonet」コマンドが書いた model.safetensors です (コマンド全体は README にあります)。「metagrad eval」コマンドで evaluation のアルファベットの {ways}-way {shots}-shot のテストエピソード {episodes} 個を分類した正解率は {accuracy} ± {ci}% でした。',
  },
  'support.heading': {
    en: '1. Support set: K examples of each of N classes',
    ja: '1. サポート集合: N クラスそれぞれに K 例',
  },
  'support.text': {
    en: 'Draw one new character per class with the mouse or a finger, once in each of its K boxes, or press "Sample episode" to fill the boxes with characters from Omniglot\'s evaluation alphabets. Each drawing is reduced to 28x28 pixels like the training images.',
    ja: 'クラスごとに新しい文字を 1 つ決め、そのクラスの K 個のボックスにマウスか指で 1 回ずつ描いてください。「サンプルのエピソード」を押すと、Omniglot の evaluation のアルファベットの文字でボックスが埋まります。描いた絵は学習画像と同じく 28x28 ピクセルに縮小されます。',
  },
  ways: { en: 'Classes (N):', ja: 'クラス数 (N):' },
  shots: { en: 'Examples per class (K):', ja: 'クラスごとの例の数 (K):' },
  sample: { en: 'Sample episode', ja: 'サンプルのエピソード' },
  clear: { en: 'Clear all', ja: 'すべて消す' },
  class: { en: 'Class {index}', ja: 'クラス {index}' },
  'query.heading': { en: '2. Query', ja: '2. クエリ' },
  'query.text': {
    en: 'Draw another example of one of your characters, then classify it.',
    ja: 'どれかの文字をもう一度描いて、分類してください。',
  },
  query: { en: 'Query', ja: 'クエリ' },
  classify: { en: 'Classify', ja: '分類する' },
  probability: { en: 'Probability', ja: '確率' },
  distance: { en: 'Squared distance to prototype', ja: 'プロトタイプまでの二乗距離' },
  answer: {
    en: 'Class {index}: the query is closest to its prototype, so softmax(−distance) gives it the highest probability.',
    ja: 'クラス {index}: クエリはこのクラスのプロトタイプに最も近いので、softmax(−距離) で最も高い確率になります。',
  },
  'missing.support': {
    en: 'Draw something in every support box first (class {index} has an empty box).',
    ja: '先にすべてのサポートのボックスに描いてください (クラス {index} に空のボックスがあります)。',
  },
  'missing.query': { en: 'Draw the query first.', ja: '先にクエリを描いてください。' },
  loading: { en: 'Loading the trained embedding…', ja: '学習済みの埋め込みを読み込んでいます…' },
};
