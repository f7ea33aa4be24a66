import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { Maml } from '../../algorithms/meta/maml';
import type { FunctionalModel, ParamMap, Task } from '../../algorithms/meta/functional';
import { expectClose } from '../helpers';

// Float64 PyTorch references made by test/fixtures/make_maml.py.
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/maml.json', import.meta.url), 'utf8'),
).mlp;

const names: string[] = fixture.names;

function mlp(): FunctionalModel {
  const params: ParamMap = new Map(
    names.map((name) => [
      name,
      mg.tensor(fixture.params[name], { shape: fixture.shapes[name], requiresGrad: true }),
    ]),
  );
  const linear = (p: ParamMap, prefix: string, x: mg.Tensor) =>
    mg.matmulT(x, p.get(`${prefix}.weight`)!, false, true).add(p.get(`${prefix}.bias`)!);
  return {
    params,
    apply: (p, x) => linear(p, '4', linear(p, '2', linear(p, '0', x).relu()).relu()),
  };
}

const mse = (prediction: mg.Tensor, target: mg.Tensor) => prediction.sub(target).pow(2).mean();

function tasks(): Task[] {
  const points: number = fixture.points;
  return fixture.tasks.map((t: Record<string, number[]>) => ({
    supportX: mg.tensor(t.sx, { shape: [points, 1] }),
    supportY: mg.tensor(t.sy, { shape: [points, 1] }),
    queryX: mg.tensor(t.qx, { shape: [points, 1] }),
    queryY: mg.tensor(t.qy, { shape: [points, 1] }),
  }));
}

async function expectGrads(grads: ParamMap, expected: Record<string, number[]>, prefix = '') {
  for (const [name, values] of Object.entries(expected)) {
    const g = grads.get(`${prefix}${name}`);
    expect(g, `gradient of ${prefix}${name}`).toBeDefined();
    expectClose(await g!.data(), values, { atol: 2e-5, rtol: 2e-3 });
  }
}

describe('MAML meta-gradient on an MLP, against PyTorch float64', () => {
  it('second order', async () => {
    const maml = new Maml(mlp(), mse, { innerSteps: fixture.steps, innerLr: fixture.inner_lr });
    const { loss, grads } = maml.metaGradient(tasks());
    expect(await loss.item()).toBeCloseTo(fixture.second_order.loss, 4);
    await expectGrads(grads, fixture.second_order.grads);
  });

  it('first order, which differs from second order', async () => {
    const maml = new Maml(mlp(), mse, {
      innerSteps: fixture.steps,
      innerLr: fixture.inner_lr,
      firstOrder: true,
    });
    const { grads } = maml.metaGradient(tasks());
    await expectGrads(grads, fixture.first_order.grads);

    let largest = 0;
    for (const name of names) {
      const first: number[] = fixture.first_order.grads[name];
      const second: number[] = fixture.second_order.grads[name];
      for (let i = 0; i < first.length; i++)
        largest = Math.max(largest, Math.abs(first[i] - second[i]));
    }
    expect(largest).toBeGreaterThan(1e-3);
  });

  it('Meta-SGD: gradients with respect to the learned step sizes', async () => {
    const maml = new Maml(mlp(), mse, {
      innerSteps: fixture.steps,
      innerLr: 0.01,
      innerLrMode: 'per-parameter',
    });
    for (const name of names) {
      const alpha = maml.innerLrs.get(name)!;
      const values = mg.tensor(fixture.meta_sgd.alphas[name], { shape: alpha.shape });
      maml.innerLrs.set(name, mg.keep(values.requiresGrad_(true)));
    }
    const { loss, grads } = maml.metaGradient(tasks());
    expect(await loss.item()).toBeCloseTo(fixture.meta_sgd.loss, 4);
    await expectGrads(grads, fixture.meta_sgd.param_grads);
    await expectGrads(grads, fixture.meta_sgd.alpha_grads, 'innerLr.');
  });

  it('MAML++: multi-step loss and per-layer per-step step sizes', async () => {
    const maml = new Maml(mlp(), mse, {
      innerSteps: fixture.steps,
      innerLr: 0.01,
      innerLrMode: 'per-layer-per-step',
      multiStepLoss: true,
    });
    for (const [key, value] of Object.entries(fixture.maml_pp.lslr as Record<string, number>)) {
      maml.innerLrs.set(key, mg.keep(mg.full([], value, { requiresGrad: true })));
    }
    const { loss, grads } = maml.metaGradient(tasks(), {
      stepWeights: fixture.maml_pp.step_weights,
    });
    expect(await loss.item()).toBeCloseTo(fixture.maml_pp.loss, 4);
    await expectGrads(grads, fixture.maml_pp.param_grads);
    for (const [key, value] of Object.entries(
      fixture.maml_pp.lslr_grads as Record<string, number>,
    )) {
      const g = await grads.get(`innerLr.${key}`)!.item();
      expect(
        Math.abs(g - value),
        `step-size gradient ${key}: got ${g}, expected ${value}`,
      ).toBeLessThan(2e-5 + 2e-3 * Math.abs(value));
    }
  });
});
