// Runs in the browser under test: imports the engine from source, takes a
// second derivative on navigator.gpu and publishes the values for the test to read.

import * as mg from '../../../index';

export interface BrowserResult {
  adapter: string;
  points: number[];
  secondDerivative: number[];
  error: string | null;
}

declare global {
  interface Window {
    metagradResult?: BrowserResult;
  }
}

// f(x) = x^3 + tanh(x), summed over the points, so f''(x) = 6x - 2 tanh(x) (1 - tanh(x)^2).
const points = [-1.2, 0.3, 1.7];

async function run(): Promise<BrowserResult> {
  await mg.init();
  const x = mg.tensor(points, { requiresGrad: true });
  const f = x.pow(3).add(x.tanh()).sum();
  const [first] = mg.grad(f, x, { createGraph: true });
  const [second] = mg.grad(first!.sum(), x);
  return {
    adapter: mg.adapterDescription(),
    points,
    secondDerivative: Array.from(await second!.data()),
    error: null,
  };
}

function publish(result: BrowserResult): void {
  document.getElementById('result')!.textContent = JSON.stringify(result);
  window.metagradResult = result;
}

run().then(publish, (error: unknown) =>
  publish({ adapter: '', points, secondDerivative: [], error: String(error) }),
);
