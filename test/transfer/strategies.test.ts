import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { BlockNet } from '../../algorithms/transfer/backbone';
import {
  applyLearningRates,
  fineTune,
  planEpoch,
  unitOptimizer,
  type Strategy,
} from '../../algorithms/transfer/finetune';
import {
  ContrastiveModel,
  MocoKeys,
  momentumUpdate,
  pretrain,
} from '../../algorithms/transfer/contrastive';
import type { LabelledImages } from '../../data/fashion-mnist';
import { Rng } from '../../data/rng';

// Each fine-tuning strategy changes exactly the parameters it claims; gradual
// unfreezing follows its schedule; MoCo's key encoder follows its momentum
// update and never receives a gradient.

const UNITS = ['block0', 'block1', 'block2', 'head'];
const options = { frozenBlocks: 2, lrDecay: 0.5 };

function images(count: number, seed: number, channels = 1): LabelledImages {
  const rng = new Rng(seed);
  const size = channels * 8 * 8;
  return {
    store: {
      channels,
      height: 8,
      width: 8,
      pixels: Uint8Array.from({ length: count * size }, () => rng.int(256)),
    },
    labels: Int32Array.from({ length: count }, (_, i) => i % 3),
  };
}

function model(): BlockNet {
  return new BlockNet({ kind: 'mlp', imageShape: [1, 8, 8], widths: [6, 5, 4], outFeatures: 3 });
}

async function snapshot(net: BlockNet): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, p] of net.namedParameters()) out.set(name, (await p.data()) as Float32Array);
  return out;
}

async function changedUnits(strategy: Strategy, epochs: number): Promise<string[]> {
  mg.manualSeed(1);
  const net = model();
  const before = await snapshot(net);
  await fineTune(net, images(12, 2), {
    ...options,
    strategy,
    epochs,
    stepsPerEpoch: 2,
    batchSize: 6,
    lr: 0.01,
    weightDecay: 0,
    seed: 3,
  });
  const after = await snapshot(net);
  const changed = new Set<string>();
  for (const [name, values] of before) {
    const now = after.get(name)!;
    if (values.some((v, i) => v !== now[i])) changed.add(name.split('.')[0]);
  }
  return UNITS.filter((unit) => changed.has(unit));
}

describe('fine-tuning strategies', () => {
  it('plans the gradual unfreezing schedule', () => {
    const trainable = (epoch: number) =>
      planEpoch('gradual', UNITS, epoch, options)
        .filter((u) => u.trainable)
        .map((u) => u.name);
    expect(trainable(0)).toEqual(['head']);
    expect(trainable(1)).toEqual(['block2', 'head']);
    expect(trainable(2)).toEqual(['block1', 'block2', 'head']);
    expect(trainable(3)).toEqual(UNITS);
    expect(trainable(7)).toEqual(UNITS);
  });

  it('scales discriminative learning rates', () => {
    const plan = planEpoch('discriminative', UNITS, 0, options);
    expect(plan.map((u) => u.lrScale)).toEqual([0.125, 0.25, 0.5, 1]);
    const optimizer = unitOptimizer(model(), 0.01);
    applyLearningRates(optimizer, plan, 0.01);
    expect(optimizer.paramGroups.map((g) => g.lr)).toEqual([0.00125, 0.0025, 0.005, 0.01]);
  });

  it('rejects a partial freeze beyond the blocks', () => {
    expect(() => planEpoch('partial', UNITS, 0, { ...options, frozenBlocks: 4 })).toThrow(
      '--frozen-blocks 4 is invalid; use an integer from 0 to 3',
    );
  });

  it('full updates every unit', async () => {
    expect(await changedUnits('full', 1)).toEqual(UNITS);
  });

  it('linear updates only the head', async () => {
    expect(await changedUnits('linear', 2)).toEqual(['head']);
  });

  it('partial leaves the first blocks', async () => {
    expect(await changedUnits('partial', 1)).toEqual(['block2', 'head']);
  });

  it('discriminative updates every unit', async () => {
    expect(await changedUnits('discriminative', 1)).toEqual(UNITS);
  });

  it('gradual updates the top units by epoch', async () => {
    expect(await changedUnits('gradual', 1)).toEqual(['head']);
    expect(await changedUnits('gradual', 2)).toEqual(['block2', 'head']);
  });

  it('frozen parameters get no gradient', () => {
    const net = model();
    for (const [name, p] of net.namedParameters())
      if (!name.startsWith('head')) p.requiresGrad_(false);
    const x = mg.rand([4, 1, 8, 8]);
    mg.backward(mg.sum(net.forward(x)));
    for (const [name, p] of net.namedParameters())
      expect(p.grad === null, name).toBe(!name.startsWith('head'));
  });
});

describe('MoCo key encoder', () => {
  const backbone = {
    kind: 'mlp' as const,
    imageShape: [1, 8, 8] as [number, number, number],
    widths: [6],
  };

  it('follows the momentum update', async () => {
    mg.manualSeed(4);
    const query = new ContrastiveModel(backbone, 4);
    const keys = new MocoKeys(query, backbone, 4, 8);
    // Move the query away from the key encoder, then average with m = 0.9.
    const shifted = new Map(
      query.namedParameters().map(([name, p]) => [name, mg.noGrad(() => mg.add(p, 1))]),
    );
    query.loadStateDict(shifted, { strict: false });
    const keyBefore = await (keys.encoder.namedParameters()[0][1].data() as Promise<Float32Array>);
    const queryNow = await (query.namedParameters()[0][1].data() as Promise<Float32Array>);
    momentumUpdate(keys.encoder, query, 0.9);
    const keyAfter = (await keys.encoder.namedParameters()[0][1].data()) as Float32Array;
    const expected = Array.from(keyBefore, (k, i) => 0.9 * k + 0.1 * queryNow[i]);
    keyAfter.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it('trains the query and never the keys', async () => {
    mg.manualSeed(5);
    const query = new ContrastiveModel(backbone, 4);
    const keys = new MocoKeys(query, backbone, 4, 8);
    const queueBefore = (await keys.queue.data()) as Float32Array;
    const { optimizer } = await pretrain(
      query,
      images(16, 6),
      {
        method: 'moco',
        steps: 2,
        batchSize: 4,
        lr: 0.01,
        temperature: 0.2,
        momentum: 0.99,
        queueSize: 8,
        seed: 1,
      },
      keys,
    );
    expect(optimizer.paramGroups[0].params.length).toBe(query.parameters().length);
    for (const p of keys.encoder.parameters()) {
      expect(p.requiresGrad).toBe(false);
      expect(p.grad).toBeNull();
    }
    for (const p of query.parameters()) expect(p.grad).not.toBeNull();
    // Two steps of 4 keys each shifted the queue by 8: none of the initial rows remain.
    const queueAfter = (await keys.queue.data()) as Float32Array;
    expect(queueAfter.slice(0, 4)).not.toEqual(queueBefore.slice(0, 4));
    let norm = 0;
    for (let d = 0; d < 4; d++) norm += queueAfter[d] ** 2;
    expect(norm).toBeCloseTo(1, 4);
  });
});
