// mg.profile: dispatch counts and GPU time per op and kernel entry point.

import { describe, expect, it } from 'vitest';
import * as mg from '../../index';

describe('profile', () => {
  it('reports ops with positive times', async () => {
    await mg.init();
    const x = mg.randn([8, 3, 12, 12]);
    const w = mg.randn([16, 3, 3, 3]);
    const before = mg.dispatchCount();
    const { result, profile } = await mg.profile(async () => {
      const y = mg.tidy(() => mg.conv2d(x, w, undefined, { padding: 1 }).relu().sum());
      return y.item();
    });
    expect(Number.isFinite(result)).toBe(true);
    expect(profile.timing).toBe('timestamp-query');
    expect(profile.dispatches).toBe(mg.dispatchCount() - before);
    const ops = profile.byOp.map((row) => row.op);
    expect(ops).toEqual(expect.arrayContaining(['conv2d', 'relu', 'sum']));
    for (const row of profile.rows) {
      expect(row.dispatches).toBeGreaterThan(0);
      expect(row.gpuMs).toBeGreaterThan(0);
    }
    const conv = profile.rows.filter((row) => row.op === 'conv2d');
    expect(conv.map((row) => row.kernel)).toEqual(
      expect.arrayContaining(['conv_packed.pad_columns', 'conv_packed.pack_weights']),
    );
    expect(profile.gpuMs).toBeCloseTo(
      profile.rows.reduce((s, row) => s + row.gpuMs!, 0),
      6,
    );
    expect(profile.gpuMs!).toBeLessThan(profile.wallMs * 1.5);
    expect(profile.format()).toContain('conv2d (conv_packed.pad_columns)');
    x.dispose();
    w.dispose();
  });

  it('rejects a nested profile', async () => {
    const inner = mg.profile(() => mg.profile(() => 1));
    await expect(inner).rejects.toThrow(/profiles do not nest/);
    // After the failed nesting, a new profile starts cleanly and counts only its own work.
    const { profile } = await mg.profile(() => mg.tidy(() => mg.ones([4]).add(1)).data());
    expect(profile.byOp.map((row) => row.op)).toEqual(expect.arrayContaining(['add_scalar']));
    expect(profile.dispatches).toBeLessThan(5);
  });
});
