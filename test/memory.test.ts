// Memory stays flat over a long training loop when each step runs inside mg.tidy.

import { describe, expect, it } from 'vitest';
import * as mg from '../index';

interface Params {
  w1: mg.Tensor;
  b1: mg.Tensor;
  w2: mg.Tensor;
  b2: mg.Tensor;
}

function initParams(): Params {
  return {
    w1: mg.randn([8, 16], { std: 0.3, requiresGrad: true }),
    b1: mg.zeros([16], { requiresGrad: true }),
    w2: mg.randn([16, 1], { std: 0.3, requiresGrad: true }),
    b2: mg.zeros([1], { requiresGrad: true }),
  };
}

// One SGD step of a two-layer tanh MLP with a mean-square loss. The new
// parameters are returned (tidy keeps them); the old ones are disposed by the caller.
function trainStep(params: Params, x: mg.Tensor, y: mg.Tensor, lr: number) {
  return mg.tidy(() => {
    const hidden = x.matmul(params.w1).add(params.b1).tanh();
    const prediction = hidden.matmul(params.w2).add(params.b2);
    const loss = mg.square(prediction.sub(y)).mean();

    const list = [params.w1, params.b1, params.w2, params.b2];
    const grads = mg.grad(loss, list);
    const [w1, b1, w2, b2] = mg.noGrad(() =>
      list.map((p, i) => p.sub(grads[i]!.mul(lr)).requiresGrad_()),
    );
    return { params: { w1, b1, w2, b2 }, loss };
  });
}

describe('memory', () => {
  it('stays flat over 1000 tidy training steps', async () => {
    mg.manualSeed(7);
    const before = mg.memory().tensors;
    const x = mg.randn([32, 8]);
    const y = mg.tidy(() => x.sum(1, true).tanh());
    let params = initParams();

    let atStep100: mg.MemoryInfo | null = null;
    let firstLoss = NaN;
    let lastLoss = NaN;
    for (let step = 1; step <= 1000; step++) {
      const { params: next, loss } = trainStep(params, x, y, 0.1);
      for (const p of Object.values(params)) p.dispose();
      params = next;

      if (step === 1) firstLoss = await loss.item();
      if (step === 1000) lastLoss = await loss.item();
      loss.dispose();
      if (step === 100) {
        await mg.sync();
        atStep100 = mg.memory();
      }
    }
    await mg.sync();
    const atStep1000 = mg.memory();

    expect(atStep1000.tensors, 'live tensors at step 1000 vs 100').toBe(atStep100!.tensors);
    expect(atStep1000.bytes, 'live bytes at step 1000 vs 100').toBe(atStep100!.bytes);
    expect(atStep1000.allocatedBytes, 'pool size at step 1000 vs 100').toBe(
      atStep100!.allocatedBytes,
    );
    expect(atStep1000.tensors, 'x, y and four parameters').toBe(before + 6);
    expect(lastLoss, 'training lowers the loss').toBeLessThan(firstLoss * 0.5);
  });
});
