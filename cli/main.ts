// The `metagrad` command.

import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import * as mg from '../engine/index';
import { algorithmNames, algorithmOptions, algorithmSpec, ALGORITHMS } from './algorithms/index';
import { downloadFile, omniglotFiles } from '../data/download';
import { EpisodeShapeError } from '../data/episodes';
import { defaultDataDir, OmniglotDataError } from '../data/omniglot';
import {
  UsageError,
  checkOutputFolder,
  checkPathOptions,
  checkSinePoints,
  innerStepCount,
  parseChoice,
  parseNumber,
} from './errors';
import {
  evaluateTasks,
  formatResult,
  learnerFor,
  loadCheckpoint,
  makeSource,
  train,
  writeResult,
  type DatasetName,
  type TrainOutcome,
  type TrainConfig,
} from './train';
import { evaluateLakeRuns } from './lake';
import { runStart } from './start';
import { runCompare } from './compare';
import { parseRunConfig } from './run-config';
import { describeEvalShape, evalConfig, type EvalShapeFlags } from './eval-shape';
import { registerTransfer } from './transfer/index';
import {
  IMAGE_SET_INFO,
  IMAGE_SETS,
  checkImageSetDir,
  describeDataDir,
  isImageSet,
} from './image-sets';
import type { SharedDefaults } from './algorithms/index';
import { commandName } from './invocation';

const DATASETS: readonly DatasetName[] = ['sine', 'omniglot', ...IMAGE_SETS];

/** Returns the papers' settings for each dataset (Finn et al. 2017 for MAML), used where an option is not given. */
function defaults(dataset: DatasetName, ways: number): Required<SharedDefaults> {
  if (dataset === 'sine') {
    return {
      ways: 1,
      shots: 10,
      queries: 10,
      innerSteps: 1,
      testInnerSteps: 10,
      innerLr: 0.01,
      metaLr: 0.001,
      metaBatch: 25,
      iterations: 70000,
      hidden: 40,
      logInterval: 100,
      evalInterval: 1000,
      valEpisodes: 100,
      testEpisodes: 600,
    };
  }
  if (isImageSet(dataset)) {
    // Finn et al. (2017) on mini-ImageNet: 5 inner steps at 0.01 (10 at test),
    // 4 tasks per meta-batch and 32 filters, which overfit less than 64.
    return {
      ways: 5,
      shots: 1,
      queries: 15,
      innerSteps: 5,
      testInnerSteps: 10,
      innerLr: 0.01,
      metaLr: 0.001,
      metaBatch: 4,
      iterations: 60000,
      hidden: 32,
      logInterval: 100,
      evalInterval: 1000,
      valEpisodes: 100,
      testEpisodes: 600,
    };
  }
  const twenty = ways >= 20;
  return {
    ways: 5,
    shots: 1,
    queries: 15,
    // Finn et al. (2017) test 5-way models with 3 steps and 20-way ones with
    // the 5 they train with.
    innerSteps: twenty ? 5 : 1,
    testInnerSteps: twenty ? 5 : 3,
    innerLr: twenty ? 0.1 : 0.4,
    metaLr: 0.001,
    metaBatch: twenty ? 16 : 32,
    iterations: 60000,
    hidden: 64,
    logInterval: 100,
    evalInterval: 1000,
    valEpisodes: 100,
    testEpisodes: 600,
  };
}

export interface TrainFlags {
  dataset: string;
  ways?: string;
  shots?: string;
  queries?: string;
  innerSteps?: string;
  testInnerSteps?: string;
  innerLr?: string;
  metaLr?: string;
  metaBatch?: string;
  iterations?: string;
  seed: string;
  dataDir?: string;
  split?: string;
  hidden?: string;
  logInterval?: string;
  evalInterval?: string;
  valEpisodes?: string;
  testEpisodes?: string;
  out?: string;
  resume?: string;
  stopAfter?: string;
  imageSize?: string;
  progress: boolean;
  /** Algorithm-specific options, by key (see cli/algorithms). */
  [key: string]: string | boolean | undefined;
}

function resolveDataDir(flag: string | undefined): string {
  return resolve(flag ?? defaultDataDir());
}

/** Most episodes one evaluation accepts: the papers report 600 to 10,000. */
const MAX_EPISODES = 100_000;

/** Parses an episode count, which must lie in 1..MAX_EPISODES. */
function episodeCount(option: string, value: string): number {
  const count = parseNumber(option, value, 'integer', 1);
  if (count > MAX_EPISODES)
    throw new UsageError(
      `${option} ${value} is too large; use at most ${MAX_EPISODES} (the papers report 600 to 10,000 episodes).`,
    );
  return count;
}

// Maximum tasks per meta-update. MAML (Finn et al. 2017) uses 4 to 32. Every task
// of a meta-batch is sampled and uploaded before the step. A 20-way 5-shot Omniglot
// task with 15 queries is 1.25 MB of floats and a 5-way 5-shot 84x84 image-set task
// 8.5 MB, so 1024 tasks take from 1.3 GB to 8.7 GB of host memory.
const MAX_META_BATCH = 1024;

/** Largest --image-size accepted for the image sets. */
const MAX_IMAGE_SIZE = 256;

/** Returns the run configuration of `metagrad train` from its flags, with the papers' defaults filled in. */
export function buildConfig(algorithmName: string, flags: TrainFlags): TrainConfig {
  const spec = algorithmSpec(algorithmName);
  const algorithm = spec.name;
  const dataset = parseChoice('--dataset', flags.dataset, DATASETS);
  if (!spec.datasets.includes(dataset)) {
    throw new UsageError(
      `${algorithm} does not run on --dataset ${dataset}; use one of: ${spec.datasets.join(', ')}.`,
    );
  }
  for (const flag of spec.unusedFlags ?? []) {
    const key = flag.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
    if (flags[key] !== undefined)
      throw new UsageError(`${flag} does not apply to ${algorithm}; leave it out.`);
  }
  const int = (option: string, value: string | undefined, fallback: number, min = 1) =>
    value === undefined ? fallback : parseNumber(option, value, 'integer', min);
  const num = (option: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const parsed = parseNumber(option, value, 'number');
    if (!(parsed > 0)) throw new UsageError(`${option} ${value} must be positive.`);
    return parsed;
  };
  const ways = int('--ways', flags.ways, dataset === 'sine' ? 1 : 5, 2);
  const base = { ...defaults(dataset, ways), ...spec.defaults?.(dataset, ways) };
  if (dataset === 'sine') {
    const given = [
      ['--ways', flags.ways],
      ['--split', flags.split],
      ['--data-dir', flags.dataDir],
    ].find(([, value]) => value !== undefined);
    if (given)
      throw new UsageError(
        `${given[0]} does not apply to --dataset sine, which is regression; leave it out.`,
      );
  }
  if (isImageSet(dataset) && flags.split !== undefined)
    throw new UsageError(
      `--split applies to --dataset omniglot; ${dataset} uses its standard few-shot class split, so leave it out.`,
    );
  if (!isImageSet(dataset) && flags.imageSize !== undefined && !spec.resizesOmniglot)
    throw new UsageError(
      `--image-size applies to --dataset ${IMAGE_SETS.join(', ')}, and to mann on omniglot, not to ${algorithm} on ${dataset}; leave it out.`,
    );
  const config: TrainConfig = {
    algorithm,
    dataset,
    ways: dataset === 'sine' ? 1 : ways,
    shots: int('--shots', flags.shots, base.shots),
    queries: int('--queries', flags.queries, base.queries),
    innerSteps:
      flags.innerSteps === undefined
        ? base.innerSteps
        : innerStepCount('--inner-steps', flags.innerSteps),
    testInnerSteps:
      flags.testInnerSteps === undefined
        ? Math.max(
            base.testInnerSteps,
            flags.innerSteps === undefined ? base.innerSteps : Number(flags.innerSteps),
          )
        : innerStepCount('--test-inner-steps', flags.testInnerSteps),
    innerLr: num('--inner-lr', flags.innerLr, base.innerLr),
    metaLr: num('--meta-lr', flags.metaLr, base.metaLr),
    metaBatch: int('--meta-batch', flags.metaBatch, base.metaBatch),
    iterations: int('--iterations', flags.iterations, base.iterations),
    seed: parseNumber('--seed', flags.seed, 'integer', 0),
    dataDir: isImageSet(dataset)
      ? resolve(flags.dataDir ?? join(defaultDataDir(), IMAGE_SET_INFO[dataset].folder))
      : resolveDataDir(flags.dataDir),
    split: parseChoice('--split', flags.split ?? 'vinyals', ['vinyals', 'lake'] as const),
    hidden: int('--hidden', flags.hidden, base.hidden),
    logInterval: int('--log-interval', flags.logInterval, base.logInterval),
    evalInterval: int('--eval-interval', flags.evalInterval, base.evalInterval),
    valEpisodes:
      flags.valEpisodes === undefined
        ? base.valEpisodes
        : episodeCount('--val-episodes', flags.valEpisodes),
    testEpisodes:
      flags.testEpisodes === undefined
        ? base.testEpisodes
        : episodeCount('--test-episodes', flags.testEpisodes),
    out: '',
    options: parseAlgorithmOptions(algorithm, flags),
  };
  // Four 2x2 poolings, and the relation module's two more on 1/4-size maps, need 16 pixels.
  if (isImageSet(dataset)) {
    config.imageSize = int(
      '--image-size',
      flags.imageSize,
      IMAGE_SET_INFO[dataset].defaultSize,
      16,
    );
    // Every image of the set is kept in memory as bytes at this size: mini-ImageNet's
    // 60,000 images take 1.3 GB at 84x84, and memory grows with the square of the side.
    if (config.imageSize > MAX_IMAGE_SIZE)
      throw new UsageError(
        `--image-size ${config.imageSize} is too large; use at most ${MAX_IMAGE_SIZE} (the papers use 32 for CIFAR-100 and 84 for CUB and mini-ImageNet).`,
      );
  } else if (flags.imageSize !== undefined)
    config.imageSize = int('--image-size', flags.imageSize, 28, 1);
  if (dataset === 'sine') {
    checkSinePoints('--shots', config.shots);
    checkSinePoints('--queries', config.queries);
  }
  if (config.metaBatch > MAX_META_BATCH)
    throw new UsageError(
      `--meta-batch ${flags.metaBatch} is too large; use at most ${MAX_META_BATCH} tasks (MAML uses 4 to 32).`,
    );
  config.logInterval = Math.min(config.logInterval, config.iterations);
  config.evalInterval = Math.min(config.evalInterval, config.iterations);
  config.out = resolve(
    flags.out ??
      join(
        'runs',
        `${algorithm}-${dataset}${dataset === 'sine' ? '' : `-${config.ways}w${config.shots}s`}-seed${config.seed}`,
      ),
  );
  const dataOrigin = describeDataDir(flags.dataDir, config.dataDir);
  if (isImageSet(dataset)) checkImageSetDir(dataset, config.dataDir, dataOrigin);
  if (dataset === 'omniglot' && !existsSync(config.dataDir)) {
    throw new UsageError(
      `${dataOrigin} does not exist; download Omniglot with \`${commandName()} data omniglot --data-dir ${config.dataDir}\` or point --data-dir or METAGRAD_DATA at it.`,
    );
  }
  return config;
}

/** Reads the options of `algorithm` from the flags and rejects options that belong to other algorithms. */
function parseAlgorithmOptions(
  algorithm: string,
  flags: TrainFlags,
): Record<string, number | string | boolean> {
  const parsed: Record<string, number | string | boolean> = {};
  for (const { option, algorithms } of algorithmOptions()) {
    const value = flags[option.key];
    const name = option.flag.split(' ')[0];
    if (!algorithms.includes(algorithm)) {
      if (value !== undefined)
        throw new UsageError(
          `${name} applies to ${algorithms.join(', ')}, not ${algorithm}; leave it out.`,
        );
      continue;
    }
    if (value === undefined) parsed[option.key] = option.default;
    else if (option.type === 'boolean') parsed[option.key] = value === true;
    else if (option.type === 'choice')
      parsed[option.key] = parseChoice(name, String(value), option.choices ?? []);
    else {
      const number = parseNumber(name, String(value), option.type, option.min);
      if (option.positive && !(number > 0))
        throw new UsageError(`${name} ${String(value)} must be positive; use a value above 0.`);
      parsed[option.key] = number;
    }
  }
  return parsed;
}

async function readConfig(runDir: string): Promise<TrainConfig> {
  const path = join(resolve(runDir), 'config.json');
  if (!existsSync(path)) throw new UsageError(`${runDir} is not a run folder: ${path} is missing.`);
  return parseRunConfig(path, await readFile(path, 'utf8'));
}

export function program(): Command {
  const cli = new Command('metagrad')
    .description(
      'Meta-learning on WebGPU: train and evaluate meta-learners on sinusoids and Omniglot.',
    )
    .showSuggestionAfterError(true)
    .exitOverride();

  const data = cli.command('data').description('Download datasets.');
  data
    .command('omniglot')
    .description('Download the two Omniglot zips of the official release and check their MD5 sums.')
    .option(
      '--data-dir <dir>',
      'folder to store the data in (default: $METAGRAD_DATA or ~/.cache/metagrad)',
    )
    .option('--base-url <url>', 'where the release files are served from')
    .option('--force', 'download again even when a file of the same name is present')
    .action(async (flags: { dataDir?: string; baseUrl?: string; force?: boolean }) => {
      checkPathOptions(flags, ['--data-dir']);
      const dir = resolveDataDir(flags.dataDir);
      if (existsSync(dir) && !statSync(dir).isDirectory()) {
        throw new UsageError(`--data-dir ${dir} is a file; give a folder to store the data in.`);
      }
      for (const file of omniglotFiles(checkBaseUrl(flags.baseUrl))) {
        const bar = new SingleBar(
          {
            format: `  ${file.name} [{bar}] {percentage}% | {value}/{total} bytes`,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        const result = await downloadFile(
          file,
          dir,
          {
            start: (_name, total) => bar.start(total ?? 0, 0),
            update: (received) => bar.update(received),
            stop: () => bar.stop(),
          },
          { force: flags.force },
        );
        const messages: Record<typeof result, string> = {
          downloaded: `${file.name}: downloaded to ${dir}, MD5 ok`,
          present: `${file.name}: already in ${dir} with the release's MD5, skipped`,
          'present-modified':
            `${file.name}: already in ${dir} but its MD5 differs from the release's; kept it ` +
            '(local files are read without checks). Pass --force to download the release file again.',
        };
        console.log(messages[result]);
      }
    });

  const trainCommand = cli
    .command('train')
    .description(
      'Meta-train a learner; writes config.json, metrics.jsonl, model.safetensors, curves.svg and result.json to --out.',
    )
    .argument('<algorithm>', `one of: ${algorithmNames().join(', ')}`)
    .addOption(new Option('--dataset <name>', DATASETS.join(', ')).default('sine'))
    .option('--ways <n>', 'classes per task (omniglot and the image sets; default 5)')
    .option('--shots <k>', 'support examples per class (sine: points per task; default 1, sine 10)')
    .option('--queries <q>', 'query examples per class (default 15, sine 10)')
    .option(
      '--inner-steps <s>',
      'inner-loop gradient steps in training (default 1; 5 for 20-way and the image sets)',
    )
    .option(
      '--test-inner-steps <s>',
      'inner-loop steps at evaluation (default 3; sine and the image sets 10)',
    )
    .option(
      '--inner-lr <a>',
      'inner-loop learning rate (default 0.4; 0.1 for 20-way; sine and the image sets 0.01)',
    )
    .option('--meta-lr <b>', 'Adam learning rate of the meta-update (default 0.001)')
    .option(
      '--meta-batch <m>',
      'tasks per meta-update (default 32; 16 for 20-way; sine 25; the image sets 4)',
    )
    .option('--iterations <t>', 'meta-updates (default 60000, sine 70000)')
    .option(
      '--hidden <h>',
      'hidden channels (conv net, default 64; 32 for the MAML family on the image sets) or units (sine MLP, default 40)',
    )
    .option('--seed <n>', 'seed of every random draw', '0')
    .option(
      '--data-dir <dir>',
      'Omniglot folder with images_background and images_evaluation (zips or folders); for cifar100, cub and miniimagenet the release folder (default: cifar-100-binary, CUB_200_2011 or mini-imagenet in $METAGRAD_DATA)',
    )
    .option(
      '--image-size <n>',
      'side of the square images of cifar100 (default 32), cub and miniimagenet (default 84); for mann on omniglot a divisor of 28 (default 28)',
    )
    .option(
      '--split <name>',
      'Omniglot split: vinyals (1,200 train characters) or lake (background/evaluation) (default vinyals)',
    )
    .option(
      '--log-interval <n>',
      'iterations per metrics.jsonl line and resumable checkpoint (default 100)',
    )
    .option('--eval-interval <n>', 'iterations between validations (default 1000)')
    .option('--val-episodes <n>', 'validation episodes (default 100)')
    .option('--test-episodes <n>', 'test episodes for result.json (default 600)')
    .option('--out <dir>', 'run folder (default runs/<algorithm>-<dataset>-...)')
    .option('--resume <run-dir>', 'continue a stopped run from its last checkpoint')
    .addOption(
      new Option(
        '--stop-after <n>',
        'stop after n iterations of this invocation, leaving the run resumable',
      ).hideHelp(),
    )
    .option('--no-progress', 'print no progress bar')
    .addHelpText(
      'after',
      '\nAlgorithms:\n' +
        [...ALGORITHMS.values()]
          .map((spec) => `  ${spec.name.padEnd(12)} ${spec.family.padEnd(13)} ${spec.summary}`)
          .join('\n'),
    );
  for (const { option, algorithms } of algorithmOptions()) {
    trainCommand.option(
      option.type === 'boolean' ? option.flag.split(' ')[0] : option.flag,
      `${option.description} (${algorithms.join(', ')}; default ${String(option.default)})`,
    );
  }
  trainCommand.action(async (algorithm: string, flags: TrainFlags, command: Command) => {
    checkPathOptions(flags, ['--out', '--resume', '--data-dir']);
    if (flags.resume !== undefined) {
      await mg.init();
      // A resumed run keeps the settings saved in its config.json.
      const given = command.options
        .filter((option) => command.getOptionValueSource(option.attributeName()) === 'cli')
        .map((option) => option.long!)
        // --data-dir is where the data lies now, not a setting of the run.
        .filter(
          (name) => !['--resume', '--no-progress', '--stop-after', '--data-dir'].includes(name),
        );
      if (given.length > 0) {
        throw new UsageError(
          `--resume continues a run with the settings in ${join(flags.resume, 'config.json')}; leave out ${given.join(', ')}.`,
        );
      }
      const config = await readConfig(flags.resume);
      if (config.algorithm !== algorithm) {
        throw new UsageError(
          `--resume ${flags.resume} is a ${config.algorithm} run, not ${algorithm}; use \`${commandName()} train ${config.algorithm} --resume ${flags.resume}\`.`,
        );
      }
      config.out = resolve(flags.resume);
      if (flags.dataDir !== undefined) config.dataDir = resolve(flags.dataDir);
      outcome = await train(config, {
        resume: true,
        progress: flags.progress,
        stopAfter: stopAfter(flags),
      });
      return;
    }
    // The flags are checked before the GPU starts, so a mistyped command fails at once.
    const config = buildConfig(algorithm, flags);
    if (existsSync(config.out) && !statSync(config.out).isDirectory()) {
      throw new UsageError(`--out ${config.out} is a file; give a folder for the run.`);
    }
    checkOutputFolder('--out', config.out);
    if (existsSync(join(config.out, 'config.json'))) {
      throw new UsageError(
        `--out ${config.out} already holds a run; continue it with \`${commandName()} train ${config.algorithm} --resume ${config.out}\`, or choose another --out.`,
      );
    }
    await mg.init();
    outcome = await train(config, {
      resume: false,
      progress: flags.progress,
      stopAfter: stopAfter(flags),
    });
  });

  cli
    .command('eval')
    .description(
      'Evaluate the best checkpoint of a run on the fixed test episodes and rewrite its result.json.',
    )
    .argument('<run-dir>', 'a folder written by metagrad train')
    .option('--episodes <n>', 'test episodes', '600')
    .option(
      '--lake <zip>',
      "also score Lake's 20-way one-shot runs in this all_runs.zip; writes lake.json",
    )
    .option(
      '--data-dir <dir>',
      'the data folder (Omniglot or the image set), when it has moved since training',
    )
    .option(
      '--ways <n>',
      "classes per test episode (default: the run's); another value only for metric-based learners",
    )
    .option('--shots <k>', "support examples per class of each test episode (default: the run's)")
    .option('--queries <q>', "query examples per class of each test episode (default: the run's)")
    .option(
      '--test-inner-steps <s>',
      "inner steps of adaptation on each test episode (default: the run's)",
    )
    .action(
      async (
        runDir: string,
        flags: { episodes: string; lake?: string; dataDir?: string } & EvalShapeFlags,
      ) => {
        checkPathOptions(flags, ['--data-dir', '--lake']);
        const episodes = episodeCount('--episodes', flags.episodes);
        const trained = await readConfig(runDir);
        if (trained.dataset === 'sine' && flags.dataDir !== undefined)
          throw new UsageError(
            '--data-dir does not apply to a --dataset sine run, which is regression; leave it out.',
          );
        const config = evalConfig(trained, flags);
        config.out = resolve(runDir);
        if (flags.dataDir !== undefined) config.dataDir = resolve(flags.dataDir);
        const shapeLine = describeEvalShape(trained, config);
        if (shapeLine) console.log(shapeLine);
        await mg.init();
        const source = await makeSource(config, (line) => console.log(line), true);
        const { learner } = learnerFor(config, source);
        const state = await loadCheckpoint(config.out, 'model', learner, false, config.algorithm);
        if (flags.lake)
          console.log(await evaluateLakeRuns(config, source, learner, resolve(flags.lake)));
        const test = await evaluateTasks(learner, source, 'test', episodes, config.seed);
        await writeResult(config.out, config, source, test, state.best);
        console.log(formatResult(source, test, config));
      },
    );

  cli
    .command('compare')
    .description(
      'Run trained sine learners on the same new tasks: time per task at test time and a figure of their predictions.',
    )
    .argument('<run-dirs...>', 'folders written by metagrad train on --dataset sine')
    .option('--shots <k>', 'support points of each task', '5')
    .option('--plot-tasks <n>', 'tasks in the figure', '3')
    .option('--timing-tasks <n>', 'tasks timed per learner', '50')
    .option('--seed <n>', 'seed of the tasks', '1')
    .option('--out <file>', 'SVG file to write', 'compare.svg')
    .action(
      async (
        runDirs: string[],
        flags: { shots: string; plotTasks: string; timingTasks: string; seed: string; out: string },
      ) => {
        checkPathOptions(flags, ['--out']);
        const shots = parseNumber('--shots', flags.shots, 'integer', 1);
        checkSinePoints('--shots', shots);
        const plotTasks = parseNumber('--plot-tasks', flags.plotTasks, 'integer', 1);
        const timingTasks = parseNumber('--timing-tasks', flags.timingTasks, 'integer', 1);
        const seed = parseNumber('--seed', flags.seed, 'integer', 0);
        // Checked before the learners run, so a bad path costs no time.
        const out = resolve(flags.out);
        if (existsSync(out) && statSync(out).isDirectory()) {
          throw new UsageError(`--out ${out} is a folder; give the path of an SVG file to write.`);
        }
        if (!existsSync(dirname(out))) {
          throw new UsageError(
            `--out ${out}: the folder ${dirname(out)} does not exist; create it or write the SVG elsewhere.`,
          );
        }
        const runs = [];
        for (const dir of runDirs) runs.push({ dir: resolve(dir), config: await readConfig(dir) });
        await mg.init();
        await runCompare({ runs, shots, plotTasks, timingTasks, seed, out });
      },
    );

  cli
    .command('start')
    .description(
      'The default demo: second-order MAML on sinusoids against a jointly pretrained baseline, with a figure.',
    )
    .option('--out <dir>', 'folder for the figure and numbers', 'runs/start')
    .option('--iterations <t>', 'meta-updates', '1000')
    .action(async (flags: { out: string; iterations: string }) => {
      checkPathOptions(flags, ['--out']);
      const out = resolve(flags.out);
      if (existsSync(out) && !statSync(out).isDirectory()) {
        throw new UsageError(`--out ${out} is a file; give a folder for the figure and numbers.`);
      }
      checkOutputFolder('--out', out);
      await mg.init();
      await runStart({
        out: resolve(flags.out),
        iterations: parseNumber('--iterations', flags.iterations, 'integer', 1),
      });
    });

  registerTransfer(cli, (result) => {
    outcome = result;
  });

  return cli;
}

function checkBaseUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `--base-url ${JSON.stringify(value)} is not a URL; give one such as https://host/path.`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      `--base-url ${value} uses ${url.protocol}; only http: and https: are supported.`,
    );
  }
  return value.replace(/\/+$/, '');
}

function stopAfter(flags: TrainFlags): number | undefined {
  return flags.stopAfter === undefined
    ? undefined
    : parseNumber('--stop-after', flags.stopAfter, 'integer', 1);
}

/** Runs the command line; returns the exit code. */
// The outcome of a `train` command, for the exit code: 130 after Ctrl-C, as shells expect.
let outcome: TrainOutcome = 'finished';

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return outcome === 'interrupted' ? 130 : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message; help and version are not errors.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (
      error instanceof UsageError ||
      error instanceof EpisodeShapeError ||
      error instanceof OmniglotDataError
    ) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    // METAGRAD_DEBUG=1 prints the stack trace of an unexpected error.
    console.error(
      process.env.METAGRAD_DEBUG ? (error as Error).stack : `error: ${(error as Error).message}`,
    );
    return 1;
  }
}
