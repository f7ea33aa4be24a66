// Every algorithm that `metagrad train` accepts, in the order --help lists them.
// A name declared twice is an error at load time, not a silent override.

import { UsageError } from '../errors';
import { metricAlgorithms } from './metric';
import { modelAlgorithms } from './model';
import { optimizationAlgorithms } from './optimization';
import type { AlgorithmOption, AlgorithmSpec } from './spec';

export type { AlgorithmOption, AlgorithmSpec, Family, SharedDefaults } from './spec';

function register(...families: AlgorithmSpec[][]): ReadonlyMap<string, AlgorithmSpec> {
  const table = new Map<string, AlgorithmSpec>();
  for (const spec of families.flat()) {
    if (table.has(spec.name)) throw new Error(`Algorithm "${spec.name}" is declared twice.`);
    table.set(spec.name, spec);
  }
  return table;
}

export const ALGORITHMS = register(optimizationAlgorithms, metricAlgorithms, modelAlgorithms);

export function algorithmNames(): string[] {
  return [...ALGORITHMS.keys()];
}

export function algorithmSpec(name: string): AlgorithmSpec {
  const spec = ALGORITHMS.get(name);
  if (!spec) {
    throw new UsageError(
      `algorithm ${JSON.stringify(name)} is not supported; use one of: ${algorithmNames().join(', ')}.`,
    );
  }
  return spec;
}

/** Every algorithm-specific option once, with the algorithms that take it. */
export function algorithmOptions(): { option: AlgorithmOption; algorithms: string[] }[] {
  const byFlag = new Map<string, { option: AlgorithmOption; algorithms: string[] }>();
  for (const spec of ALGORITHMS.values()) {
    for (const option of spec.options ?? []) {
      const entry = byFlag.get(option.key);
      if (entry) entry.algorithms.push(spec.name);
      else byFlag.set(option.key, { option, algorithms: [spec.name] });
    }
  }
  return [...byFlag.values()];
}
