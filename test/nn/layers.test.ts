import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose, randomArray } from '../helpers';

const { nn } = mg;

interface BatchNormStep {
  shape: number[];
  x: number[];
  v: number[];
  y: number[];
  gradX: number[];
  gradWeight: number[];
  gradBias: number[];
  runningMean: number[];
  runningVar: number[];
  numBatchesTracked: number;
}
interface BatchNormCase {
  numFeatures: number;
  momentum: number;
  eps: number;
  weight: number[];
  bias: number[];
  train: BatchNormStep[];
  eval: { shape: number[]; x: number[]; y: number[] };
}
interface LstmCase {
  values: Record<string, number[]>;
  a: number[];
  b: number[];
  h1: number[];
  c1: number[];
  grads: Record<string, number[]>;
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/nn_layers.json', import.meta.url), 'utf8'),
) as Record<string, BatchNormCase> & { lstmCell: LstmCase };

async function values(t: mg.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

function setParam(module: mg.nn.Module<never[], unknown>, name: string, data: number[]): void {
  const target = module.stateDict().get(name)!;
  module.loadStateDict(
    { [name]: mg.tensor(data, { shape: [...target.shape] }) },
    { strict: false },
  );
}

/** Float64 reference of y = x W^T + b for x [n, in], W [out, in]. */
function linearReference(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  n: number,
  inF: number,
  outF: number,
) {
  const y = new Float64Array(n * outF);
  for (let i = 0; i < n; i++)
    for (let o = 0; o < outF; o++) {
      let acc = b[o];
      for (let k = 0; k < inF; k++) acc += x[i * inF + k] * w[o * inF + k];
      y[i * outF + o] = acc;
    }
  return y;
}

describe('Module', () => {
  it('names nested parameters with dots', () => {
    mg.manualSeed(0);
    const model = new nn.Sequential(
      new nn.Linear(3, 4),
      new nn.ReLU(),
      new nn.Sequential(new nn.Linear(4, 2, { bias: false }), new nn.BatchNorm1d(2)),
    );
    expect(model.namedParameters().map(([n]) => n)).toEqual([
      '0.weight',
      '0.bias',
      '2.0.weight',
      '2.1.weight',
      '2.1.bias',
    ]);
    expect(model.namedBuffers().map(([n]) => n)).toEqual([
      '2.1.running_mean',
      '2.1.running_var',
      '2.1.num_batches_tracked',
    ]);
    expect(model.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
    expect([...model.namedModules()].map(([n]) => n)).toEqual(['', '0', '1', '2', '2.0', '2.1']);
  });

  it('train and eval reach every descendant', () => {
    const model = new nn.Sequential(new nn.Dropout(0.5), new nn.Sequential(new nn.BatchNorm1d(2)));
    model.eval();
    expect([...model.namedModules()].every(([, m]) => !m.training)).toBe(true);
    model.train();
    expect([...model.namedModules()].every(([, m]) => m.training)).toBe(true);
  });

  it('loadStateDict rejects mismatches and changes nothing', async () => {
    mg.manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(2, 3), new nn.Linear(3, 1));
    const before = await values(model.at(0).param('weight'));
    const good = mg.tensor(Float32Array.from(randomArray(6, 3)), { shape: [3, 2] });
    const bad = mg.tensor(Float32Array.from(randomArray(3, 4)), { shape: [1, 3] });
    expect(() =>
      model.loadStateDict({ '0.weight': good, '1.weight': mg.zeros([3, 1]) }, { strict: false }),
    ).toThrow(/"1.weight" has shape \[3, 1\], expected \[1, 3\]/);
    expect(() => model.loadStateDict({ '0.weight': good, '1.weight': bad })).toThrow(
      /missing key "0.bias"/,
    );
    expect(await values(model.at(0).param('weight'))).toEqual(before);
    model.loadStateDict({ '0.weight': good }, { strict: false });
    expectClose(await values(model.at(0).param('weight')), await values(good));
  });

  it('rejects dotted and repeated names', () => {
    class Bad extends nn.Module {
      constructor(name: string) {
        super();
        this.registerParameter(name, mg.zeros([1]));
        this.registerParameter('w', mg.zeros([1]));
      }
      forward(x: mg.Tensor): mg.Tensor {
        return x;
      }
    }
    expect(() => new Bad('a.b')).toThrow(/contain no dot/);
    expect(() => new Bad('w')).toThrow(/"w" is already registered/);
  });
});

describe('Linear', () => {
  it('matches a float64 reference, including 3-d input', async () => {
    mg.manualSeed(2);
    const layer = new nn.Linear(7, 5);
    const w = Float64Array.from(await layer.param('weight').data());
    const b = Float64Array.from(await layer.param('bias').data());
    const x = randomArray(3 * 2 * 7, 5);
    const y = layer.forward(mg.tensor(Float32Array.from(x), { shape: [3, 2, 7] }));
    expect(y.shape).toEqual([3, 2, 5]);
    expectClose(await values(y), linearReference(x, w, b, 6, 7, 5));
  });

  it('initialises in +-1/sqrt(fan_in), reproducibly', async () => {
    mg.manualSeed(3);
    const a = await values(new nn.Linear(16, 32).param('weight'));
    mg.manualSeed(3);
    const b = await values(new nn.Linear(16, 32).param('weight'));
    expect(a).toEqual(b);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.2);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
  });

  it('rejects a wrong input width', () => {
    const layer = new nn.Linear(4, 2);
    expect(() => layer.forward(mg.zeros([3, 5]))).toThrow(
      /shape \[3, 5\] does not end in inFeatures = 4/,
    );
    expect(() => new nn.Linear(0, 2)).toThrow(/inFeatures must be a positive integer, got 0/);
  });
});

describe('activations, Dropout, Flatten', () => {
  it('ReLU and LeakyReLU match their definitions', async () => {
    const x = randomArray(50, 6, -2, 2);
    const t = mg.tensor(Float32Array.from(x));
    expectClose(
      await values(new nn.ReLU().forward(t)),
      Array.from(x, (v) => Math.max(v, 0)),
    );
    expectClose(
      await values(new nn.LeakyReLU(0.1).forward(t)),
      Array.from(x, (v) => (v > 0 ? v : 0.1 * v)),
    );
  });

  it('Dropout zeroes about p and rescales the rest', async () => {
    mg.manualSeed(4);
    const drop = new nn.Dropout(0.3);
    const out = await values(drop.forward(mg.ones([4000])));
    const zeros = out.filter((v) => v === 0).length;
    expect(zeros / out.length).toBeGreaterThan(0.26);
    expect(zeros / out.length).toBeLessThan(0.34);
    for (const v of out) if (v !== 0) expect(v).toBeCloseTo(1 / 0.7, 5);

    mg.manualSeed(4);
    expect(await values(drop.forward(mg.ones([4000])))).toEqual(out);
    drop.eval();
    expect(await values(drop.forward(mg.ones([10])))).toEqual(new Array(10).fill(1));
    expect(() => new nn.Dropout(1.5)).toThrow(/p must be in \[0, 1\], got 1.5/);
  });

  it('Flatten keeps the batch axis', () => {
    expect(new nn.Flatten().forward(mg.zeros([2, 3, 4, 5])).shape).toEqual([2, 60]);
  });
});

describe('BatchNorm', () => {
  for (const [key, Layer] of [
    ['batchnorm2d', nn.BatchNorm2d],
    ['batchnorm1d', nn.BatchNorm1d],
    ['batchnorm1d3d', nn.BatchNorm1d],
  ] as const) {
    it(`${key} matches PyTorch in train and eval`, async () => {
      const c = fixture[key];
      const layer = new Layer(c.numFeatures, { momentum: c.momentum, eps: c.eps });
      setParam(layer, 'weight', c.weight);
      setParam(layer, 'bias', c.bias);

      for (const step of c.train) {
        const x = mg.tensor(step.x, { shape: step.shape, requiresGrad: true });
        const y = layer.forward(x);
        expectClose(await values(y), step.y, { atol: 1e-4 });
        const v = mg.tensor(step.v, { shape: step.shape });
        const [gx, gw, gb] = mg.grad(y.mul(v).sum(), [
          x,
          layer.param('weight'),
          layer.param('bias'),
        ]);
        expectClose(await values(gx!), step.gradX, { atol: 1e-4 });
        expectClose(await values(gw!), step.gradWeight, { atol: 1e-4 });
        expectClose(await values(gb!), step.gradBias, { atol: 1e-4 });
        expectClose(await values(layer.buffer('running_mean')), step.runningMean, { atol: 1e-5 });
        expectClose(await values(layer.buffer('running_var')), step.runningVar, { atol: 1e-5 });
        expect(await layer.buffer('num_batches_tracked').item()).toBe(step.numBatchesTracked);
      }

      layer.eval();
      const y = layer.forward(mg.tensor(c.eval.x, { shape: c.eval.shape }));
      expectClose(await values(y), c.eval.y, { atol: 1e-4 });
    });
  }

  it('backward works to second order', async () => {
    const bn = new nn.BatchNorm2d(2);
    const x = mg.tensor(Float32Array.from(randomArray(3 * 2 * 2 * 2, 7, -2, 2)), {
      shape: [3, 2, 2, 2],
      requiresGrad: true,
    });
    await mg.gradgradcheck(
      (xi, w) => mg.functionalCall(bn, { weight: w }, xi),
      [x, mg.tensor([1.5, -0.5], { requiresGrad: true })],
    );
  });

  it('rejects a wrong channel count and a single value per channel', () => {
    expect(() => new nn.BatchNorm2d(3).forward(mg.zeros([2, 4, 2, 2]))).toThrow(
      /BatchNorm2d: expected input of rank 4 with 3 channels on axis 1, got shape \[2, 4, 2, 2\]/,
    );
    expect(() => new nn.BatchNorm1d(3).forward(mg.zeros([1, 3]))).toThrow(
      /more than one value per channel/,
    );
  });
});

describe('LSTMCell', () => {
  const c = fixture.lstmCell;

  function cellFromFixture(): mg.nn.LSTMCell {
    const cell = new nn.LSTMCell(3, 4);
    for (const name of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'])
      setParam(cell, name, c.values[name]);
    return cell;
  }

  it('matches PyTorch outputs and gradients', async () => {
    const cell = cellFromFixture();
    const x = mg.tensor(c.values.x, { shape: [2, 3], requiresGrad: true });
    const h = mg.tensor(c.values.h, { shape: [2, 4], requiresGrad: true });
    const cs = mg.tensor(c.values.c, { shape: [2, 4], requiresGrad: true });
    const [h1, c1] = cell.forward(x, [h, cs]);
    expectClose(await values(h1), c.h1);
    expectClose(await values(c1), c.c1);

    const a = mg.tensor(c.a, { shape: [2, 4] });
    const b = mg.tensor(c.b, { shape: [2, 4] });
    const loss = h1.mul(a).add(c1.mul(b)).sum();
    const names = ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'];
    const grads = mg.grad(loss, [x, h, cs, ...names.map((n) => cell.param(n))]);
    const expected = ['x', 'h', 'c', ...names].map((n) => c.grads[n]);
    for (let i = 0; i < grads.length; i++) expectClose(await values(grads[i]!), expected[i]);
  });

  it('backward works to second order', async () => {
    mg.manualSeed(5);
    const cell = new nn.LSTMCell(2, 3);
    const x = mg.tensor(Float32Array.from(randomArray(4, 8)), {
      shape: [2, 2],
      requiresGrad: true,
    });
    const w = mg.tensor(Float32Array.from(randomArray(24, 9, -0.5, 0.5)), {
      shape: [12, 2],
      requiresGrad: true,
    });
    await mg.gradgradcheck((xi, wi) => mg.functionalCall(cell, { weight_ih: wi }, xi)[0], [x, w]);
  });

  it('starts from a zero state and checks state shapes', () => {
    const cell = cellFromFixture();
    const [h] = cell.forward(mg.zeros([5, 3]));
    expect(h.shape).toEqual([5, 4]);
    expect(() => cell.forward(mg.zeros([2, 3]), [mg.zeros([2, 5]), mg.zeros([2, 4])])).toThrow(
      /state h has shape \[2, 5\], expected \[2, 4\]/,
    );
  });
});
