/* global console, process */
// Exits 0 and prints the adapter when Dawn (npm package `webgpu`) finds a
// WebGPU adapter, 1 when it finds none. Run from the repository root after npm ci.

import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const adapter = await create([]).requestAdapter();
if (!adapter) {
  console.log('no WebGPU adapter');
  process.exit(1);
}
const { vendor, architecture, description } = adapter.info;
console.log([vendor, architecture, description].filter(Boolean).join(' '));
// Dawn's instance can keep the event loop alive, so exit explicitly.
process.exit(0);
