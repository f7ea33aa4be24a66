// The Chromium that the browser tests drive, and its flags.

export const CHROMIUM = '/usr/bin/chromium';

// Chromium 156 exposes navigator.gpu only in a secure context, so pages are
// served from 127.0.0.1. On Linux it returns no adapter without
// --enable-unsafe-webgpu. SwiftShader is a CPU adapter, so no GPU is required.
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // Docker gives containers a 64 MB /dev/shm by default, too small for Chromium.
  '--disable-dev-shm-usage',
];
