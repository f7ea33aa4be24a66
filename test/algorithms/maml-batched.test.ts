import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { convNet4, sineMlp } from '../../engine/nn/models';
import { Linear, ReLU, Sequential } from '../../engine/nn/index';
import { functionalView } from '../../engine/nn/module';
import { Maml, type MamlConfig } from '../../algorithms/meta/maml';
import { batchedView } from '../../algorithms/meta/batched';
import type { ParamMap, Task } from '../../algorithms/meta/functional';
import { expectClose, randomArray } from '../helpers';

// The batched path (all tasks of a meta-batch in single dispatches) against the
// float64 PyTorch fixtures of test/fixtures/make_maml.py and against the per-task loop.
const fixtures = JSON.parse(
  readFileSync(new URL('../fixtures/maml.json', import.meta.url), 'utf8'),
);
const mlpFixture = fixtures.mlp;
const convFixture = fixtures.conv;

const mse = (prediction: mg.Tensor, target: mg.Tensor) => mg.mseLoss(prediction, target);
const crossEntropy = (logits: mg.Tensor, labels: mg.Tensor) => mg.crossEntropy(logits, labels);

function fixtureMlp() {
  const shape = (name: string): number[] => mlpFixture.shapes[name];
  const net = new Sequential(
    new Linear(shape('0.weight')[1], shape('0.weight')[0]),
    new ReLU(),
    new Linear(shape('2.weight')[1], shape('2.weight')[0]),
    new ReLU(),
    new Linear(shape('4.weight')[1], shape('4.weight')[0]),
  );
  net.loadStateDict(
    new Map(
      (mlpFixture.names as string[]).map((name) => [
        name,
        mg.tensor(mlpFixture.params[name], { shape: shape(name) }),
      ]),
    ),
  );
  return net;
}

function mlpTasks(): Task[] {
  const points: number = mlpFixture.points;
  return mlpFixture.tasks.map((t: Record<string, number[]>) => ({
    supportX: mg.tensor(t.sx, { shape: [points, 1] }),
    supportY: mg.tensor(t.sy, { shape: [points, 1] }),
    queryX: mg.tensor(t.qx, { shape: [points, 1] }),
    queryY: mg.tensor(t.qy, { shape: [points, 1] }),
  }));
}

function batchedMaml(net: Sequential, config: Partial<MamlConfig>) {
  const batched = batchedView(net);
  expect(batched, 'the batched view covers the model').not.toBeNull();
  return new Maml(functionalView(net), mse, config, batched);
}

async function expectGrads(grads: ParamMap, expected: Record<string, number[]>, prefix = '') {
  for (const [name, values] of Object.entries(expected)) {
    const g = grads.get(`${prefix}${name}`);
    expect(g, `gradient of ${prefix}${name}`).toBeDefined();
    expectClose(await g!.data(), values, { atol: 2e-5, rtol: 2e-3 });
  }
}

describe('batched MAML on an MLP, against PyTorch float64', () => {
  it('second and first order', async () => {
    for (const [firstOrder, expected] of [
      [false, mlpFixture.second_order],
      [true, mlpFixture.first_order],
    ] as const) {
      const maml = batchedMaml(fixtureMlp(), {
        innerSteps: mlpFixture.steps,
        innerLr: mlpFixture.inner_lr,
        firstOrder,
      });
      const tasks = mlpTasks();
      expect(maml.canBatch(tasks)).toBe(true);
      const { loss, grads } = maml.metaGradient(tasks);
      expect(await loss.item()).toBeCloseTo(expected.loss, 4);
      await expectGrads(grads, expected.grads);
    }
  });

  it('Meta-SGD step sizes', async () => {
    const maml = batchedMaml(fixtureMlp(), {
      innerSteps: mlpFixture.steps,
      innerLrMode: 'per-parameter',
    });
    for (const [name, alpha] of maml.innerLrs) {
      const values = mg.tensor(mlpFixture.meta_sgd.alphas[name], { shape: alpha.shape });
      maml.innerLrs.set(name, mg.keep(values.requiresGrad_(true)));
    }
    const { loss, grads } = maml.metaGradient(mlpTasks());
    expect(await loss.item()).toBeCloseTo(mlpFixture.meta_sgd.loss, 4);
    await expectGrads(grads, mlpFixture.meta_sgd.param_grads);
    await expectGrads(grads, mlpFixture.meta_sgd.alpha_grads, 'innerLr.');
  });

  it('MAML++ multi-step loss and per-layer per-step step sizes', async () => {
    const maml = batchedMaml(fixtureMlp(), {
      innerSteps: mlpFixture.steps,
      innerLrMode: 'per-layer-per-step',
      multiStepLoss: true,
    });
    for (const [key, value] of Object.entries(mlpFixture.maml_pp.lslr as Record<string, number>))
      maml.innerLrs.set(key, mg.keep(mg.full([], value, { requiresGrad: true })));
    const { loss, grads } = maml.metaGradient(mlpTasks(), {
      stepWeights: mlpFixture.maml_pp.step_weights,
    });
    expect(await loss.item()).toBeCloseTo(mlpFixture.maml_pp.loss, 4);
    await expectGrads(grads, mlpFixture.maml_pp.param_grads);
    for (const [key, value] of Object.entries(
      mlpFixture.maml_pp.lslr_grads as Record<string, number>,
    ))
      expect(await grads.get(`innerLr.${key}`)!.item()).toBeCloseTo(value, 4);
  });
});

describe('batched MAML on the conv net with BatchNorm', () => {
  it('second order equals PyTorch float64, in grouped convolutions', async () => {
    const { ways, shots, queries } = convFixture;
    const net = convNet4({ hidden: convFixture.hidden, outFeatures: ways });
    const state = new Map(net.namedBuffers());
    for (const name of convFixture.names as string[])
      state.set(name, mg.tensor(convFixture.params[name], { shape: convFixture.shapes[name] }));
    net.loadStateDict(state);
    const tasks: Task[] = convFixture.tasks.map(
      (t: { sx: number[]; qx: number[]; sy: number[]; qy: number[] }) => ({
        supportX: mg.tensor(t.sx, { shape: [ways * shots, 1, 28, 28] }),
        supportY: mg.tensor(Int32Array.from(t.sy)),
        queryX: mg.tensor(t.qx, { shape: [ways * queries, 1, 28, 28] }),
        queryY: mg.tensor(Int32Array.from(t.qy)),
      }),
    );
    const batched = batchedView(net);
    expect(batched).not.toBeNull();
    const maml = new Maml(
      functionalView(net),
      crossEntropy,
      { innerSteps: convFixture.steps, innerLr: convFixture.inner_lr },
      batched,
    );
    expect(maml.canBatch(tasks)).toBe(true);
    const { loss, grads } = mg.tidy(() => maml.metaGradient(tasks));
    const expected = convFixture.second_order;
    expect(await loss.item()).toBeCloseTo(expected.loss, 4);
    for (const param of convFixture.names as string[]) {
      const reference: number[] = expected.grads[param];
      const scale = Math.max(...reference.map(Math.abs));
      expectClose(await grads.get(param)!.data(), reference, {
        atol: 1e-3 * scale + 1e-6,
        rtol: 1e-2,
      });
    }
  });
});

function sineTasks(count: number, points: number, seed: number): Task[] {
  const x = randomArray(count * points * 2, seed, -5, 5);
  const y = randomArray(count * points * 2, seed + 1, -3, 3);
  return Array.from({ length: count }, (_, t) => {
    const part = (data: Float64Array, half: number) =>
      mg.tensor(
        Float32Array.from(data.subarray((2 * t + half) * points, (2 * t + half + 1) * points)),
        {
          shape: [points, 1],
        },
      );
    return { supportX: part(x, 0), supportY: part(y, 0), queryX: part(x, 1), queryY: part(y, 1) };
  });
}

describe('batched MAML against the per-task loop', () => {
  it('25 sinusoid tasks, second order, ANIL and Meta-SGD', async () => {
    const tasks = sineTasks(25, 10, 7);
    for (const config of [
      { innerSteps: 2, innerLr: 0.01 },
      { innerSteps: 1, innerLr: 0.01, adapted: (name: string) => name.startsWith('head') },
      { innerSteps: 1, innerLr: 0.01, innerLrMode: 'per-parameter' as const },
    ]) {
      mg.manualSeed(3);
      const net = sineMlp();
      const loop = new Maml(functionalView(net), mse, config);
      const batch = new Maml(functionalView(net), mse, config, batchedView(net));
      // Share the learned step sizes, so both see the same meta-parameters.
      for (const [name, lr] of loop.innerLrs) batch.innerLrs.set(name, lr);
      const a = loop.metaGradient(tasks);
      const b = batch.metaGradient(tasks);
      expect(await b.loss.item()).toBeCloseTo(await a.loss.item(), 5);
      for (const [name, g] of a.grads) {
        const reference = await g.data();
        const scale = Math.max(...Array.from(reference, Math.abs), 1e-6);
        expectClose(await b.grads.get(name)!.data(), reference, { atol: 1e-5 * scale, rtol: 1e-4 });
      }
    }
  });

  it('tasks of different shapes fall back to the loop', () => {
    const net = sineMlp();
    const maml = new Maml(functionalView(net), mse, {}, batchedView(net));
    const tasks = [...sineTasks(1, 10, 1), ...sineTasks(1, 5, 2)];
    expect(maml.canBatch(tasks)).toBe(false);
    expect(maml.canBatch(tasks.slice(0, 1))).toBe(true);
  });
});

describe('second-order step memory', () => {
  it('grows linearly with inner steps', async () => {
    mg.manualSeed(4);
    const net = convNet4({ hidden: 8, outFeatures: 3 });
    const images = (n: number, seed: number) =>
      mg.tensor(Float32Array.from(randomArray(n * 28 * 28, seed, 0, 1)), { shape: [n, 1, 28, 28] });
    const labels = (n: number) => mg.tensor(Int32Array.from({ length: n }, (_, i) => i % 3));
    const tasks: Task[] = [0, 1].map((t) => ({
      supportX: images(3, 2 * t),
      supportY: labels(3),
      queryX: images(6, 2 * t + 1),
      queryY: labels(6),
    }));
    const peaks: number[] = [];
    for (const innerSteps of [1, 2, 3, 4]) {
      const maml = new Maml(
        functionalView(net),
        crossEntropy,
        { innerSteps, innerLr: 0.1 },
        batchedView(net),
      );
      await mg.sync();
      mg.resetPeakMemory();
      const base = mg.memory().bytes;
      mg.tidy(() => maml.batchedTaskLoss(tasks).loss.backward());
      net.zeroGrad();
      peaks.push(mg.memory().peakBytes - base);
    }
    // Each extra step keeps one more step's activations and gradients on the
    // tape, the same amount every time: the increments agree, so growth is linear.
    const increments = peaks.slice(1).map((p, i) => p - peaks[i]);
    for (const increment of increments) expect(increment).toBeGreaterThan(0);
    const ratio = Math.max(...increments) / Math.min(...increments);
    expect(ratio, `peaks ${peaks.join(', ')} bytes`).toBeLessThan(1.5);
  });
});
