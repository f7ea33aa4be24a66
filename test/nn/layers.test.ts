import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('survives construction inside tidy', async () => {
    const model = mg.tidy(() => new nn.Sequential(new nn.Linear(2, 2), new nn.BatchNorm1d(2)));
    expect(model.stateDict().size).toBe(7);
    for (const [name, t] of model.stateDict()) expect(t.isDisposed, name).toBe(false);
    expect(model.forward(mg.ones([3, 2])).shape).toEqual([3, 2]);
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
    class Computed extends nn.Module {
      constructor() {
        super();
        this.registerParameter('w', mg.ones([2], { requiresGrad: true }).mul(2));
      }
      forward(x: mg.Tensor): mg.Tensor {
        return x;
      }
    }
    expect(() => new Computed()).toThrow(/registerParameter\(w\): parameters must be leaf tensors/);
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
    expect(() => layer.param('weights')).toThrow(
      /Linear: no parameter named "weights"; its parameters are weight, bias/,
    );
    expect(() => layer.buffer('running_mean')).toThrow(
      /no buffer named "running_mean"; its buffers are none/,
    );
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

/** Float64 direct convolution of x [N, C, H, W] with w [O, C / groups, kh, kw]. */
function convReference(
  x: Float64Array,
  xShape: number[],
  w: Float64Array,
  wShape: number[],
  bias: Float64Array | null,
  stride: number,
  padding: number,
  groups: number,
): { y: Float64Array; shape: number[] } {
  const [n, c, h, wd] = xShape;
  const [o, cg, kh, kw] = wShape;
  const oh = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const ow = Math.floor((wd + 2 * padding - kw) / stride) + 1;
  const y = new Float64Array(n * o * oh * ow);
  const perGroup = o / groups;
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let acc = bias ? bias[oc] : 0;
          const g = Math.floor(oc / perGroup);
          for (let ic = 0; ic < cg; ic++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const hi = i * stride - padding + u;
                const wi = j * stride - padding + v;
                if (hi < 0 || hi >= h || wi < 0 || wi >= wd) continue;
                acc +=
                  x[((b * c + g * cg + ic) * h + hi) * wd + wi] *
                  w[((oc * cg + ic) * kh + u) * kw + v];
              }
          y[((b * o + oc) * oh + i) * ow + j] = acc;
        }
  return { y, shape: [n, o, oh, ow] };
}

describe('Conv2d and pooling layers', () => {
  it('Conv2d matches a float64 reference with stride, padding and groups', async () => {
    mg.manualSeed(13);
    const layer = new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 });
    const w = Float64Array.from(await layer.param('weight').data());
    const b = Float64Array.from(await layer.param('bias').data());
    const x = randomArray(2 * 4 * 7 * 5, 14);
    const expected = convReference(x, [2, 4, 7, 5], w, [6, 2, 3, 3], b, 2, 1, 2);
    const y = layer.forward(mg.tensor(Float32Array.from(x), { shape: [2, 4, 7, 5] }));
    expect(y.shape).toEqual(expected.shape);
    expectClose(await values(y), expected.y);
  });

  it('Conv2d initialises in +-1/sqrt(fan_in)', async () => {
    mg.manualSeed(15);
    const layer = new nn.Conv2d(6, 9, [3, 2], { groups: 3, bias: true });
    expect(layer.param('weight').shape).toEqual([9, 2, 3, 2]);
    const bound = 1 / Math.sqrt(2 * 3 * 2);
    for (const name of ['weight', 'bias']) {
      const v = await values(layer.param(name));
      expect(Math.max(...v.map(Math.abs)), name).toBeLessThanOrEqual(bound);
    }
    expect(new nn.Conv2d(2, 2, 1, { bias: false }).namedParameters().map(([n]) => n)).toEqual([
      'weight',
    ]);
    expect(() => new nn.Conv2d(3, 4, 3, { groups: 2 })).toThrow(
      /groups = 2 must divide inChannels \(3\)/,
    );
  });

  it('Conv2d backward works to second order', async () => {
    mg.manualSeed(16);
    const layer = new nn.Conv2d(2, 2, 2, { padding: 1 });
    const x = mg.tensor(Float32Array.from(randomArray(2 * 2 * 3 * 3, 17)), {
      shape: [2, 2, 3, 3],
      requiresGrad: true,
    });
    const w = mg.tensor(Float32Array.from(randomArray(16, 18)), {
      shape: [2, 2, 2, 2],
      requiresGrad: true,
    });
    // tanh makes the function non-linear in w, so the second derivative is not trivially zero.
    await mg.gradgradcheck(
      (xi, wi) => mg.tanh(mg.functionalCall(layer, { weight: wi }, xi)),
      [x, w],
    );
  });

  it('MaxPool2d and AvgPool2d match float64 references', async () => {
    const x = randomArray(2 * 3 * 5 * 4, 19);
    const t = mg.tensor(Float32Array.from(x), { shape: [2, 3, 5, 4] });
    const maxOut: number[] = [];
    const avgOut: number[] = [];
    // 2x2 windows with stride 2 over 5x4: the last row is dropped, as PyTorch does.
    for (let plane = 0; plane < 6; plane++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++) {
          const window = [0, 1].flatMap((u) =>
            [0, 1].map((v) => x[plane * 20 + (2 * i + u) * 4 + 2 * j + v]),
          );
          maxOut.push(Math.max(...window));
          avgOut.push(window.reduce((s, v) => s + v, 0) / 4);
        }
    const maxY = new nn.MaxPool2d(2).forward(t);
    expect(maxY.shape).toEqual([2, 3, 2, 2]);
    expectClose(await values(maxY), maxOut);
    expectClose(await values(new nn.AvgPool2d(2).forward(t)), avgOut);
  });
});

describe('LSTMCell checkpoint', () => {
  it('saves and loads its four tensors', async () => {
    mg.manualSeed(20);
    const cell = new nn.LSTMCell(2, 3);
    const path = join(await mkdtemp(join(tmpdir(), 'metagrad-lstm-')), 'cell.safetensors');
    await mg.saveModule(path, cell);
    const { tensors } = await mg.loadSafetensors(path);
    expect([...tensors.keys()]).toEqual(['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']);
    const other = new nn.LSTMCell(2, 3);
    await mg.loadModule(path, other);
    expect(await values(other.param('weight_hh'))).toEqual(await values(cell.param('weight_hh')));
  });
});
