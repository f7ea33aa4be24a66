// mg.recordTape, which the second-order gradient explorer draws the tape from.

import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import type { Node } from '../../index';

describe('recordTape', () => {
  it('lists nodes in tape order', () => {
    const x = mg.tensor([1, 2, 3], { requiresGrad: true });
    const nodes: Node[] = [];
    const y = mg.recordTape(
      () => x.mul(2).tanh().sum(),
      (node) => nodes.push(node),
    );
    expect(nodes.map((node) => node.op)).toEqual(['mul_scalar', 'tanh', 'sum']);
    expect(nodes[0].inputs[0]).toBe(x);
    expect(nodes[1].inputs[0]).toBe(nodes[0].output);
    expect(nodes[2].output).toBe(y);
    expect(nodes.map((node) => [...node.output.shape])).toEqual([[3], [3], []]);
    const ids = nodes.map((node) => node.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    for (const t of [x, y, ...nodes.map((node) => node.output)]) t.dispose();
  });

  it('records a createGraph backward pass', () => {
    const x = mg.tensor([0.5, -1], { requiresGrad: true });
    const y = x.tanh().sum();
    const nodes: Node[] = [];
    const [first] = mg.recordTape(
      () => mg.grad(y, x, { createGraph: true }),
      (node) => nodes.push(node),
    );
    expect(nodes.length).toBeGreaterThan(0);
    expect(first!.node).toBe(nodes[nodes.length - 1]);
    for (const t of [x, y, first!]) t.dispose();
  });

  it('skips ops that need no gradient', () => {
    const x = mg.tensor([1, 2], { requiresGrad: true });
    const constant = mg.tensor([3, 4]);
    const nodes: Node[] = [];
    mg.recordTape(
      () => {
        mg.noGrad(() => x.mul(2)).dispose();
        constant.mul(2).dispose();
        mg.grad(mg.mul(x, x).sum(), x)[0]!.dispose();
      },
      (node) => nodes.push(node),
    );
    // Only the forward ops of x * x summed; a grad without createGraph records nothing.
    expect(nodes.map((node) => node.op)).toEqual(['mul', 'sum']);
    for (const t of [x, constant]) t.dispose();
  });

  it('stops calling the listener after fn', () => {
    const x = mg.tensor([1], { requiresGrad: true });
    const nodes: Node[] = [];
    mg.recordTape(
      () => x.exp().dispose(),
      (node) => nodes.push(node),
    );
    x.exp().dispose();
    expect(nodes).toHaveLength(1);
    x.dispose();
  });
});
