import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { convNet4 } from '../../engine/nn/models';
import { Maml } from '../../algorithms/meta/maml';
import { functionalView } from '../../engine/nn/module';
import type { Task } from '../../algorithms/meta/functional';
import { expectClose } from '../helpers';

// The second-order MAML meta-gradient of the 4-block conv net with BatchNorm, for a
// meta-batch of 2 tasks and 2 inner steps, against PyTorch float64 values made by
// test/fixtures/make_maml.py.
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/maml.json', import.meta.url), 'utf8'),
).conv;

function model() {
  const net = convNet4({ hidden: fixture.hidden, outFeatures: fixture.ways });
  const state = new Map<string, mg.Tensor>();
  for (const name of fixture.names as string[])
    state.set(name, mg.tensor(fixture.params[name], { shape: fixture.shapes[name] }));
  // Running statistics are not used: the forward passes run in training mode.
  for (const [name, buffer] of net.namedBuffers()) state.set(name, buffer);
  net.loadStateDict(state);
  return net;
}

function tasks(): Task[] {
  const { ways, shots, queries } = fixture;
  return fixture.tasks.map((t: { sx: number[]; qx: number[]; sy: number[]; qy: number[] }) => ({
    supportX: mg.tensor(t.sx, { shape: [ways * shots, 1, 28, 28] }),
    supportY: mg.tensor(Int32Array.from(t.sy)),
    queryX: mg.tensor(t.qx, { shape: [ways * queries, 1, 28, 28] }),
    queryY: mg.tensor(Int32Array.from(t.qy)),
  }));
}

const crossEntropy = (logits: mg.Tensor, labels: mg.Tensor) => mg.crossEntropy(logits, labels);

describe('MAML meta-gradient on the conv net with BatchNorm, against PyTorch float64', () => {
  for (const [name, firstOrder, expected] of [
    ['second order', false, fixture.second_order],
    ['first order', true, fixture.first_order],
  ] as const) {
    it(name, async () => {
      const net = model();
      const maml = new Maml(functionalView(net), crossEntropy, {
        innerSteps: fixture.steps,
        innerLr: fixture.inner_lr,
        firstOrder,
      });
      const { loss, grads } = mg.tidy(() => maml.metaGradient(tasks()));
      expect(await loss.item()).toBeCloseTo(expected.loss, 4);
      for (const param of fixture.names as string[]) {
        const values = await grads.get(param)!.data();
        const reference: number[] = expected.grads[param];
        const scale = Math.max(...reference.map(Math.abs));
        expectClose(values, reference, { atol: 1e-3 * scale + 1e-6, rtol: 1e-2 });
      }
    });
  }

  it('first- and second-order gradients differ by more than the tolerance', () => {
    let largest = 0;
    for (const param of fixture.names as string[]) {
      const first: number[] = fixture.first_order.grads[param];
      const second: number[] = fixture.second_order.grads[param];
      const scale = Math.max(...second.map(Math.abs));
      for (let i = 0; i < first.length; i++)
        largest = Math.max(largest, Math.abs(first[i] - second[i]) / scale);
    }
    expect(largest).toBeGreaterThan(0.05);
  });
});
