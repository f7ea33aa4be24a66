import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { expectClose } from '../helpers';

const { optim } = mg;

interface OptimizerCase {
  options: {
    kind: 'SGD' | 'Adam' | 'AdamW';
    lr: number;
    momentum?: number;
    dampening?: number;
    nesterov?: boolean;
    weightDecay?: number;
    beta1?: number;
    beta2?: number;
    eps?: number;
    groups?: { lr?: number; weightDecay?: number }[];
  };
  steps: { w: number[]; b: number[] }[];
}
interface ClipCase {
  norm: number | null;
  grads: number[][];
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8'),
) as {
  problem: { x: number[]; y: number[]; w0: number[]; b0: number[] };
  optimizers: Record<string, OptimizerCase>;
  schedules: Record<string, number[]>;
  clipping: { grads: number[][]; shapes: number[][] } & Record<string, ClipCase>;
};

const { problem } = fixture;
const X = mg.keep(mg.tensor(problem.x, { shape: [8, 3] }));
const Y = mg.keep(mg.tensor(problem.y, { shape: [8, 4] }));

/** Computes the fixture's loss: mean squared residual plus 0.1 sum(w^4). */
function loss(w: mg.Tensor, b: mg.Tensor): mg.Tensor {
  const r = X.matmul(w).add(b).sub(Y);
  return r.mul(r).mean().add(w.pow(4).sum().mul(0.1));
}

function makeOptimizer(
  c: OptimizerCase,
  w: mg.Tensor,
  b: mg.Tensor,
): mg.optim.Optimizer<mg.optim.GroupOptions> {
  const { kind, groups, ...options } = c.options;
  const params = groups ? groups.map((g, i) => ({ params: [[w, b][i]], ...g })) : [w, b];
  if (kind === 'SGD') return new optim.SGD(params, options);
  if (kind === 'Adam') return new optim.Adam(params, options);
  return new optim.AdamW(params, options);
}

function freshParams(): [mg.Tensor, mg.Tensor] {
  return [
    mg.tensor(problem.w0, { shape: [3, 4], requiresGrad: true }),
    mg.tensor(problem.b0, { shape: [4], requiresGrad: true }),
  ];
}

describe('optimizers', () => {
  for (const [name, c] of Object.entries(fixture.optimizers)) {
    it(`${name} follows PyTorch for 10 steps`, async () => {
      const [w, b] = freshParams();
      const opt = makeOptimizer(c, w, b);
      for (const [i, expected] of c.steps.entries()) {
        opt.zeroGrad();
        mg.tidy(() => loss(w, b).backward());
        opt.step();
        const context = `${name} step ${i + 1}`;
        expect(w.isLeaf, context).toBe(true);
        expectClose(await w.data(), expected.w, { atol: 2e-5, rtol: 2e-4 });
        expectClose(await b.data(), expected.b, { atol: 2e-5, rtol: 2e-4 });
      }
    });
  }

  it('keeps its state when stepped inside tidy', async () => {
    const c = fixture.optimizers.adamw;
    const [w, b] = freshParams();
    const opt = makeOptimizer(c, w, b);
    for (const [i, expected] of c.steps.entries()) {
      // The whole step in one scope, as a training loop writes it.
      mg.tidy(() => {
        loss(w, b).backward();
        opt.step();
        opt.zeroGrad();
      });
      expectClose(await w.data(), expected.w, { atol: 2e-5, rtol: 2e-4 });
      if (i === 2) break;
    }
  });

  it('stateDict and loadStateDict resume a run', async () => {
    const c = fixture.optimizers.adamw;
    const run = (o: mg.optim.Optimizer<mg.optim.GroupOptions>, wi: mg.Tensor, bi: mg.Tensor) => {
      o.zeroGrad();
      mg.tidy(() => loss(wi, bi).backward());
      o.step();
    };
    const [w, b] = freshParams();
    const opt = makeOptimizer(c, w, b);
    for (let i = 0; i < 4; i++) run(opt, w, b);

    // Fresh parameters at step 4's values; one optimizer gets the saved state, one does not.
    const resume = async (restore: boolean) => {
      const wi = mg.tensor(await w.data(), { shape: [3, 4], requiresGrad: true });
      const bi = mg.tensor(await b.data(), { shape: [4], requiresGrad: true });
      const o = makeOptimizer(c, wi, bi);
      if (restore) o.loadStateDict(opt.stateDict());
      for (let i = 4; i < 10; i++) run(o, wi, bi);
      return Array.from(await wi.data());
    };
    expectClose(await resume(true), c.steps[9].w, { atol: 2e-5, rtol: 2e-4 });
    const restarted = await resume(false);

    // State loaded inside tidy stays alive after the scope.
    const [wt, bt] = freshParams();
    const inScope = makeOptimizer(c, wt, bt);
    mg.tidy(() => inScope.loadStateDict(opt.stateDict()));
    run(inScope, wt, bt);
    expect(inScope.stateDict().state.get(0)?.step).toBe(5);
    const gap = Math.max(...restarted.map((v, i) => Math.abs(v - c.steps[9].w[i])));
    expect(gap).toBeGreaterThan(1e-3);
    expect(opt.stateDict().state.get(0)?.step).toBe(4);
  });

  it('skips parameters without a gradient', async () => {
    const [w, b] = freshParams();
    const opt = new optim.SGD([w, b], { lr: 0.1 });
    mg.tidy(() => w.sum().backward());
    opt.step();
    expectClose(await b.data(), problem.b0);
    expectClose(
      await w.data(),
      problem.w0.map((v) => v - 0.1),
    );
  });

  it('rejects invalid hyperparameters', () => {
    const [w] = freshParams();
    expect(() => new optim.SGD([w], { lr: -1 })).toThrow(/SGD: group 0 has invalid lr -1/);
    expect(() => new optim.SGD([w], { lr: 0.1, nesterov: true })).toThrow(
      /Nesterov momentum needs momentum > 0/,
    );
    expect(() => new optim.Adam([w], { beta1: 1 })).toThrow(
      /invalid beta1 1; it must be in \[0, 1\)/,
    );
    expect(() => new optim.SGD([{ params: [w] }, { params: [w] }], { lr: 0.1 })).toThrow(
      /appears in more than one group/,
    );
    expect(() => new optim.SGD([], { lr: 0.1 })).toThrow(/empty parameter list/);
  });

  it('loadStateDict rejects a different layout', () => {
    const [w, b] = freshParams();
    const a = new optim.Adam([w, b]);
    const other = new optim.Adam([w]);
    expect(() => other.loadStateDict(a.stateDict())).toThrow(
      /saved group 0 has 2 parameters, expected 1/,
    );
  });
});

describe('schedules', () => {
  function lrs(make: (o: mg.optim.SGD) => mg.optim.LRScheduler, steps: number): number[] {
    const opt = new optim.SGD([mg.zeros([1], { requiresGrad: true })], { lr: 0.5 });
    const scheduler = make(opt);
    const out = [opt.paramGroups[0].lr];
    for (let i = 0; i < steps; i++) {
      opt.step();
      scheduler.step();
      out.push(scheduler.getLastLr()[0]);
    }
    return out;
  }

  it('StepLR matches PyTorch', () => {
    const expected = fixture.schedules.step;
    expectClose(
      lrs((o) => new optim.StepLR(o, { stepSize: 3, gamma: 0.5 }), expected.length - 1),
      expected,
      { atol: 1e-12 },
    );
  });

  it('LinearWarmup matches LinearLR', () => {
    const expected = fixture.schedules.linearWarmup;
    expectClose(
      lrs(
        (o) => new optim.LinearWarmup(o, { warmupSteps: 4, startFactor: 0.25 }),
        expected.length - 1,
      ),
      expected,
      { atol: 1e-12 },
    );
  });

  it('CosineAnnealing matches CosineAnnealingLR', () => {
    const expected = fixture.schedules.cosine;
    expectClose(
      lrs((o) => new optim.CosineAnnealing(o, { tMax: 8, etaMin: 0.01 }), expected.length - 1),
      expected,
      {
        atol: 1e-12,
      },
    );
  });

  it('CosineAnnealing with warmup matches SequentialLR', () => {
    const expected = fixture.schedules.warmupCosine;
    expectClose(
      lrs(
        (o) =>
          new optim.CosineAnnealing(o, {
            tMax: 7,
            etaMin: 0.01,
            warmupSteps: 3,
            warmupStartFactor: 0.2,
          }),
        expected.length - 1,
      ),
      expected,
      { atol: 1e-12 },
    );
  });

  it('scales each group from its own base lr', () => {
    const opt = new optim.SGD(
      [
        { params: [mg.zeros([1], { requiresGrad: true })] },
        { params: [mg.zeros([1], { requiresGrad: true })], lr: 0.01 },
      ],
      { lr: 0.1 },
    );
    const scheduler = new optim.StepLR(opt, { stepSize: 1, gamma: 0.5 });
    scheduler.step();
    expectClose(scheduler.getLastLr(), [0.05, 0.005], { atol: 1e-12 });
    expect(() => new optim.StepLR(opt, { stepSize: 0 })).toThrow(
      /stepSize must be a positive integer, got 0/,
    );
  });
});

describe('clipping', () => {
  const { clipping } = fixture;

  function params(): mg.Tensor[] {
    return clipping.grads.map((g, i) => {
      const p = mg.zeros(clipping.shapes[i], { requiresGrad: true });
      p.grad = mg.tensor(g, { shape: clipping.shapes[i] });
      return p;
    });
  }

  for (const [key, maxNorm, normType] of [
    ['norm2', 1, 2],
    ['norm3', 2, 3],
    ['normInf', 1.5, Infinity],
    ['normLarge', 100, 2],
  ] as const) {
    it(`clipGradNorm ${key} matches PyTorch`, async () => {
      const ps = params();
      const norm = optim.clipGradNorm(ps, maxNorm, normType);
      expect(await norm.item()).toBeCloseTo(clipping[key].norm!, 4);
      for (const [i, p] of ps.entries()) expectClose(await p.grad!.data(), clipping[key].grads[i]);
    });
  }

  it('clipped gradients outlive tidy', async () => {
    const ps = params();
    const before = mg.memory().tensors;
    const norm = mg.tidy(() => optim.clipGradNorm(ps, 1));
    optim.clipGradValue(ps, 0.1);
    for (const p of ps) expect(p.grad!.isDisposed).toBe(false);
    expect(await norm.item()).toBeCloseTo(clipping.norm2.norm!, 4);
    // Only the returned norm remains; the partial sums are freed.
    expect(mg.memory().tensors).toBe(before + 1);
  });

  it('clips a gradient that two parameters share', async () => {
    // The backward of a + b hands one gradient tensor to both a and b.
    const a = mg.tensor([3, 4], { requiresGrad: true });
    const b = mg.tensor([1, 1], { requiresGrad: true });
    mg.sum(mg.mul(mg.add(a, b), mg.tensor([3, 4]))).backward();
    const norm = optim.clipGradNorm([a, b], 1);
    // Each gradient is [3, 4], so the total norm is sqrt(2) * 5.
    expect(await norm.item()).toBeCloseTo(Math.SQRT2 * 5, 4);
    const scale = 1 / (Math.SQRT2 * 5);
    for (const p of [a, b]) expectClose(await p.grad!.data(), [3 * scale, 4 * scale]);
    optim.clipGradValue([a, b], 0.1);
    for (const p of [a, b]) expectClose(await p.grad!.data(), [0.1, 0.1]);
  });

  it('clipGradValue matches PyTorch', async () => {
    const ps = params();
    optim.clipGradValue(ps, 0.5);
    for (const [i, p] of ps.entries()) expectClose(await p.grad!.data(), clipping.value.grads[i]);
  });

  it('rejects invalid arguments', () => {
    expect(() => optim.clipGradNorm(params(), -1)).toThrow(/maxNorm must be >= 0, got -1/);
    expect(() => optim.clipGradNorm(params(), 1, 0)).toThrow(
      /normType must be > 0 or Infinity, got 0/,
    );
  });
});
