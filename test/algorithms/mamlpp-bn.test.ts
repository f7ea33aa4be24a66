import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { convNet4 } from '../../engine/nn/models';
import { functionalCall } from '../../engine/nn/module';
import { createLearner, type LearnerConfig } from '../../algorithms/meta/learners';
import { Maml } from '../../algorithms/meta/maml';
import { batchedView } from '../../algorithms/meta/batched';
import { PerStepBatchNorm } from '../../algorithms/meta/per-step-bn';
import type { ParamMap, Task } from '../../algorithms/meta/functional';
import { expectClose, randomArray } from '../helpers';

// MAML++ per-step BatchNorm: a separate scale, shift and running statistics for
// every inner step, meta-learned, used by the per-task and the batched paths
// alike, and saved in checkpoints.

const WAYS = 3;
const config: LearnerConfig = {
  innerSteps: 2,
  testInnerSteps: 3,
  innerLr: 0.1,
  metaLr: 0.01,
  iterations: 10,
  mslAnnealIterations: 5,
  firstOrderIterations: 0,
  headPrefix: 'head',
};

function net() {
  mg.manualSeed(5);
  return convNet4({ hidden: 4, outFeatures: WAYS });
}

function tasks(count: number, seed: number): Task[] {
  const images = (n: number, s: number) =>
    mg.tensor(Float32Array.from(randomArray(n * 28 * 28, s, 0, 1)), { shape: [n, 1, 28, 28] });
  const labels = (n: number) => mg.tensor(Int32Array.from({ length: n }, (_, i) => i % WAYS));
  return Array.from({ length: count }, (_, t) => ({
    supportX: images(WAYS, seed + 2 * t),
    supportY: labels(WAYS),
    queryX: images(2 * WAYS, seed + 2 * t + 1),
    queryY: labels(2 * WAYS),
  }));
}

const crossEntropy = (logits: mg.Tensor, labels: mg.Tensor) => mg.crossEntropy(logits, labels);
const dir = mkdtempSync(join(tmpdir(), 'metagrad-mamlpp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('MAML++ per-step BatchNorm', () => {
  it('each step uses its own set', async () => {
    const module = net();
    const model = new PerStepBatchNorm(module, 2);
    expect(model.params.has('features.1.weight')).toBe(false);
    expect(model.params.has('features.1.weight@0')).toBe(true);
    expect(model.params.has('features.1.bias@1')).toBe(true);
    expect(model.statistics.has('features.5.running_var@1')).toBe(true);

    const x = tasks(1, 1)[0].supportX;
    const params: ParamMap = new Map(model.params);
    // The last BatchNorm's shift reaches the output directly; earlier scales are
    // mostly normalised away by the BatchNorm layers after them.
    params.set('features.13.bias@1', mg.full([4], 0.5));
    const at0 = await model.apply(params, x, { step: 0 }).data();
    const at1 = await model.apply(params, x, { step: 1 }).data();
    // Step 0 still has the module's own initial BatchNorm weights.
    expectClose(at0, await module.forward(x).data(), { atol: 1e-6 });
    // Step 1 equals the module with step 1's shift in place of its own.
    const reference = functionalCall(module, { 'features.13.bias': mg.full([4], 0.5) }, x);
    expectClose(at1, await reference.data(), { atol: 1e-6 });
    expect(Math.max(...at0.map((v, i) => Math.abs(v - at1[i])))).toBeGreaterThan(1e-3);
    // Steps past the last trained one reuse the last set.
    expectClose(await model.apply(params, x, { step: 5 }).data(), at1, { atol: 0 });
  });

  it('batched path equals the per-task loop', async () => {
    const module = net();
    const model = new PerStepBatchNorm(module, 2);
    const batched = batchedView(module)!;
    model.attach(batched);
    const options = {
      innerSteps: 2,
      innerLr: 0.1,
      multiStepLoss: true,
      adapted: (name: string) => !name.includes('@'),
    };
    const loop = new Maml(model, crossEntropy, options);
    const batch = new Maml(model, crossEntropy, options, batched);
    const meta = tasks(3, 10);
    const stepWeights = [0.3, 0.7];
    const a = loop.metaGradient(meta, { stepWeights });
    const b = batch.metaGradient(meta, { stepWeights });
    expect(batch.canBatch(meta)).toBe(true);
    expect(await b.loss.item()).toBeCloseTo(await a.loss.item(), 5);
    for (const name of ['features.1.weight@0', 'features.1.weight@1', 'features.0.weight']) {
      const reference = await a.grads.get(name)!.data();
      const scale = Math.max(...Array.from(reference, Math.abs));
      expect(scale, `gradient of ${name}`).toBeGreaterThan(0);
      expectClose(await b.grads.get(name)!.data(), reference, { atol: 1e-4 * scale, rtol: 1e-3 });
    }
  });

  it('sets are meta-learned and checkpointed', async () => {
    const learner = createLearner('mamlpp', net(), 'classification', config);
    const state = learner.stateTensors();
    const initial = new Map<string, Float32Array | Int32Array>();
    const perStep = (name: string) => name.includes('@') && !name.startsWith('innerLr.');
    for (const [name, t] of state) if (perStep(name)) initial.set(name, await t.data());
    expect(initial.size).toBe(4 * 2 * 4); // 4 layers x 2 steps x (weight, bias, mean, var)

    await learner.trainStep(tasks(2, 20), 5);
    const trained = new Map<string, Float32Array | Int32Array>();
    for (const [name, t] of learner.stateTensors())
      if (perStep(name)) trained.set(name, await t.data());
    const change = (name: string) =>
      Math.max(...trained.get(name)!.map((v, i) => Math.abs(v - initial.get(name)![i])));
    for (const name of initial.keys()) expect(change(name), name).toBeGreaterThan(0);
    // The two steps' sets received different updates.
    const w0 = trained.get('features.5.weight@0')!;
    const w1 = trained.get('features.5.weight@1')!;
    expect(Math.max(...w0.map((v, i) => Math.abs(v - w1[i])))).toBeGreaterThan(0);
    const m0 = trained.get('features.5.running_mean@0')!;
    const m1 = trained.get('features.5.running_mean@1')!;
    expect(Math.max(...m0.map((v, i) => Math.abs(v - m1[i])))).toBeGreaterThan(0);

    const path = join(dir, 'model.safetensors');
    await mg.saveSafetensors(path, learner.stateTensors());
    const restored = createLearner('mamlpp', net(), 'classification', config);
    const { tensors } = await mg.loadSafetensors(path);
    const onDevice: ParamMap = new Map();
    for (const [name, stored] of tensors) {
      const bytes = Uint8Array.from(stored.bytes).buffer;
      const values = stored.dtype === 'I32' ? new Int32Array(bytes) : new Float32Array(bytes);
      onDevice.set(name, mg.tensor(values, { shape: stored.shape }));
    }
    restored.loadStateTensors(onDevice);
    const after = restored.stateTensors();
    for (const [name, values] of trained)
      expectClose(await after.get(name)!.data(), values, { atol: 0 });
  });
});
