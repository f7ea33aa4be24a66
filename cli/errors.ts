// Errors that the command reports as one line and exit code 2, with no stack trace.

import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export class UsageError extends Error {
  override name = 'UsageError';
}

// A number written in decimal: digits with an optional point and exponent. Number()
// also reads hexadecimal (0x5), binary (0b101) and octal (0o7) forms, which options reject.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Parses a decimal number option, rejecting infinite values, and non-integers or integers past 2^53 when `kind` is 'integer'. */
export function parseNumber(
  option: string,
  value: string,
  kind: 'integer' | 'number',
  min?: number,
): number {
  const text = value.trim();
  const expected = kind === 'integer' ? 'an integer' : 'a number';
  if (/^[+-]?infinity$/i.test(text))
    throw new UsageError(`${option} ${value} is not finite; give a finite ${kind}.`);
  if (!DECIMAL.test(text))
    throw new UsageError(
      `${option} ${JSON.stringify(value)} is not ${expected}; write it in decimal digits, such as ${kind === 'integer' ? '5' : '5 or 0.01'}.`,
    );
  const parsed = Number(text);
  const lowest = min ?? -Number.MAX_SAFE_INTEGER;
  if (kind === 'integer') {
    if (!Number.isInteger(parsed) && Number.isFinite(parsed))
      throw new UsageError(`${option} ${value} is not an integer.`);
    // Past 2^53 a double cannot represent every integer, so the value would change silently.
    if (!Number.isSafeInteger(parsed))
      throw new UsageError(
        `${option} ${value} is too ${parsed > 0 ? 'large' : 'small'}; use an integer from ${lowest} to ${Number.MAX_SAFE_INTEGER}.`,
      );
  } else if (!Number.isFinite(parsed)) {
    throw new UsageError(`${option} ${value} is too large to be finite; give a finite number.`);
  }
  if (min !== undefined && parsed < min)
    throw new UsageError(`${option} ${value} is too small; use at least ${min}.`);
  return parsed;
}

/** Checks that `value` is one of `accepted`, naming the option and the accepted values otherwise. */
export function parseChoice<T extends string>(
  option: string,
  value: string,
  accepted: readonly T[],
): T {
  if (!(accepted as readonly string[]).includes(value)) {
    throw new UsageError(
      `${option} ${JSON.stringify(value)} is not supported; use one of: ${accepted.join(', ')}.`,
    );
  }
  return value as T;
}

/** Rejects an empty path option, which `path.resolve` would turn into the current folder. */
export function checkPathOptions(flags: Record<string, unknown>, names: readonly string[]): void {
  for (const name of names) {
    const key = name.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
    const value = flags[key];
    if (typeof value === 'string' && value.trim() === '')
      throw new UsageError(`${name} is empty; give a path.`);
  }
}

// Maximum --shots and --queries on sine, points per task. MAML uses K = 5 to 10
// support points, and 10,000 points of a 1,024-task meta-batch are 41 MB per array.
const MAX_SINE_POINTS = 10_000;

/** Rejects a sine --shots or --queries above MAX_SINE_POINTS. */
export function checkSinePoints(option: string, points: number): void {
  if (points > MAX_SINE_POINTS)
    throw new UsageError(
      `${option} ${points} is too large for --dataset sine; use at most ${MAX_SINE_POINTS} points per task (MAML uses 5 to 10).`,
    );
}

/**
 * Checks that the folder `dir` (an absolute path) exists or can be created, by
 * creating it and removing again the folders that this call created.
 */
export function checkOutputFolder(option: string, dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory())
      throw new UsageError(`${option} ${dir} is a file; give a folder.`);
    return;
  }
  // Node 20.20's recursive mkdir never returns for /proc/x/y on Linux, so the
  // missing folders are made one at a time, from the nearest existing ancestor down.
  const missing: string[] = [];
  for (let folder = dir; !existsSync(folder); folder = dirname(folder)) missing.unshift(folder);
  const created: string[] = [];
  try {
    for (const folder of missing) {
      mkdirSync(folder);
      created.unshift(folder);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const reasons: Record<string, string> = {
      ENOTDIR: 'a part of the path is a file, not a folder',
      EACCES: 'permission was denied',
      EROFS: 'the file system is read-only',
      ENOENT: 'the parent folder does not accept new folders',
    };
    throw new UsageError(
      `${option} ${dir} cannot be created (${reasons[code] ?? code}); choose another ${option}.`,
    );
  } finally {
    // The run folder itself is made later, once the data and the model accept the settings.
    for (const folder of created) rmdirSync(folder);
  }
}

// Maximum inner steps per task. MAML (Finn et al. 2017) adapts with 1 to 10 steps and
// Reptile (Nichol et al. 2018) evaluates with 50, while second-order MAML keeps
// every step's activations on the tape, so memory grows with the step count.
const MAX_INNER_STEPS = 1000;

/** Parses --inner-steps or --test-inner-steps, which must lie in min..MAX_INNER_STEPS. */
export function innerStepCount(option: string, value: string, min = 1): number {
  const count = parseNumber(option, value, 'integer', min);
  if (count > MAX_INNER_STEPS)
    throw new UsageError(
      `${option} ${value} is too large; use at most ${MAX_INNER_STEPS} (MAML uses 1 to 10 inner steps, Reptile 50 at test time).`,
    );
  return count;
}
