// Runs the engine in headless Chromium on WebGPU. A Vite dev server serves a
// page that imports metagrad from source and takes a second derivative on
// navigator.gpu, and puppeteer reads the result back.

import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_FLAGS } from './chromium';
import type { BrowserResult } from './page/main';

const root = resolve(import.meta.dirname, '../..');

let server: ViteDevServer | null = null;
let browser: Browser | null = null;
let tempDir = '';

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'metagrad-browser-'));
  server = await createServer({
    configFile: false,
    root,
    logLevel: 'warn',
    // Keep Vite's cache out of node_modules and serve the dependencies as
    // they are, so the page never reloads mid-test for a dependency rebuild.
    cacheDir: join(tempDir, 'vite-cache'),
    optimizeDeps: { noDiscovery: true, include: [] },
    server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false, watch: null },
  });
  await server.listen();

  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${join(tempDir, 'profile')}`],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (tempDir) await rm(tempDir, { recursive: true, force: true });
});

describe('browser', () => {
  it('takes a second derivative on navigator.gpu', async () => {
    const port = (server!.httpServer!.address() as AddressInfo).port;
    const page = await browser!.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(String(error)));

    await page.goto(`http://127.0.0.1:${port}/test/browser/page/index.html`);
    await page.waitForFunction(() => window.metagradResult !== undefined, { timeout: 60_000 });
    const result = (await page.evaluate(() => window.metagradResult)) as BrowserResult;
    const displayed = await page.$eval('#result', (element) => element.textContent);

    expect(result.error, `page error; console: ${consoleErrors.join(' | ')}`).toBeNull();
    expect(result.adapter, 'the page reports the WebGPU adapter').not.toBe('');
    expect(JSON.parse(displayed ?? '')).toEqual(result);

    // f(x) = x^3 + tanh(x): f''(x) = 6x - 2 tanh(x) (1 - tanh(x)^2).
    const expected = result.points.map((x) => 6 * x - 2 * Math.tanh(x) * (1 - Math.tanh(x) ** 2));
    expect(result.secondDerivative).toHaveLength(expected.length);
    result.secondDerivative.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 4));
  });
});
