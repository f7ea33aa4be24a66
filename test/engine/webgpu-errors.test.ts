// WebGPU validation errors, which the device reports asynchronously, come back
// as thrown errors that name the op whose batch failed.

import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { Kernel } from '../../kernels/kernel';

// The shader declares a fixed-size array of 64 floats (256 bytes), so binding a
// smaller buffer fails validation when the dispatch is recorded.
const FIXED_SIZE_SOURCE = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) i: u32) {
  out[i] = f32(i);
}
`;

describe('WebGPU errors', () => {
  it('turn into a thrown error naming the op', async () => {
    const kernel = new Kernel('fixed_size_test', FIXED_SIZE_SOURCE);
    const small = mg.zeros([4]);
    kernel.dispatch({
      op: 'deliberately_too_small',
      buffers: { out: small.buffer },
      workgroups: [1],
    });
    await expect(mg.sync()).rejects.toThrow(
      /WebGPU reported an error[\s\S]*deliberately_too_small/,
    );
  });

  it('leave the engine usable afterwards', async () => {
    const x = mg.tensor([1, 2, 3]);
    expect(Array.from(await x.mul(2).data())).toEqual([2, 4, 6]);
  });
});
