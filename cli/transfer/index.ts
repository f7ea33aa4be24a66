// `metagrad transfer`: fine-tuning strategies, DANN, distillation and
// contrastive pretraining on Fashion-MNIST, each writing a run folder.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import * as mg from '../../engine/index';
import { IdxFormatError } from '../../data/idx';
import { UsageError, checkPathOptions } from '../errors';
import { DANN_OPTIONS, runDann } from './dann';
import { DISTILL_OPTIONS, runDistill } from './distill';
import { checkFinetuneShots, FINETUNE_OPTIONS, parseStrategies, runFinetune } from './finetune';
import {
  COMMON_OPTIONS,
  declare,
  givenFlags,
  parseOptions,
  type OptionSpec,
  type ParsedOptions,
} from './options';
import { PRETRAIN_OPTIONS, runPretrain } from './pretrain';
import { Interrupted, RunFolder, readRunConfig } from './run-folder';
import { commandName } from '../invocation';

export type TransferOutcome = 'finished' | 'interrupted';

interface Subcommand {
  name: string;
  description: string;
  options: OptionSpec[];
  /** The method argument of `pretrain`. */
  argument?: { name: string; choices: readonly string[] };
  run: (run: RunFolder, config: ParsedOptions, log: (line: string) => void) => Promise<object>;
  /** Checks the settings against the data before the run folder is made. */
  check?: (config: ParsedOptions) => Promise<void>;
}

const SUBCOMMANDS: Subcommand[] = [
  {
    name: 'finetune',
    description:
      'Pretrain on the five source classes, fine-tune on the five target classes at each number of shots.',
    options: FINETUNE_OPTIONS,
    run: runFinetune,
    check: checkFinetuneShots,
  },
  {
    name: 'dann',
    description:
      'Domain-adversarial training from Fashion-MNIST to a shifted domain, against source-only and target-trained.',
    options: DANN_OPTIONS,
    run: runDann,
  },
  {
    name: 'distill',
    description: 'Train a teacher, a student alone and a distilled student on the same budget.',
    options: DISTILL_OPTIONS,
    run: runDistill,
  },
  {
    name: 'pretrain',
    description:
      'Contrastive pretraining (SimCLR or MoCo v2), evaluated by linear probe, k-NN and few-shot episodes.',
    options: PRETRAIN_OPTIONS,
    argument: { name: 'method', choices: ['simclr', 'moco'] },
    run: (run, config, log) => runPretrain(run, config.method as 'simclr' | 'moco', config, log),
  },
];

async function execute(
  sub: Subcommand,
  config: ParsedOptions,
  resume: boolean,
): Promise<TransferOutcome> {
  const log = (line: string) => console.log(line);
  // Checked before the run folder is made, so a wrong --data-dir leaves nothing behind.
  const images = join(config.dataDir as string, 'train-images-idx3-ubyte.gz');
  if (!existsSync(images))
    throw new UsageError(
      `${images}: file not found; pass --data-dir with the folder that holds the Fashion-MNIST IDX files.`,
    );
  if (!resume) {
    try {
      await sub.check?.(config);
    } catch (error) {
      if (error instanceof IdxFormatError) throw new UsageError(error.message);
      throw error;
    }
  }
  await mg.init();
  const run = await RunFolder.open(config.out as string, config, resume, sub.name);
  try {
    const result = await sub.run(run, config, log);
    await run.writeResult({ ...result, config });
    log(`Wrote ${resolve(run.out, 'result.json')}`);
    return 'finished';
  } catch (error) {
    if (error instanceof Interrupted) {
      log(
        `Interrupted in stage ${error.message}, with a checkpoint; continue with \`${commandName()} transfer ${sub.name} --resume ${run.out}\``,
      );
      return 'interrupted';
    }
    if (error instanceof IdxFormatError) throw new UsageError(error.message);
    throw error;
  } finally {
    run.close();
  }
}

/** Adds `metagrad transfer ...` to the program; `setOutcome` receives 'interrupted' after Ctrl-C. */
export function registerTransfer(
  cli: Command,
  setOutcome: (outcome: TransferOutcome) => void,
): void {
  const transfer = cli
    .command('transfer')
    .description(
      'Transfer learning on Fashion-MNIST: finetune, dann, distill, pretrain <simclr|moco>.',
    );
  for (const sub of SUBCOMMANDS) {
    const command = transfer
      .command(sub.name)
      .description(
        `${sub.description} Writes config.json, metrics.jsonl, checkpoints, plots and result.json to --out.`,
      );
    if (sub.argument) command.argument(`[${sub.argument.name}]`, sub.argument.choices.join(' or '));
    declare(command, [...COMMON_OPTIONS, ...sub.options]);
    command
      .option('--out <dir>', `run folder (default runs/transfer-${sub.name}...)`)
      .option('--resume <run-dir>', 'continue a stopped run from its last checkpoint')
      .option('--no-progress', 'accepted for symmetry with train; progress is printed as lines');
    command.action(async (...args: unknown[]) => {
      const flags = (sub.argument ? args[1] : args[0]) as Record<string, unknown>;
      const commandObject = (sub.argument ? args[2] : args[1]) as Command;
      const argument = sub.argument ? (args[0] as string | undefined) : undefined;
      checkPathOptions(flags, ['--out', '--resume', '--data-dir']);
      if (flags.resume !== undefined) {
        const given = givenFlags(commandObject);
        if (given.length > 0)
          throw new UsageError(
            `--resume continues a run with the settings in its config.json; leave out ${given.join(', ')}.`,
          );
        const config = await readRunConfig<ParsedOptions>(flags.resume as string);
        if (!SUBCOMMANDS.some((known) => known.name === config.command)) {
          const trainRun = typeof config.algorithm === 'string';
          throw new UsageError(
            trainRun
              ? `--resume ${String(flags.resume)} is a metagrad train run; use \`${commandName()} train ${String(config.algorithm)} --resume ${String(flags.resume)}\`.`
              : `--resume ${String(flags.resume)}: its config.json has ${config.command === undefined ? 'no "command"' : `"command": ${JSON.stringify(config.command)}`}, not one of ${SUBCOMMANDS.map((known) => known.name).join(', ')}; the run folder is damaged, so restore the file or start a new run.`,
          );
        }
        if (config.command !== sub.name)
          throw new UsageError(
            `--resume ${String(flags.resume)} is a ${String(config.command)} run; use \`${commandName()} transfer ${String(config.command)} --resume ${String(flags.resume)}\`.`,
          );
        config.out = resolve(flags.resume as string);
        setOutcome(await execute(sub, config, true));
        return;
      }
      const config = parseOptions([...COMMON_OPTIONS, ...sub.options], flags);
      config.command = sub.name;
      if (sub.argument) {
        if (argument !== undefined && !sub.argument.choices.includes(argument))
          throw new UsageError(
            `transfer ${sub.name}: ${sub.argument.name} ${JSON.stringify(argument)} is not supported; use ${sub.argument.choices.join(' or ')}.`,
          );
        if (argument === undefined)
          throw new UsageError(
            `transfer ${sub.name} needs a ${sub.argument.name}: ${sub.argument.choices.join(' or ')}, e.g. \`${commandName()} transfer ${sub.name} ${sub.argument.choices[0]}\`.`,
          );
        config.method = argument;
      }
      if (sub.name === 'finetune') parseStrategies(config.strategy as string);
      const suffix = sub.argument
        ? `-${argument}`
        : sub.name === 'distill'
          ? `-${String(config.kind)}`
          : '';
      config.out = resolve(
        (flags.out as string | undefined) ??
          `runs/transfer-${sub.name}${suffix}-seed${String(config.seed)}`,
      );
      setOutcome(await execute(sub, config, false));
    });
  }
}
