// Runs each demo page in headless Chromium on WebGPU (SwiftShader) in its
// reduced `?test` configuration, reads back what the page publishes and checks
// it, and saves a screenshot of every page in each language.

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type ElementHandle, type Page } from 'puppeteer-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import trainedResult from '../../demos/assets/protonet-omniglot.json';
import { metaGradients, setup } from '../../demos/explorer/compute';
import type { DemoResult } from '../../demos/shared/page';
import { CHROMIUM, CHROMIUM_FLAGS } from './chromium';

const root = resolve(import.meta.dirname, '../..');
/** Where the screenshots go; .ci/run prints this folder at the end, for CI to keep as an artifact. */
const SCREENSHOT_DIR = join(root, 'test-artifacts', 'screenshots');

let server: ViteDevServer | null = null;
let browser: Browser | null = null;
let tempDir = '';

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'metagrad-demos-'));
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  server = await createServer({
    configFile: join(root, 'demos', 'vite.config.ts'),
    logLevel: 'warn',
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

interface OpenedPage {
  page: Page;
  consoleErrors: string[];
}

/**
 * Opens a demo page at `path` with the given query and collects its console
 * errors. `beforeLoad` runs in the page before any of its scripts.
 */
async function open(path: string, query: string, beforeLoad?: () => void): Promise<OpenedPage> {
  const port = (server!.httpServer!.address() as AddressInfo).port;
  const page = await browser!.newPage();
  if (beforeLoad) await page.evaluateOnNewDocument(beforeLoad);
  await page.setViewport({ width: 1200, height: 900 });
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  await page.goto(`http://127.0.0.1:${port}/${path}?${query}`);
  return { page, consoleErrors };
}

/** Waits until the page publishes a result that `done` accepts, and returns it. */
async function result(
  { page, consoleErrors }: OpenedPage,
  done: string,
  timeout = 90_000,
): Promise<DemoResult> {
  await page.waitForFunction(
    `window.demoResult !== undefined && (window.demoResult.error !== undefined || (${done}))`,
    { timeout },
  );
  const published = (await page.evaluate(() => window.demoResult)) as DemoResult;
  expect(published.error, `page error; console: ${consoleErrors.join(' | ')}`).toBeUndefined();
  return published;
}

/** Saves a screenshot of the page in English and in Japanese, switching with the page's own buttons. */
async function screenshots(page: Page, name: string): Promise<void> {
  for (const language of ['en', 'ja']) {
    await page.click(`button.language[data-language="${language}"]`);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe(language);
    await page.screenshot({
      path: join(SCREENSHOT_DIR, `${name}.${language}.png`),
      fullPage: true,
    });
  }
}

/** Clicks at canvas coordinates (in the canvas's own pixels) of the canvas `selector`, scrolled into view. */
async function clickCanvas(page: Page, selector: string, x: number, y: number): Promise<void> {
  const canvas = (await page.$(selector))!;
  const [width, height] = await canvas.evaluate((element) => [
    (element as HTMLCanvasElement).width,
    (element as HTMLCanvasElement).height,
  ]);
  await canvas.scrollIntoView();
  const box = (await canvas.boundingBox())!;
  await canvas.click({ offset: { x: (x / width) * box.width, y: (y / height) * box.height } });
}

/** f32 agreement between two adapters: the summation order of their kernels may differ. */
function expectClose(actual: number, expected: number, label: string): void {
  expect(Math.abs(actual - expected), `${label}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    1e-4 * (1 + Math.abs(expected)),
  );
}

type Stroke = [number, number][];

/** Moves every point of the strokes by (dx, dy) canvas pixels. */
function shift(strokes: Stroke[], dx: number, dy: number): Stroke[] {
  return strokes.map((stroke) => stroke.map(([x, y]) => [x + dx, y + dy] as [number, number]));
}

/** Replays strokes (in the pad's 112x112 canvas pixels) on a drawing pad with the mouse. */
async function drawStrokes(page: Page, canvas: ElementHandle, strokes: Stroke[]): Promise<void> {
  await canvas.scrollIntoView();
  const box = (await canvas.boundingBox())!;
  const at = ([x, y]: [number, number]): [number, number] => [
    box.x + (x / 112) * box.width,
    box.y + (y / 112) * box.height,
  ];
  for (const stroke of strokes) {
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const point of stroke.slice(1)) await page.mouse.move(...at(point), { steps: 8 });
    await page.mouse.up();
  }
}

const circle: Stroke = Array.from({ length: 25 }, (_, i) => {
  const angle = (2 * Math.PI * i) / 24;
  return [56 + 32 * Math.cos(angle), 56 + 32 * Math.sin(angle)];
});
const CHARACTERS: Stroke[][] = [
  [circle],
  [
    [
      [24, 24],
      [88, 88],
    ],
    [
      [88, 24],
      [24, 88],
    ],
  ],
  [
    [
      [24, 30],
      [88, 30],
      [24, 82],
      [88, 82],
    ],
  ],
];

describe('demos', () => {
  it('index loads', async () => {
    const opened = await open('index.html', 'lang=en');
    await opened.page.waitForFunction(() => window.demoStatus === 'ready', { timeout: 60_000 });
    const links = await opened.page.$$eval('ul.demos a', (anchors) => anchors.length);
    expect(links).toBe(4);
    await screenshots(opened.page, 'index');
    expect(opened.consoleErrors).toEqual([]);
    await opened.page.close();
  });

  it('sinusoid adapts to clicked points', async () => {
    const opened = await open('sinusoid/index.html', 'test&lang=en');
    const { page } = opened;
    await page.waitForFunction(() => window.demoStatus === 'ready', { timeout: 90_000 });
    // Eight clicks spread over x in [-5, 5]; the page puts each on the true wave.
    for (const x of [80, 150, 220, 290, 360, 430, 500, 570])
      await clickCanvas(page, '#curves', x, 180);
    const published = await result(opened, 'window.demoResult.points === 8');
    expect(published.iterations).toBe(30);
    expect(published.steps).toBe(10);
    expect(published.mamlPost as number).toBeLessThan(published.mamlPre as number);
    // The baseline's figures are shown but not asserted: from the average of
    // all waves, ten small steps can as well move it away from the new one.
    await screenshots(page, 'sinusoid');
    expect(opened.consoleErrors).toEqual([]);
    await page.close();
  });

  it('explorer matches Node meta-gradients', async () => {
    const opened = await open('explorer/index.html', 'test&seed=5&lang=en');
    const { page } = opened;
    const published = await result(opened, 'window.demoStatus === "ready"');
    expect(published.seed).toBe(5);

    // The same network and task from the same seed, in this process on Dawn.
    const state = setup(5);
    const expected = {
      firstOrder: await metaGradients(state, true),
      secondOrder: await metaGradients(state, false),
    };
    for (const tensor of [...state.params.values(), ...Object.values(state.task)]) tensor.dispose();
    for (const order of ['firstOrder', 'secondOrder'] as const) {
      const fromPage = published[order] as Record<string, number[]>;
      expect(Object.keys(fromPage)).toEqual(Object.keys(expected[order]));
      for (const [name, values] of Object.entries(expected[order])) {
        fromPage[name].forEach((value, i) =>
          expectClose(value, values[i], `${order} ${name}[${i}]`),
        );
      }
    }
    // The hand-recorded tape gives the second-order meta-gradient too.
    const tape = published.tapeGradients as Record<string, number[]>;
    for (const [name, values] of Object.entries(expected.secondOrder)) {
      tape[name].forEach((value, i) => expectClose(value, values[i], `tape ${name}[${i}]`));
    }
    // The second-order term is not negligible here, so the two orders differ.
    const difference = Object.entries(expected.secondOrder).flatMap(([name, values]) =>
      values.map((value, i) => Math.abs(value - expected.firstOrder[name][i])),
    );
    expect(Math.max(...difference)).toBeGreaterThan(1e-2);

    const phases = published.phases as Record<string, number>;
    for (const phase of ['innerForward', 'innerBackward', 'update', 'outerForward'])
      expect(phases[phase], phase).toBeGreaterThan(0);
    await page.click('#step');
    await page.click('#step');
    const counter = await page.$eval('#counter', (element) => element.textContent);
    expect(counter).toBe(`Node 2 of ${published.backwardNodes as number}`);
    await screenshots(page, 'explorer');
    expect(opened.consoleErrors).toEqual([]);
    await page.close();
  });

  it('benchmark reports GFLOP/s', async () => {
    const opened = await open('bench/index.html', 'test&lang=en');
    const published = await result(opened, 'window.demoResult.results !== undefined');
    expect(published.adapter, 'the page names the adapter').not.toBe('');
    const results = published.results as { name: string; ms: number; gflops: number }[];
    const names = results.map((r) => r.name);
    expect(names).toContain('matmul 64x64x64');
    for (const pass of ['forward', 'input gradient', 'weight gradient'])
      expect(names).toContain(`conv2d block 1 ${pass}`);
    expect(names.some((name) => name.startsWith('pairwise squared distances'))).toBe(true);
    for (const { name, gflops } of results) expect(gflops, name).toBeGreaterThan(0);
    const rows = await opened.page.$$eval('#results tr', (rows) => rows.length);
    expect(rows).toBe(results.length + 1);
    await screenshots(opened.page, 'bench');
    expect(opened.consoleErrors).toEqual([]);
    await opened.page.close();
  });

  it('omniglot classifies a drawn query', async () => {
    const opened = await open('omniglot/index.html', 'ways=3&lang=en');
    const { page } = opened;
    await page.waitForFunction(
      () => window.demoStatus === 'ready' || window.demoResult?.error !== undefined,
      { timeout: 90_000 },
    );
    const pads = await page.$$('#support canvas.pad');
    expect(pads).toHaveLength(3);
    for (const [i, strokes] of CHARACTERS.entries()) await drawStrokes(page, pads[i], strokes);
    // The query is the second character again, moved a few pixels.
    await drawStrokes(page, (await page.$('#query canvas.pad'))!, shift(CHARACTERS[1], 4, -3));
    await page.click('#classify');
    const published = await result(opened, 'window.demoResult.predicted !== undefined');
    expect(published.ways).toBe(3);
    expect(published.predicted).toBe(1);
    const probabilities = published.probabilities as number[];
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    const distances = published.distances as number[];
    expect(Math.min(...distances)).toBe(distances[1]);
    // The page states the accuracy that `metagrad eval` wrote for the committed checkpoint.
    const stated = await page.$eval('#model', (element) => element.textContent);
    expect(stated).toContain(`${(100 * trainedResult.test_accuracy).toFixed(1)} ±`);
    expect(stated).toContain(`${trainedResult.test_episodes} 5-way 1-shot`);
    await screenshots(page, 'omniglot');
    expect(opened.consoleErrors).toEqual([]);
    await page.close();
  });

  it('omniglot averages two shots', async () => {
    const opened = await open('omniglot/index.html', 'ways=2&shots=2&lang=en');
    const { page } = opened;
    await page.waitForFunction(
      () => window.demoStatus === 'ready' || window.demoResult?.error !== undefined,
      { timeout: 90_000 },
    );
    const pads = await page.$$('#support canvas.pad');
    expect(pads).toHaveLength(4);
    // Class-major pads: the circle twice, then the cross twice, each second copy moved.
    for (const [i, strokes] of CHARACTERS.slice(0, 2).entries()) {
      await drawStrokes(page, pads[2 * i], strokes);
      await drawStrokes(page, pads[2 * i + 1], shift(strokes, -3, 2));
    }
    await drawStrokes(page, (await page.$('#query canvas.pad'))!, shift(CHARACTERS[1], 4, -3));
    await page.click('#classify');
    const drawn = await result(opened, 'window.demoResult.predicted !== undefined');
    expect(drawn.shots).toBe(2);
    expect(drawn.predicted).toBe(1);

    // A sample episode fills all four support pads and the query from the evaluation alphabets.
    await page.evaluate(() => (window.demoResult = undefined));
    await page.click('#sample');
    await page.click('#classify');
    const sampled = await result(opened, 'window.demoResult.predicted !== undefined');
    expect(sampled.shots).toBe(2);
    expect((sampled.distances as number[]).every((d) => d >= 0)).toBe(true);
    expect(opened.consoleErrors).toEqual([]);
    await page.close();
  });

  it('omniglot explains a missing WebGPU', async () => {
    // A browser without WebGPU has no navigator.gpu at all.
    const opened = await open('omniglot/index.html', 'lang=en', () => {
      delete (Navigator.prototype as { gpu?: unknown }).gpu;
    });
    const { page } = opened;
    await page.waitForFunction(() => window.demoResult !== undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => window.demoResult)).toEqual({ error: 'no WebGPU' });
    const notice = async () => page.$eval('#gpu.notice', (element) => element.textContent);
    expect(await notice()).toContain('This browser has no WebGPU');
    expect(await notice()).toContain('chrome://flags/#enable-unsafe-webgpu');
    await page.click('button.language[data-language="ja"]');
    expect(await notice()).toContain('WebGPU が使えない');
    // Nothing can be classified without the model.
    expect(
      await page.$eval('#classify', (element) => (element as HTMLButtonElement).disabled),
    ).toBe(true);
    expect(opened.consoleErrors).toEqual([]);
    await page.close();
  });
});
