import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { ConditionalNeuralProcess, gaussianNll, softplus } from '../../algorithms/model/cnp';
import {
  accuracyByInstance,
  instanceIndices,
  leastUsedWeights,
  lstmStep,
  Mann,
  memoryStep,
  type MemoryState,
} from '../../algorithms/model/mann';
import { expectClose } from '../helpers';

// The MANN's memory access and the CNP's likelihood against PyTorch float64
// values from test/fixtures/make_model_based.py, gradients included.

interface Entry {
  shape: number[];
  data: number[];
}

interface Fixture {
  memory: {
    inputs: Record<
      'memory' | 'readWeights' | 'usage' | 'keys1' | 'gates1' | 'keys2' | 'gates2',
      Entry
    >;
    coefficients: Record<'reads' | 'memory' | 'usage', Entry>;
    leastUsed0: Entry;
    leastUsed1: Entry;
    write1: Entry;
    reads1: Entry;
    write2: Entry;
    reads2: Entry;
    memory2: Entry;
    readWeights2: Entry;
    usage2: Entry;
    leastUsed2: Entry;
    loss: number;
    grads: Record<string, Entry>;
  };
  cnp: {
    params: Record<string, Entry>;
    contextX: Entry;
    contextY: Entry;
    targetX: Entry;
    targetY: Entry;
    mean: Entry;
    std: Entry;
    nll: number;
    grads: Record<string, Entry>;
  };
}

const fixture: Fixture = JSON.parse(
  readFileSync(new URL('../fixtures/model_based.json', import.meta.url), 'utf8'),
);

const load = (entry: Entry, requiresGrad = false) =>
  mg.tensor(entry.data, { shape: entry.shape, requiresGrad });

// Float32 against float64: the values go through a softmax of cosines and two steps.
const TOLERANCE = { atol: 2e-5, rtol: 2e-4 };

describe('MANN memory access', () => {
  const data = fixture.memory;
  const DECAY = 0.95;

  it('matches PyTorch over two steps', async () => {
    const leaves = Object.fromEntries(
      Object.entries(data.inputs).map(([name, entry]) => [name, load(entry, true)]),
    ) as Record<keyof Fixture['memory']['inputs'], mg.Tensor>;
    const heads = leaves.keys1.shape[1];
    const start: MemoryState = {
      memory: leaves.memory,
      readWeights: leaves.readWeights,
      usage: leaves.usage,
      leastUsed: leastUsedWeights(leaves.usage, heads),
    };
    expectClose(await start.leastUsed.data(), data.leastUsed0.data);

    const first = memoryStep(start, leaves.keys1, leaves.gates1, DECAY);
    const second = memoryStep(first.state, leaves.keys2, leaves.gates2, DECAY);
    expectClose(await first.writeWeights.data(), data.write1.data, TOLERANCE);
    expectClose(await first.reads.data(), data.reads1.data, TOLERANCE);
    expectClose(await first.state.leastUsed.data(), data.leastUsed1.data);
    expectClose(await second.writeWeights.data(), data.write2.data, TOLERANCE);
    expectClose(await second.reads.data(), data.reads2.data, TOLERANCE);
    expectClose(await second.state.memory.data(), data.memory2.data, TOLERANCE);
    expectClose(await second.state.readWeights.data(), data.readWeights2.data, TOLERANCE);
    expectClose(await second.state.usage.data(), data.usage2.data, TOLERANCE);
    expectClose(await second.state.leastUsed.data(), data.leastUsed2.data);

    const c = data.coefficients;
    const loss = mg.add(
      mg.add(
        mg.sum(mg.mul(second.reads, load(c.reads))),
        mg.sum(mg.mul(second.state.memory, load(c.memory))),
      ),
      mg.sum(mg.mul(second.state.usage, load(c.usage))),
    );
    expect(await loss.item()).toBeCloseTo(data.loss, 4);

    const names = Object.keys(data.inputs) as (keyof typeof leaves)[];
    const grads = mg.grad(
      loss,
      names.map((name) => leaves[name]),
    );
    for (const [i, name] of names.entries()) {
      expect(grads[i], `gradient of ${name}`).not.toBeNull();
      expectClose(await grads[i]!.data(), data.grads[name].data, TOLERANCE);
    }
  });

  it('breaks usage ties in slot order', async () => {
    const usage = mg.tensor([0, 0, 0, 0, 0.5, 0, 0.5, 0.2], { shape: [2, 4] });
    const rows = await leastUsedWeights(usage, 3).data();
    // Episode 0: all tied, so slots 0, 1, 2. Episode 1: usages 0.5, 0, 0.5, 0.2 rank slots 1, 3, 0.
    expect(Array.from(rows)).toEqual([
      1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0,
    ]);
  });
});

describe('MANN controller', () => {
  it('lstmStep matches LSTMCell.forward', async () => {
    mg.manualSeed(3);
    const cell = new mg.nn.LSTMCell(5, 4);
    const x = mg.randn([2, 5]);
    const state: [mg.Tensor, mg.Tensor] = [mg.randn([2, 4]), mg.randn([2, 4])];
    const [h, c] = cell.forward(x, state);
    const inputGates = mg.add(
      mg.matmulT(x, cell.param('weight_ih'), false, true),
      mg.add(cell.param('bias_ih'), cell.param('bias_hh')),
    );
    const [h2, c2] = lstmStep(cell, inputGates, state);
    expectClose(await h2.data(), await h.data(), { atol: 1e-6 });
    expectClose(await c2.data(), await c.data(), { atol: 1e-6 });
  });

  it('sees each label one step late', async () => {
    // Step t receives y_{t-1}, never y_t, so changing the label of step 2 may
    // change the logits of steps 3 and later only.
    mg.manualSeed(4);
    const model = new Mann({
      inputSize: 6,
      classes: 3,
      controllerSize: 8,
      memorySlots: 4,
      memorySize: 4,
      readHeads: 2,
      memory: 'external',
      usageDecay: 0.95,
      keyStrength: 'learned',
    });
    const images = mg.randn([1, 5, 6]);
    const labels = (values: number[]) => mg.tensor(Int32Array.from(values), { shape: [1, 5] });
    const first = await model.forward(images, labels([0, 1, 2, 0, 1])).data();
    const second = await model.forward(images, labels([0, 1, 0, 0, 1])).data();
    const step = (data: Float32Array | Int32Array, t: number) =>
      Array.from(data.slice(t * 3, t * 3 + 3));
    for (const t of [0, 1, 2]) expectClose(step(second, t), step(first, t), { atol: 1e-6 });
    const change = step(second, 3).map((v, i) => Math.abs(v - step(first, 3)[i]));
    expect(Math.max(...change)).toBeGreaterThan(1e-4);
  });
});

describe('accuracy by instance', () => {
  it('counts instances per class', () => {
    expect(instanceIndices([2, 0, 2, 1, 0, 2])).toEqual([1, 1, 2, 1, 2, 3]);
  });

  it('scores each instance index', () => {
    // Two classes; argmax predictions 0, 0, 1, 1 for labels 0, 1, 1, 0.
    const logits = Float32Array.from([2, 1, 3, 0, 0, 1, 0, 5]);
    expect(accuracyByInstance(logits, [0, 1, 1, 0], 2)).toEqual([0.5, 0.5]);
  });
});

describe('CNP', () => {
  const data = fixture.cnp;

  it('softplus stays finite for large inputs', async () => {
    const values = await softplus(mg.tensor([-100, -1, 0, 1, 100])).data();
    expectClose(values, [0, Math.log1p(Math.exp(-1)), Math.log(2), Math.log1p(Math.E), 100], {
      atol: 1e-5,
    });
  });

  it('log-likelihood and gradients match PyTorch', async () => {
    const model = new ConditionalNeuralProcess({ hidden: 4, representationSize: 3 });
    model.loadStateDict(
      new Map(Object.entries(data.params).map(([name, entry]) => [name, load(entry)])),
    );
    const prediction = model.forward(load(data.contextX), load(data.contextY), load(data.targetX));
    expectClose(await prediction.mean.data(), data.mean.data, TOLERANCE);
    expectClose(await prediction.std.data(), data.std.data, TOLERANCE);

    const nll = gaussianNll(prediction, load(data.targetY));
    expect(await nll.item()).toBeCloseTo(data.nll, 4);

    const named = model.namedParameters();
    expect(named.map(([name]) => name).sort()).toEqual(Object.keys(data.grads).sort());
    const grads = mg.grad(
      nll,
      named.map(([, p]) => p),
    );
    for (const [i, [name]] of named.entries()) {
      expect(grads[i], `gradient of ${name}`).not.toBeNull();
      expectClose(await grads[i]!.data(), data.grads[name].data, TOLERANCE);
    }
  });
});
