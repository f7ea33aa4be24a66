// Option tables of the transfer subcommands: each option is declared once, with
// its flag, help text, type and default, and both the commander registration
// and the parsing into the saved config come from that declaration.

import type { Command } from 'commander';
import { resolve } from 'node:path';
import { DEFAULT_FASHION_MNIST_DIR } from '../../data/fashion-mnist';
import { UsageError, parseChoice, parseNumber } from '../errors';

export interface OptionSpec {
  /** Commander flag, e.g. '--batch-size <n>'. */
  flag: string;
  /** Key in the parsed config (commander's camelCase of the flag). */
  key: string;
  description: string;
  type: 'integer' | 'number' | 'list' | 'choice' | 'string';
  default: number | string | number[];
  choices?: readonly string[];
  /** Smallest accepted value of a number or of each list entry. */
  min?: number;
}

export type ParsedOptions = Record<string, number | string | number[]>;

/** Options every transfer subcommand takes. */
export const COMMON_OPTIONS: OptionSpec[] = [
  {
    flag: '--model <kind>',
    key: 'model',
    description: 'backbone: mlp or conv (conv3x3 blocks)',
    type: 'choice',
    choices: ['mlp', 'conv'],
    default: 'mlp',
  },
  {
    flag: '--widths <list>',
    key: 'widths',
    description: 'comma-separated width of each block (units or channels)',
    type: 'list',
    default: [256, 128, 64],
    min: 1,
  },
  {
    flag: '--batch-size <n>',
    key: 'batchSize',
    description: 'images per optimizer step',
    type: 'integer',
    default: 64,
    min: 2,
  },
  {
    flag: '--seed <n>',
    key: 'seed',
    description: 'seed of every random draw',
    type: 'integer',
    default: 0,
    min: 0,
  },
  {
    flag: '--data-dir <dir>',
    key: 'dataDir',
    description: 'folder with the four Fashion-MNIST IDX gz files',
    type: 'string',
    default: DEFAULT_FASHION_MNIST_DIR,
  },
  {
    flag: '--log-interval <n>',
    key: 'logInterval',
    description: 'steps per metrics.jsonl line and resumable checkpoint',
    type: 'integer',
    default: 50,
    min: 1,
  },
];

/** Registers `specs` on a commander command. */
export function declare(command: Command, specs: readonly OptionSpec[]): Command {
  for (const spec of specs) {
    const defaultText = Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
    command.option(spec.flag, `${spec.description} (default ${defaultText})`);
  }
  return command;
}

/** Parses the flags given on the command line into typed values, with defaults for the rest. */
export function parseOptions(
  specs: readonly OptionSpec[],
  flags: Record<string, unknown>,
): ParsedOptions {
  const out: ParsedOptions = {};
  for (const spec of specs) {
    const raw = flags[spec.key];
    const name = spec.flag.split(' ')[0];
    if (raw === undefined) {
      out[spec.key] = spec.default;
      continue;
    }
    const value = String(raw);
    switch (spec.type) {
      case 'integer':
      case 'number': {
        const parsed = parseNumber(name, value, spec.type, spec.min);
        if (spec.type === 'number' && spec.min === undefined && !(parsed > 0))
          throw new UsageError(`${name} ${value} must be positive.`);
        out[spec.key] = parsed;
        break;
      }
      case 'list': {
        const parts = value.split(',').map((part) => part.trim());
        out[spec.key] = parts.map((part) => parseNumber(name, part, 'integer', spec.min));
        break;
      }
      case 'choice':
        out[spec.key] = parseChoice(name, value, spec.choices ?? []);
        break;
      default:
        out[spec.key] = spec.key === 'dataDir' ? resolve(value) : value;
    }
  }
  return out;
}

/** Flags given on the command line, other than the ones that --resume accepts. */
export function givenFlags(command: Command): string[] {
  return command.options
    .filter((option) => command.getOptionValueSource(option.attributeName()) === 'cli')
    .map((option) => option.long!)
    .filter((name) => !['--resume', '--no-progress'].includes(name));
}
