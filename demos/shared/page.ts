// What every demo page shares: the header with the language switch, the notice
// shown when the browser has no WebGPU, the reduced configuration that the
// browser tests select with `?test`, and the object through which a page
// publishes its results to those tests.

import * as mg from '../../index';
import { addMessages, mountLanguageSwitch, onLanguageChange, t, translatePage } from './i18n';
import './style.css';

addMessages({
  home: { en: 'All demos', ja: 'デモ一覧' },
  'gpu.checking': { en: 'Looking for a WebGPU adapter…', ja: 'WebGPU アダプターを探しています…' },
  'gpu.adapter': { en: 'WebGPU adapter: {name}', ja: 'WebGPU アダプター: {name}' },
  'gpu.missing.title': {
    en: 'This browser has no WebGPU, so the demo cannot run.',
    ja: 'このブラウザーでは WebGPU が使えないため、デモを実行できません。',
  },
  'gpu.missing.browsers': {
    en: 'WebGPU is on by default in Chrome and Edge 113 or newer (Windows, macOS, ChromeOS, Android), Safari 26, and Firefox 141 or newer on Windows.',
    ja: 'WebGPU は Chrome と Edge の 113 以降 (Windows、macOS、ChromeOS、Android)、Safari 26、Windows 版 Firefox 141 以降で標準で有効です。',
  },
  'gpu.missing.linux': {
    en: 'On Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu set to Enabled (and Vulkan drivers); restart the browser after changing it.',
    ja: 'Linux の Chrome では chrome://flags/#enable-unsafe-webgpu を Enabled にする必要があります (Vulkan ドライバーも必要です)。変更後はブラウザーを再起動してください。',
  },
  'gpu.missing.secure': {
    en: 'WebGPU also needs a secure context: open the page over https or from localhost / 127.0.0.1.',
    ja: 'WebGPU には安全なコンテキストも必要です。https か localhost / 127.0.0.1 でページを開いてください。',
  },
  'gpu.error': { en: 'Error: {message}', ja: 'エラー: {message}' },
});

/** True when the page was opened with `?test`: the browser tests' small, fast configuration. */
export function testMode(): boolean {
  return new URLSearchParams(location.search).has('test');
}

/** Results a page publishes for the browser tests, keyed by what they measure. */
export type DemoResult = Record<string, unknown> & { error?: string };

declare global {
  interface Window {
    demoResult?: DemoResult;
    demoStatus?: string;
  }
}

/** Stores `result` where the browser tests read it. */
export function publish(result: DemoResult): void {
  window.demoResult = result;
}

/** Builds the header (link to the index, language switch) and translates the page. */
export function setupPage(options: { home?: boolean } = {}): void {
  const header = document.createElement('header');
  header.className = 'top';
  if (options.home !== false) {
    const link = document.createElement('a');
    link.href = '../index.html';
    link.dataset.i18n = 'home';
    header.append(link);
  }
  const languages = document.createElement('span');
  languages.className = 'languages';
  mountLanguageSwitch(languages);
  header.append(languages);
  document.body.prepend(header);
  translatePage();
}

/**
 * Starts the engine on navigator.gpu. Without WebGPU it shows how to enable it
 * in `status` and returns false; with it, shows the adapter's name.
 */
export async function startGpu(status: HTMLElement): Promise<boolean> {
  status.textContent = t('gpu.checking');
  if (!('gpu' in navigator) || !(await navigator.gpu.requestAdapter())) {
    showMissingGpu(status);
    return false;
  }
  try {
    await mg.init();
  } catch (error) {
    showError(status, error);
    return false;
  }
  const render = () => (status.textContent = t('gpu.adapter', { name: mg.adapterDescription() }));
  render();
  onLanguageChange(render);
  return true;
}

function showMissingGpu(status: HTMLElement): void {
  const render = () => {
    status.replaceChildren();
    status.className = 'notice';
    const title = document.createElement('strong');
    title.textContent = t('gpu.missing.title');
    const list = document.createElement('ul');
    for (const key of ['gpu.missing.browsers', 'gpu.missing.linux', 'gpu.missing.secure']) {
      const item = document.createElement('li');
      item.textContent = t(key);
      list.append(item);
    }
    status.append(title, list);
  };
  render();
  onLanguageChange(render);
  publish({ error: 'no WebGPU' });
}

/** Shows `error` in `status` and publishes it for the tests. */
export function showError(status: HTMLElement, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  status.className = 'notice';
  status.textContent = t('gpu.error', { message });
  console.error(error);
  publish({ error: message });
}

/**
 * Lets the browser paint and handle input between chunks of GPU work, and lets
 * the GPU queue drain: the page stays responsive while a loop trains.
 */
export async function breathe(): Promise<void> {
  await mg.yieldEventLoop();
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
}
