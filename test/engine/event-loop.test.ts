import { describe, expect, it } from 'vitest';
import * as mg from '../../index';

// Dawn in Node crashes when tens of thousands of dispatches are queued while the
// event loop never turns, so the runtime throws a clear error first.
describe('dispatches per event-loop turn', () => {
  function chain(x: mg.Tensor, length: number): mg.Tensor {
    let y = x;
    for (let i = 0; i < length; i++) {
      const next = y.add(1);
      if (y !== x) y.dispose();
      y = next;
    }
    return y;
  }

  it('throws, naming the fix, past the limit', async () => {
    await mg.yieldEventLoop();
    const x = mg.zeros([1]);
    expect(() => chain(x, 40_000)).toThrow(
      /30000 GPU dispatches were queued without the event loop turning.*await mg.yieldEventLoop\(\)/,
    );
  });

  it('allows long loops that yield', async () => {
    await mg.yieldEventLoop();
    let y = mg.zeros([1]);
    for (let round = 0; round < 4; round++) {
      const next = chain(y, 10_000);
      y.dispose();
      y = next;
      await mg.yieldEventLoop();
    }
    expect(await y.item()).toBe(40_000);
  });

  it('runs a long backward pass with backwardAsync', async () => {
    await mg.yieldEventLoop();
    const x = mg.full([1], 1, { requiresGrad: true });
    // 40,000 multiplications by 1, built in chunks with turns between them; the
    // backward pass queues one multiplication per node, past the per-turn limit.
    await mg.tidyAsync(async () => {
      let y = x;
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 10_000; i++) y = mg.mul(y, 1);
        await mg.yieldEventLoop();
      }
      expect(() => mg.grad(y, [x], { retainGraph: true })).toThrow(
        /without the event loop turning/,
      );
      await mg.yieldEventLoop();
      await mg.backwardAsync(y);
    });
    expect(await x.grad!.item()).toBe(1);
    expect(mg.memory().tensors).toBeLessThan(10);
  });
});
