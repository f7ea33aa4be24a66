import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mg from '../index';
import { expectClose } from './helpers';

// Float64 PyTorch references made by test/fixtures/make_hvp.py.
interface Entry {
  shape: number[];
  data: number[];
}
interface HvpCase {
  x: Entry;
  labels: number[];
  params: (Entry & { name: string })[];
  v: Entry[];
  loss: number;
  grad: Entry[];
  hvp: Entry[];
}
const fixture: { mlp: HvpCase; conv: HvpCase } = JSON.parse(
  readFileSync(new URL('./fixtures/hvp.json', import.meta.url), 'utf8'),
);

type Params = Record<string, mg.Tensor>;

const linear = (x: mg.Tensor, weight: mg.Tensor, bias: mg.Tensor) =>
  mg.matmulT(x, weight, false, true).add(bias);

function mlpLogits(p: Params, x: mg.Tensor): mg.Tensor {
  return linear(linear(x, p['fc1.weight'], p['fc1.bias']).tanh(), p['fc2.weight'], p['fc2.bias']);
}

function convLogits(p: Params, x: mg.Tensor): mg.Tensor {
  const features = mg.conv2d(x, p['conv.weight'], p['conv.bias'], { padding: 1 }).relu();
  const pooled = mg.maxPool2d(features, { kernelSize: 2 });
  return linear(pooled.flatten(1), p['fc.weight'], p['fc.bias']);
}

/**
 * Rebuilds the case's model and checks the loss, the gradient and H v, the
 * gradient of <g, v> where g is the gradient recorded with createGraph.
 */
async function checkCase(data: HvpCase, logits: (p: Params, x: mg.Tensor) => mg.Tensor) {
  const leaves = data.params.map((p) => mg.tensor(p.data, { shape: p.shape, requiresGrad: true }));
  const params: Params = Object.fromEntries(data.params.map((p, i) => [p.name, leaves[i]]));
  const x = mg.tensor(data.x.data, { shape: data.x.shape });
  const labels = mg.tensor(Int32Array.from(data.labels));
  const v = data.v.map((entry) => mg.tensor(entry.data, { shape: entry.shape }));

  const loss = mg.crossEntropy(logits(params, x), labels);
  const grads = mg.grad(loss, leaves, { createGraph: true }).map((g) => g!);
  const dot = grads.map((g, i) => mg.sum(mg.mul(g, v[i]))).reduce((a, b) => mg.add(a, b));
  const hvp = mg.grad(dot, leaves);

  expect(await loss.item()).toBeCloseTo(data.loss, 5);
  for (const [i, p] of data.params.entries()) {
    expectClose(await grads[i].data(), data.grad[i].data, { atol: 1e-5, rtol: 1e-4 });
    const actual = await hvp[i]!.data();
    expect(hvp[i]!.shape, `H v shape of ${p.name}`).toEqual(p.shape);
    expectClose(actual, data.hvp[i].data, { atol: 2e-5, rtol: 1e-3 });
  }
}

describe('Hessian-vector product against PyTorch float64', () => {
  it('MLP with tanh and cross-entropy', async () => {
    await checkCase(fixture.mlp, mlpLogits);
  });

  it('conv, relu, max-pool and linear with cross-entropy', async () => {
    await checkCase(fixture.conv, convLogits);
  });
});
