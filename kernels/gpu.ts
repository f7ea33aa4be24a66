// One GPUDevice for the whole process: `navigator.gpu` in a browser, Dawn (npm
// package `webgpu`) in Node.

let device: GPUDevice | null = null;
// Dawn's instance lives only while the object returned by create() is referenced;
// dropping it lets the garbage collector tear down the GPU under running work.
let nodeGpu: GPU | null = null;
let pending: Promise<GPUDevice> | null = null;
let adapterName = '';
let subgroups = false;
let timestamps = false;
let lostReason: string | null = null;
const errorListeners: ((error: GPUError) => void)[] = [];

const NO_ADAPTER_HELP =
  'metagrad found no WebGPU adapter. It needs a GPU driver with Vulkan, Metal or D3D12. ' +
  'On Linux without a GPU, install Mesa lavapipe 23 or newer: on Debian 12 that is ' +
  '`apt-get install -t bookworm-backports libvulkan1 mesa-vulkan-drivers` after adding ' +
  'bookworm-backports to the apt sources (bookworm’s own Mesa 22.3 lacks features Dawn requires). ' +
  'In a browser, use one with WebGPU enabled ' +
  '(Chrome or Edge 113+, Safari 26+, or Firefox 141+ on Windows).';

function isNode(): boolean {
  return typeof process !== 'undefined' && process.versions?.node !== undefined;
}

async function getGpu(): Promise<GPU> {
  if (typeof navigator !== 'undefined' && navigator.gpu) return navigator.gpu;
  if (!isNode()) throw new Error(NO_ADAPTER_HELP);

  // The module name is a variable so that browser bundlers leave Dawn out.
  const dawnModule = 'webgpu';
  const dawn = (await import(/* @vite-ignore */ dawnModule)) as {
    create: (options: string[]) => GPU;
    globals: Record<string, unknown>;
  };
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  nodeGpu ??= dawn.create([]);
  return nodeGpu;
}

async function acquire(): Promise<GPUDevice> {
  const gpu = await getGpu();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);

  // Drivers fill these fields unevenly; the description, where present, names the device best.
  const info = adapter.info;
  adapterName = info?.description || [info?.vendor, info?.device].filter((part) => part).join(' ');

  // Kernels that share values through subgroupBroadcast run 8 invocations as one
  // subgroup, so they need subgroups of at least 8 invocations.
  subgroups = adapter.features.has('subgroups') && (info?.subgroupMinSize ?? 0) >= 8;

  // Timestamp queries let mg.profile time each dispatch; the device asks for the
  // feature where the adapter has it, and nothing uses it unless a profile records.
  timestamps = adapter.features.has('timestamp-query');
  const features: GPUFeatureName[] = [];
  if (subgroups) features.push('subgroups');
  if (timestamps) features.push('timestamp-query');

  // Ask for the adapter's own maxima where the defaults are small for tensors.
  const limits = adapter.limits;
  const created = await adapter.requestDevice({
    label: 'metagrad',
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: limits.maxComputeWorkgroupSizeY,
    },
  });

  created.lost.then((lost) => {
    lostReason = `${lost.reason}: ${lost.message}`;
    device = null;
  });
  created.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    for (const listener of errorListeners) listener(error);
  });
  return created;
}

let initError: unknown = null;

/** Acquires the WebGPU device. Importing metagrad calls it; await it to catch setup errors early. */
export async function init(): Promise<GPUDevice> {
  if (device) return device;
  if (lostReason)
    throw new Error(
      `The WebGPU device was lost (${lostReason}); reload the page or restart the process.`,
    );
  pending ??= acquire().then(
    (created) => (device = created),
    (error: unknown) => {
      pending = null;
      initError = error;
      throw error;
    },
  );
  return pending;
}

/** Returns the device acquired by `init()`, or throws if there is none yet. */
export function gpuDevice(): GPUDevice {
  if (device) return device;
  if (lostReason)
    throw new Error(`The WebGPU device was lost (${lostReason}); no further op can run.`);
  if (initError) throw initError;
  throw new Error('metagrad has no WebGPU device yet: call `await mg.init()` before the first op.');
}

/** Returns whether `init()` has completed. */
export function isReady(): boolean {
  return device !== null;
}

/** Returns whether the device runs kernels that use subgroup operations (8 or more invocations per subgroup). */
export function hasSubgroups(): boolean {
  return subgroups;
}

/** Returns whether the device can time dispatches with timestamp queries. */
export function hasTimestamps(): boolean {
  return timestamps;
}

/** Returns the adapter's vendor, architecture and description, as far as the browser or Dawn reports them. */
export function adapterDescription(): string {
  return adapterName;
}

export function onUncapturedError(listener: (error: GPUError) => void): void {
  errorListeners.push(listener);
}
