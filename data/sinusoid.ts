// Sinusoid regression tasks as in Finn et al. 2017 (MAML): y = A sin(x - phase)
// with amplitude A ~ U[0.1, 5.0], phase ~ U[0, pi] and inputs x ~ U[-5, 5].

import { Rng } from './rng';

export interface SineTask {
  amplitude: number;
  phase: number;
}

export interface SineBatch {
  /** [tasks, points, 1] inputs and targets, flattened row-major. */
  supportX: Float32Array;
  supportY: Float32Array;
  queryX: Float32Array;
  queryY: Float32Array;
  tasks: SineTask[];
  shots: number;
  queries: number;
}

export const SINE_RANGES = {
  amplitude: [0.1, 5.0],
  phase: [0, Math.PI],
  x: [-5, 5],
} as const;

export function sampleSineTask(rng: Rng): SineTask {
  return {
    amplitude: rng.uniform(SINE_RANGES.amplitude[0], SINE_RANGES.amplitude[1]),
    phase: rng.uniform(SINE_RANGES.phase[0], SINE_RANGES.phase[1]),
  };
}

export function sineValue(task: SineTask, x: number): number {
  return task.amplitude * Math.sin(x - task.phase);
}

/** Samples `count` tasks with K support and Q query points each. */
export function sampleSineBatch(
  rng: Rng,
  count: number,
  shots: number,
  queries: number,
  tasks?: SineTask[],
): SineBatch {
  if (!Number.isInteger(shots) || shots < 1)
    throw new Error(`--shots ${shots} is invalid; use a positive integer.`);
  if (!Number.isInteger(queries) || queries < 1)
    throw new Error(`--queries ${queries} is invalid; use a positive integer.`);
  const chosen = tasks ?? Array.from({ length: count }, () => sampleSineTask(rng));
  const fill = (points: number) => {
    const x = new Float32Array(chosen.length * points);
    const y = new Float32Array(chosen.length * points);
    chosen.forEach((task, t) => {
      for (let i = 0; i < points; i++) {
        const xi = rng.uniform(SINE_RANGES.x[0], SINE_RANGES.x[1]);
        x[t * points + i] = xi;
        y[t * points + i] = sineValue(task, xi);
      }
    });
    return { x, y };
  };
  const support = fill(shots);
  const query = fill(queries);
  return {
    supportX: support.x,
    supportY: support.y,
    queryX: query.x,
    queryY: query.y,
    tasks: chosen,
    shots,
    queries,
  };
}
