import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose } from '../helpers';

const { nn } = mg;
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));

interface ForwardCase {
  inputShape: number[];
  x: number[];
  train: number[];
  eval: number[];
}
const fixture = JSON.parse(readFileSync(`${fixtures}nn_models.json`, 'utf8')) as {
  convnet4: ForwardCase;
  resnet12: ForwardCase;
  maml: {
    innerLr: number;
    supportX: number[];
    supportY: number[];
    queryX: number[];
    queryY: number[];
    supportLoss: number;
    queryLoss: number;
    metaGrad: Record<string, number[]>;
  };
};

async function checkForward(model: mg.nn.Module, file: string, c: ForwardCase): Promise<void> {
  await mg.loadModule(`${fixtures}${file}`, model);
  const x = mg.tensor(c.x, { shape: c.inputShape });
  model.train();
  expectClose(await model.forward(x).data(), c.train, { atol: 1e-4, rtol: 1e-3 });
  model.eval();
  expectClose(await model.forward(x).data(), c.eval, { atol: 1e-4, rtol: 1e-3 });
}

describe('standard models', () => {
  it('convNet4 names parameters as PyTorch', () => {
    const model = nn.convNet4({ hidden: 8 });
    const names = model.namedParameters().map(([n]) => n);
    expect(names.slice(0, 4)).toEqual([
      'features.0.weight',
      'features.0.bias',
      'features.1.weight',
      'features.1.bias',
    ]);
    expect(names.at(-1)).toBe('head.bias');
    expect(model.featureDim).toBe(8);
  });

  it('convNet4 matches PyTorch on 1x28x28', async () => {
    await checkForward(nn.convNet4({ hidden: 8 }), 'torch_convnet4.safetensors', fixture.convnet4);
  });

  it('convNet4 on 3x84x84 gives 5x5 features', () => {
    const model = nn.convNet4({ inChannels: 3, hidden: 4, imageSize: 84, featuresOnly: true });
    expect(model.featureDim).toBe(100);
    expect(model.outFeatures).toBe(100);
    expect(model.namedParameters().some(([n]) => n.startsWith('head'))).toBe(false);
    expect(model.forward(mg.randn([2, 3, 84, 84])).shape).toEqual([2, 100]);
    expect(() => nn.convNet4({ imageSize: 8 })).toThrow(/imageSize 8 is too small/);
  });

  it('resNet12 matches PyTorch', async () => {
    const model = nn.resNet12({ channels: [4, 6, 8, 8] });
    expect(model.namedParameters().map(([n]) => n)).toContain('layer2.downsample.1.weight');
    await checkForward(model, 'torch_resnet12.safetensors', fixture.resnet12);
  });

  it('resNet12 featuresOnly returns the pooled features', () => {
    const model = nn.resNet12({ channels: [2, 3, 4, 5], featuresOnly: true });
    expect(model.forward(mg.randn([2, 3, 16, 16])).shape).toEqual([2, 5]);
  });

  it('omniglotMlp and sineMlp have the MAML layer sizes', () => {
    const mlp = nn.omniglotMlp({ outFeatures: 20 });
    expect(mlp.namedParameters().map(([n, t]) => `${n}:${t.shape.join('x')}`)).toEqual([
      'features.0.weight:256x784',
      'features.0.bias:256',
      'features.1.weight:256',
      'features.1.bias:256',
      'features.3.weight:128x256',
      'features.3.bias:128',
      'features.4.weight:128',
      'features.4.bias:128',
      'features.6.weight:64x128',
      'features.6.bias:64',
      'features.7.weight:64',
      'features.7.bias:64',
      'features.9.weight:64x64',
      'features.9.bias:64',
      'features.10.weight:64',
      'features.10.bias:64',
      'head.weight:20x64',
      'head.bias:20',
    ]);
    expect(mlp.forward(mg.randn([3, 784])).shape).toEqual([3, 20]);
    const sine = nn.sineMlp();
    expect(sine.parameters().map((t) => t.shape.join('x'))).toEqual([
      '40x1',
      '40',
      '40x40',
      '40',
      '1x40',
      '1',
    ]);
    expect(sine.forward(mg.randn([7, 1])).shape).toEqual([7, 1]);
  });
});

describe('functionalCall', () => {
  it('gives the second-order MAML meta-gradient of the conv net', async () => {
    const c = fixture.maml;
    const model = nn.convNet4({ hidden: 8 });
    await mg.loadModule(`${fixtures}torch_convnet4.safetensors`, model);
    const buffersBefore = await Promise.all(model.namedBuffers().map(([, t]) => t.data()));

    const params = new Map(model.namedParameters());
    const names = [...params.keys()];
    const supportX = mg.tensor(c.supportX, { shape: [5, 1, 28, 28] });
    const queryX = mg.tensor(c.queryX, { shape: [10, 1, 28, 28] });
    const supportY = mg.tensor(c.supportY, { dtype: 'i32' });
    const queryY = mg.tensor(c.queryY, { dtype: 'i32' });

    const supportLoss = mg.crossEntropy(mg.functionalCall(model, params, supportX), supportY);
    expect(await supportLoss.item()).toBeCloseTo(c.supportLoss, 4);
    const grads = mg.grad(supportLoss, [...params.values()], { createGraph: true });
    const adapted = new Map(names.map((n, i) => [n, params.get(n)!.sub(grads[i]!.mul(c.innerLr))]));
    const queryLoss = mg.crossEntropy(mg.functionalCall(model, adapted, queryX), queryY);
    expect(await queryLoss.item()).toBeCloseTo(c.queryLoss, 4);

    // Errors are measured against the largest meta-gradient entry: the conv
    // biases before BatchNorm have an exactly zero gradient, so no per-tensor scale exists.
    const scale = Math.max(...Object.values(c.metaGrad).flatMap((g) => g.map(Math.abs)));
    const meta = mg.grad(queryLoss, [...params.values()], { retainGraph: true });
    let worst = 0;
    for (const [i, name] of names.entries()) {
      const expected = c.metaGrad[name];
      const actual = await meta[i]!.data();
      expectClose(actual, expected, { atol: 1e-4 * scale, rtol: 1e-3 });
      worst = Math.max(worst, ...expected.map((v, j) => Math.abs(actual[j] - v) / scale));
    }

    // The first-order approximation (inner gradients held constant) misses by
    // far more than that tolerance, so the match above needs the second-order terms.
    const firstOrder = mg.grad(queryLoss, [...adapted.values()]);
    let firstOrderGap = 0;
    for (const [i, name] of names.entries()) {
      const expected = c.metaGrad[name];
      const approx = await firstOrder[i]!.data();
      firstOrderGap = Math.max(
        firstOrderGap,
        ...expected.map((v, j) => Math.abs(approx[j] - v) / scale),
      );
    }
    expect(firstOrderGap).toBeGreaterThan(20 * worst);
    expect(firstOrderGap).toBeGreaterThan(1e-2);

    // Inner-loop calls leave the running statistics alone.
    const buffersAfter = await Promise.all(model.namedBuffers().map(([, t]) => t.data()));
    expect(buffersAfter).toEqual(buffersBefore);
  });

  it('updates BatchNorm buffers only when asked', async () => {
    const model = nn.omniglotMlp({ inFeatures: 6, hidden: [4], outFeatures: 2 });
    const params = new Map(model.namedParameters());
    const x = mg.randn([5, 6]);
    mg.functionalCall(model, params, x);
    expect(await model.features.at(1).buffer('num_batches_tracked').item()).toBe(0);
    mg.functionalCallWith(model, params, { updateBuffers: true }, x);
    expect(await model.features.at(1).buffer('num_batches_tracked').item()).toBe(1);
    const mean = Array.from(await model.features.at(1).buffer('running_mean').data());
    expect(mean.some((v) => v !== 0)).toBe(true);
  });

  it('uses given running statistics in eval mode', async () => {
    const bn = new nn.BatchNorm1d(2).eval();
    const x = mg.tensor([
      [1, 2],
      [3, 4],
    ]);
    const y = mg.functionalCall(
      bn,
      { running_mean: mg.tensor([1, 1]), running_var: mg.tensor([4, 1]) },
      x,
    );
    const eps = 1e-5;
    expectClose(await y.data(), [
      0,
      1 / Math.sqrt(1 + eps),
      2 / Math.sqrt(4 + eps),
      3 / Math.sqrt(1 + eps),
    ]);
  });

  it('functionalView runs functionalCall', async () => {
    mg.manualSeed(10);
    const model = nn.convNet4({ hidden: 4, batchNorm: { trackRunningStats: false } });
    expect(model.namedBuffers()).toEqual([]);
    const view = mg.functionalView(model);
    expect([...view.params.keys()]).toEqual(model.namedParameters().map(([n]) => n));
    const x = mg.randn([3, 1, 28, 28]);
    const doubled = new Map([...view.params].map(([n, p]) => [n, p.mul(2)]));
    const expected = await mg.functionalCall(model, doubled, x).data();
    expect(Array.from(await view.apply(doubled, x).data())).toEqual(Array.from(expected));
    expect(Array.from(expected)).not.toEqual(Array.from(await model.forward(x).data()));
  });

  it('nested calls keep the outer replacements', async () => {
    const features = nn.sineMlp({ hidden: [2] }).features;
    class Wrapper extends nn.Module {
      readonly inner = this.registerModule('inner', features);
      forward(x: mg.Tensor): mg.Tensor {
        return mg.functionalCall(this.inner, { '0.bias': mg.zeros([2]) }, x);
      }
    }
    const weight = mg.tensor([[2], [-3]]);
    const y = mg.functionalCall(new Wrapper(), { 'inner.0.weight': weight }, mg.tensor([[1.5]]));
    // relu(1.5 W + 0): the outer call supplies W, the nested call the zero bias.
    expect(Array.from(await y.data())).toEqual([3, 0]);
  });

  it('rejects unknown names and wrong shapes', () => {
    const model = nn.sineMlp();
    expect(() =>
      mg.functionalCall(model, { 'features.9.weight': mg.zeros([1]) }, mg.zeros([1, 1])),
    ).toThrow(/"features.9.weight" is not a parameter or buffer of FeatureModel/);
    expect(() =>
      mg.functionalCall(model, { 'head.bias': mg.zeros([2]) }, mg.zeros([1, 1])),
    ).toThrow(/"head.bias" has shape \[2\], expected \[1\]/);
  });

  it('differentiates an inner step to second order', async () => {
    mg.manualSeed(9);
    const model = nn.sineMlp({ hidden: [3] });
    const x = mg.randn([4, 1]);
    const y = mg.randn([4, 1]);
    const names = model.namedParameters().map(([n]) => n);
    const start = model.parameters().map((p) => p.detach().requiresGrad_(true));
    const adaptedLoss = (...ps: mg.Tensor[]): mg.Tensor => {
      const map = new Map(names.map((n, i) => [n, ps[i]]));
      const loss = mg.mseLoss(mg.functionalCall(model, map, x), y);
      const g = mg.grad(loss, ps, { createGraph: true });
      const adapted = new Map(names.map((n, i) => [n, ps[i].sub(g[i]!.mul(0.1))]));
      return mg.mseLoss(mg.functionalCall(model, adapted, x), y);
    };
    await mg.gradcheck(adaptedLoss, start);
  });
});
