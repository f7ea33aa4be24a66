import { afterEach, describe, expect, it, vi } from 'vitest';

// With no WebGPU adapter, init() must say what is missing and how to get it. A
// navigator.gpu whose requestAdapter() returns null stands in for such a machine.
describe('device without an adapter', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('names the drivers to install', async () => {
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => null } });
    const gpu = await import('../../kernels/gpu');
    const failure = gpu.init();
    await expect(failure).rejects.toThrow(/found no WebGPU adapter/);
    await expect(failure).rejects.toThrow(/Vulkan, Metal or D3D12/);
    await expect(failure).rejects.toThrow(
      /lavapipe 23 or newer.*bookworm-backports.*libvulkan1 mesa-vulkan-drivers/,
    );
    // Every later op reports the same cause rather than a missing device.
    expect(() => gpu.gpuDevice()).toThrow(/found no WebGPU adapter/);
  });
});
