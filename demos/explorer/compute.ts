// The explorer's computation, shared by the page and by the browser test that
// checks the page against the Node engine: a 1-4-1 tanh network, one sine
// task, one inner SGD step, and MAML's meta-gradients of the outer loss.
// Parameters and data come from the host-side seeded Rng, not the GPU
// generator, so any two adapters start from the same numbers.

import * as mg from '../../index';
import type { Node, Tensor } from '../../index';
import type { ParamMap, Task } from '../../algorithms/meta/functional';
import { Maml } from '../../algorithms/meta/maml';
import { Rng } from '../../data/rng';
import { sampleSineBatch } from '../../data/sinusoid';

export const EXPLORER = { hidden: 4, shots: 5, queries: 5, innerLr: 0.1 } as const;

/** The phase of the meta-gradient computation in which a node was recorded. */
export type Phase = 'innerForward' | 'innerBackward' | 'update' | 'outerForward';
export const PHASES: Phase[] = ['innerForward', 'innerBackward', 'update', 'outerForward'];

export interface ExplorerSetup {
  model: InstanceType<typeof mg.nn.Sequential>;
  params: ParamMap;
  task: Task;
}

/** Builds the network and the task from `seed`. */
export function setup(seed: number): ExplorerSetup {
  const rng = new Rng(seed);
  const { hidden, shots, queries } = EXPLORER;
  const model = new mg.nn.Sequential(
    new mg.nn.Linear(1, hidden),
    new mg.nn.Tanh(),
    new mg.nn.Linear(hidden, 1),
  );
  // PyTorch's Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn on the host.
  const values = new Map<string, Tensor>();
  for (const [name, param] of model.namedParameters()) {
    const fanIn = name.startsWith('0.') ? 1 : hidden;
    const bound = 1 / Math.sqrt(fanIn);
    const data = Float32Array.from({ length: param.size }, () => rng.uniform(-bound, bound));
    values.set(name, mg.tensor(data, { shape: [...param.shape] }));
  }
  model.loadStateDict(values);
  for (const tensor of values.values()) tensor.dispose();

  const batch = sampleSineBatch(rng, 1, shots, queries);
  const column = (data: Float32Array) => mg.tensor(data, { shape: [data.length, 1] });
  const task: Task = {
    supportX: column(batch.supportX),
    supportY: column(batch.supportY),
    queryX: column(batch.queryX),
    queryY: column(batch.queryY),
  };
  return { model, params: new Map(model.namedParameters()), task };
}

/** Returns the meta-gradient of the outer loss for each parameter, by name, as plain arrays. */
export async function metaGradients(
  { model, task }: ExplorerSetup,
  firstOrder: boolean,
): Promise<Record<string, number[]>> {
  const maml = new Maml(mg.functionalView(model), (p, t) => mg.mseLoss(p, t), {
    innerSteps: 1,
    innerLr: EXPLORER.innerLr,
    firstOrder,
  });
  const grads = mg.tidy(() => {
    const { grads } = maml.metaGradient([task]);
    return [...grads];
  });
  const result: Record<string, number[]> = {};
  for (const [name, g] of grads) {
    result[name] = Array.from(await g.data());
    g.dispose();
  }
  return result;
}

export interface TapeNode {
  id: number;
  op: string;
  phase: Phase;
  /** Each input: the id of the node that produced it, or a leaf's label. */
  inputs: ({ node: number } | { leaf: string })[];
  inputShapes: number[][];
  outputShape: number[];
  /** |d outer loss / d output|, or null when the output does not reach the parameters. */
  gradNorm: number | null;
}

export interface RecordedTape {
  nodes: TapeNode[];
  outerLoss: number;
  /** The second-order meta-gradient, from the recorded graph itself. */
  grads: Record<string, number[]>;
}

/**
 * Runs one inner step and the outer loss by hand, phase by phase, recording
 * every node of the tape, then differentiates the outer loss with respect to
 * the parameters and to every recorded output (the gradient each node receives
 * in the backward pass).
 */
export async function recordMetaTape({
  model,
  params,
  task,
}: ExplorerSetup): Promise<RecordedTape> {
  const recorded: { node: Node; phase: Phase }[] = [];
  let phase: Phase = 'innerForward';
  const record = <T>(fn: () => T): T => mg.recordTape(fn, (node) => recorded.push({ node, phase }));
  const names = [...params.keys()];
  const leafNames = new Map<Tensor, string>(
    [...params].map(([name, tensor]) => [tensor, name] as [Tensor, string]),
  );
  for (const [key, tensor] of Object.entries(task)) leafNames.set(tensor, key);

  const computed = mg.tidy(() => {
    const supportLoss = record(() =>
      mg.mseLoss(mg.functionalCall(model, params, task.supportX), task.supportY),
    );
    phase = 'innerBackward';
    const inner = record(() => mg.grad(supportLoss, [...params.values()], { createGraph: true }));
    phase = 'update';
    const adapted: ParamMap = record(
      () =>
        new Map(
          names.map((name, i) => [
            name,
            mg.sub(params.get(name)!, mg.mul(inner[i]!, EXPLORER.innerLr)),
          ]),
        ),
    );
    phase = 'outerForward';
    const outerLoss = record(() =>
      mg.mseLoss(mg.functionalCall(model, adapted, task.queryX), task.queryY),
    );
    const outputs = recorded.map(({ node }) => node.output);
    const all = mg.grad(outerLoss, [...params.values(), ...outputs], {
      allowUnused: true,
      retainGraph: true,
    });
    return { loss: outerLoss.detach(), grads: all };
  });

  const ids = new Map<Tensor, number>(recorded.map(({ node }) => [node.output, node.id]));
  const norms = await Promise.all(
    computed.grads.slice(names.length).map(async (g) => {
      if (!g) return null;
      const values = await g.data();
      return Math.sqrt(Array.from(values).reduce((sum, v) => sum + v * v, 0));
    }),
  );
  const grads: Record<string, number[]> = {};
  for (const [i, name] of names.entries())
    grads[name] = Array.from(await computed.grads[i]!.data());
  const nodes: TapeNode[] = recorded.map(({ node, phase: nodePhase }, i) => ({
    id: node.id,
    op: node.op,
    phase: nodePhase,
    inputs: node.inputs.map((input) => {
      const producer = ids.get(input);
      if (producer !== undefined) return { node: producer };
      return { leaf: leafNames.get(input) ?? (input.size === 1 ? 'scalar' : 'constant') };
    }),
    inputShapes: node.inputs.map((input) => [...input.shape]),
    outputShape: [...node.output.shape],
    gradNorm: norms[i],
  }));
  const outerLoss = await computed.loss.item();
  computed.loss.dispose();
  // Backward rules may hand the same tensor to several inputs, so each is disposed once.
  for (const g of new Set(computed.grads)) g?.dispose();
  return { nodes, outerLoss, grads };
}
