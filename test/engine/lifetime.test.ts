// Tensor lifetimes: tidy scopes, keep, dispose, and errors on disposed tensors.

import { describe, expect, it } from 'vitest';
import * as mg from '../../index';

describe('tidy', () => {
  it('keeps tensors returned in arrays and objects', async () => {
    const before = mg.memory().tensors;
    const result = mg.tidy(() => {
      const a = mg.tensor([1, 2]);
      const b = a.mul(3);
      const c = a.add(10);
      a.mul(a); // a temporary, freed at the end of the scope
      return { list: [b, { inner: c }], count: 2 };
    });
    const [b, wrapped] = result.list as [mg.Tensor, { inner: mg.Tensor }];

    expect(mg.memory().tensors, 'only b and c survive').toBe(before + 2);
    expect(result.count).toBe(2);
    expect(Array.from(await b.data())).toEqual([3, 6]);
    expect(Array.from(await wrapped.inner.data())).toEqual([11, 12]);
    b.dispose();
    wrapped.inner.dispose();
    expect(mg.memory().tensors).toBe(before);
  });

  it('keeps tensors in a Map', async () => {
    const map = mg.tidy(() => new Map([['x', mg.ones([3])]]));
    expect(Array.from(await map.get('x')!.data())).toEqual([1, 1, 1]);
    map.get('x')!.dispose();
  });

  it('passes returned tensors to the enclosing scope', () => {
    const before = mg.memory().tensors;
    let inner: mg.Tensor | null = null;
    mg.tidy(() => {
      inner = mg.tidy(() => mg.zeros([2]).add(1));
      expect(inner.isDisposed).toBe(false);
    });
    expect(inner!.isDisposed, 'the outer scope frees it').toBe(true);
    expect(mg.memory().tensors).toBe(before);
  });

  it('spares tensors passed to keep', async () => {
    let kept: mg.Tensor | null = null;
    let dropped: mg.Tensor | null = null;
    mg.tidy(() => {
      kept = mg.keep(mg.full([2], 5));
      dropped = mg.full([2], 6);
    });
    expect(kept!.isDisposed).toBe(false);
    expect(dropped!.isDisposed).toBe(true);
    expect(Array.from(await kept!.data())).toEqual([5, 5]);
    kept!.dispose();
  });

  it('disposes temporaries when fn throws', () => {
    const before = mg.memory().tensors;
    expect(() =>
      mg.tidy(() => {
        mg.ones([4]).mul(2);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(mg.memory().tensors).toBe(before);
  });

  it('rejects an async function', async () => {
    expect(() => mg.tidy(async () => mg.ones([1]))).toThrow(/Promise/);
  });
});

describe('dispose', () => {
  it('is harmless twice and frees the bytes', () => {
    const before = mg.memory();
    const t = mg.zeros([1000]);
    expect(mg.memory().bytes).toBeGreaterThanOrEqual(before.bytes + 4000);
    t.dispose();
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(mg.memory().bytes).toBe(before.bytes);
    expect(mg.memory().tensors).toBe(before.tensors);
  });

  it('makes later use an error naming the op and tensor', async () => {
    const t = mg.tensor([1, 2, 3]);
    t.dispose();
    expect(() => t.add(1)).toThrow(/add_scalar.*id \d+, shape \[3\].*disposed/);
    expect(() => mg.matmul(mg.ones([1, 3]), t.reshape(3, 1))).toThrow(/disposed/);
    await expect(t.data()).rejects.toThrow(/was disposed/);
  });

  it('keeps a view alive when the source is disposed', async () => {
    const t = mg.tensor([1, 2, 3, 4]);
    const view = t.reshape(2, 2);
    t.dispose();
    expect(await view.array()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    view.dispose();
  });
});
