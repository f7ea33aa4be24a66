import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { infoNce, ntXent } from '../../algorithms/transfer/contrastive';
import { distillationLoss, hintLoss } from '../../algorithms/transfer/distill';
import { expectClose } from '../helpers';

// NT-Xent, InfoNCE with a queue, the distillation loss and the FitNets hint
// loss against PyTorch float64 values (test/fixtures/make_transfer.py).

interface Entry {
  shape: number[];
  data: number[];
}
type Case = Record<string, Entry | number | number[]>;
const cases = JSON.parse(
  readFileSync(new URL('../fixtures/transfer.json', import.meta.url), 'utf8'),
) as Record<string, Case>;

const leaf = (entry: Entry): mg.Tensor =>
  mg.tensor(entry.data, { shape: entry.shape, requiresGrad: true });
const tolerance = { atol: 1e-5, rtol: 1e-4 };

async function expectLossAndGrads(
  loss: mg.Tensor,
  expected: number,
  inputs: [mg.Tensor, Entry][],
): Promise<void> {
  expect(await loss.item()).toBeCloseTo(expected, 5);
  const grads = mg.grad(
    loss,
    inputs.map(([t]) => t),
  );
  for (let i = 0; i < inputs.length; i++) {
    expectClose(await grads[i]!.data(), inputs[i][1].data, tolerance);
  }
}

describe('transfer losses against PyTorch', () => {
  it('NT-Xent', async () => {
    const c = cases.nt_xent;
    const z1 = leaf(c.z1 as Entry);
    const z2 = leaf(c.z2 as Entry);
    await expectLossAndGrads(ntXent(z1, z2, c.temperature as number), c.loss as number, [
      [z1, c.grad_z1 as Entry],
      [z2, c.grad_z2 as Entry],
    ]);
  });

  it('InfoNCE with a queue', async () => {
    const c = cases.info_nce;
    const q = leaf(c.q as Entry);
    const k = leaf(c.k as Entry);
    const queue = leaf(c.queue as Entry);
    const loss = infoNce(q, k, queue, c.temperature as number);
    await expectLossAndGrads(loss, c.loss as number, [[q, c.grad_q as Entry]]);
  });

  it('InfoNCE sends no gradient to keys or queue', () => {
    const c = cases.info_nce;
    const q = leaf(c.q as Entry);
    const k = leaf(c.k as Entry);
    const queue = leaf(c.queue as Entry);
    const [gk, gQueue] = mg.grad(infoNce(q, k, queue, 0.2), [k, queue], { allowUnused: true });
    expect(gk).toBeNull();
    expect(gQueue).toBeNull();
  });

  it('distillation loss', async () => {
    const c = cases.distill;
    const student = leaf(c.student as Entry);
    const teacher = mg.tensor((c.teacher as Entry).data, { shape: (c.teacher as Entry).shape });
    const labels = mg.tensor(c.labels as number[], { dtype: 'i32' });
    const loss = distillationLoss(
      student,
      teacher,
      labels,
      c.temperature as number,
      c.alpha as number,
    );
    await expectLossAndGrads(loss, c.loss as number, [[student, c.grad_student as Entry]]);
  });

  it('FitNets hint loss', async () => {
    const c = cases.hint;
    const regressed = leaf(c.regressed as Entry);
    const teacher = mg.tensor((c.teacher as Entry).data, { shape: (c.teacher as Entry).shape });
    await expectLossAndGrads(hintLoss(regressed, teacher), c.loss as number, [
      [regressed, c.grad_regressed as Entry],
    ]);
  });

  it('rejects a non-positive temperature', () => {
    const z = mg.ones([2, 3]);
    expect(() => ntXent(z, z, 0)).toThrow('--temperature 0 is invalid');
  });
});
