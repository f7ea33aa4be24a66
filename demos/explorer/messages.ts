import type { Messages } from '../shared/i18n';

export const messages: Messages = {
  title: { en: 'Second-order gradient explorer', ja: '2 次勾配エクスプローラー' },
  intro: {
    en: "MAML adapts the parameters θ with an inner step θ' = θ − α ∇θ L_support(θ) and scores θ' on the query set: the outer loss L_query(θ'). Its meta-gradient ∇θ L_query(θ') has to go back through the inner step, and so through the inner gradient ∇θ L_support itself. This page shows how the engine does that for a 1-4-1 tanh network and one sine task (5 support points, 5 query points, α = 0.1).",
    ja: "MAML はパラメーター θ を内側のステップ θ' = θ − α ∇θ L_support(θ) で適応させ、θ' をクエリ集合で評価します。これが外側の損失 L_query(θ') です。そのメタ勾配 ∇θ L_query(θ') は内側のステップを、つまり内側の勾配 ∇θ L_support そのものを逆向きにたどる必要があります。このページでは、1-4-1 の tanh ネットワークと 1 つのサイン波タスク (サポート 5 点、クエリ 5 点、α = 0.1) で、エンジンがそれをどう計算するかを示します。",
  },
  'tape.heading': { en: '1. The recorded tape', ja: '1. 記録されたテープ' },
  'tape.text': {
    en: 'Every primitive op that runs on a tensor requiring grad appends a node to the tape. The inner gradient is computed with createGraph: true, so the ops of that backward pass are recorded too (purple). Boxes are ops, each placed to the right of the ops that produced its inputs; lines are the tensors between them (hover for their shapes). Faded boxes do not lie on a path from the parameters to the outer loss.',
    ja: '勾配が必要なテンソルに対して実行されたプリミティブ演算は、すべてテープにノードを追加します。内側の勾配は createGraph: true で計算するので、その逆伝播の演算も記録されます (紫)。箱は演算で、入力を作った演算より右に置かれます。線はその間を流れるテンソルです (ポインターを重ねると形状が出ます)。薄い箱は、パラメーターから外側の損失への経路上にないノードです。',
  },
  'phase.innerForward': { en: 'inner forward (support loss)', ja: '内側の順伝播 (サポート損失)' },
  'phase.innerBackward': {
    en: 'inner backward, recorded (createGraph)',
    ja: '内側の逆伝播 (createGraph で記録)',
  },
  'phase.update': { en: "inner update θ' = θ − α g", ja: "内側の更新 θ' = θ − α g" },
  'phase.outerForward': { en: 'outer forward (query loss)', ja: '外側の順伝播 (クエリ損失)' },
  'step.reset': { en: 'Reset', ja: 'リセット' },
  'step.next': { en: 'Backward one node', ja: '1 ノード逆伝播' },
  'step.all': { en: 'Run to the end', ja: '最後まで実行' },
  'step.counter': { en: 'Node {done} of {total}', ja: 'ノード {done} / {total}' },
  'step.start': {
    en: 'The backward pass of the outer loss starts at its last node with the gradient 1 and visits the nodes in decreasing tape order. Press "Backward one node".',
    ja: '外側の損失の逆伝播は、最後のノードから勾配 1 で始まり、テープの逆順にノードをたどります。「1 ノード逆伝播」を押してください。',
  },
  'step.node': {
    en: 'Node #{id}: {op}, output {shape}. It receives the gradient of the outer loss with respect to its output (norm {norm}) and its backward rule turns it into a gradient for each input that needs one. Inputs: {inputs}.',
    ja: 'ノード #{id}: {op}、出力 {shape}。出力に関する外側の損失の勾配 (ノルム {norm}) を受け取り、逆伝播の規則でそれを、勾配が必要な各入力の勾配に変えます。入力: {inputs}。',
  },
  'explain.outerForward': {
    en: "This op computed the query loss from the adapted parameters θ'. Its backward is ordinary backpropagation, ending at θ'.",
    ja: "この演算は、適応後のパラメーター θ' からクエリ損失を計算しました。その逆伝播は通常の誤差逆伝播で、θ' で終わります。",
  },
  'explain.update': {
    en: "θ' = θ − α g. The gradient reaches θ directly (the identity term) and also reaches the inner gradient g, multiplied by −α. First-order MAML stops there; second order continues into g's own graph.",
    ja: "θ' = θ − α g。勾配は θ に直接届き (恒等写像の項)、さらに −α 倍されて内側の勾配 g にも届きます。1 次の MAML はここで止まり、2 次は g 自身のグラフへ進みます。",
  },
  'explain.innerBackward': {
    en: 'This op belongs to the inner backward pass, recorded because of createGraph. Differentiating through it is a Hessian-vector product of the support loss: this is the second-order term of the meta-gradient.',
    ja: 'この演算は createGraph によって記録された内側の逆伝播の一部です。ここを微分することはサポート損失のヘッセ行列とベクトルの積にあたり、メタ勾配の 2 次の項になります。',
  },
  'explain.innerForward': {
    en: "This op computed the support loss. Gradients arrive here only through the recorded inner backward pass, because the support loss itself is not part of the outer loss; backward rules such as tanh's read these forward values.",
    ja: 'この演算はサポート損失を計算しました。サポート損失自体は外側の損失に含まれないため、勾配は記録された内側の逆伝播を通してのみここに届きます。tanh などの逆伝播の規則は、これらの順伝播の値を読みます。',
  },
  'explain.done': {
    en: 'The backward pass has reached the parameters θ. The gradients they collected are the second-order meta-gradient in the table below.',
    ja: '逆伝播がパラメーター θ に到達しました。集まった勾配が、下の表の 2 次のメタ勾配です。',
  },
  'grads.heading': {
    en: '2. First- and second-order meta-gradients',
    ja: '2. 1 次と 2 次のメタ勾配',
  },
  'grads.text': {
    en: "First order treats the inner gradient g as a constant (FOMAML), so ∂θ'/∂θ = I. Second order keeps it on the tape, so ∂θ'/∂θ = I − α H, where H is the Hessian of the support loss. Their difference, −α H ∇θ' L_query, is the term that flows through the Hessian. Both columns are computed with algorithms/meta Maml; the second-order one matches the hand-recorded tape above.",
    ja: "1 次では内側の勾配 g を定数として扱う (FOMAML) ので ∂θ'/∂θ = I です。2 次では g をテープに残すので ∂θ'/∂θ = I − α H となります。ここで H はサポート損失のヘッセ行列です。その差 −α H ∇θ' L_query が、ヘッセ行列を通って流れる項です。どちらの列も algorithms/meta の Maml で計算しており、2 次の列は上で手で記録したテープの結果と一致します。",
  },
  'grads.param': { en: 'Parameter', ja: 'パラメーター' },
  'grads.first': { en: 'First order', ja: '1 次' },
  'grads.second': { en: 'Second order', ja: '2 次' },
  'grads.difference': { en: 'Difference (Hessian term)', ja: '差 (ヘッセ行列の項)' },
  'grads.loss': { en: "Outer loss L_query(θ') = {loss}", ja: "外側の損失 L_query(θ') = {loss}" },
};
