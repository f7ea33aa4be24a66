import { describe, expect, it } from 'vitest';
import * as mg from '../../index';
import { gpuDevice } from '../../kernels/gpu';

// After the device is lost, every op throws naming the loss instead of returning
// zeros. Destroying the device loses it for the rest of this file's process.
describe('lost device', () => {
  it('turns the loss into thrown errors', async () => {
    const x = mg.tensor([1, 2, 3]);
    expect(Array.from(await x.mul(2).data())).toEqual([2, 4, 6]);

    const device = gpuDevice();
    device.destroy();
    await device.lost;

    expect(() => mg.tensor([1, 2])).toThrow(/WebGPU device was lost \(destroyed/);
    expect(() => x.add(1)).toThrow(/WebGPU device was lost/);
    await expect(mg.init()).rejects.toThrow(/WebGPU device was lost/);
  });
});
