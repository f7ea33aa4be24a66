// What `metagrad train` needs to know about one algorithm: its family, the
// datasets it runs on, its own options and defaults, and how to build its learner.
// Each family declares its entries in a file of this folder; index.ts joins them.

import type { MetaLearner } from '../../algorithms/meta/learner';
import type { TaskSource } from '../tasks';
import type { DatasetName, TrainConfig } from '../train';

export type Family = 'optimization' | 'metric' | 'model';

/** An option that only some algorithms take; its parsed value lands in `config.options[key]`. */
export interface AlgorithmOption {
  /** Commander flag, for example '--distance <name>' or '--fce'. */
  readonly flag: string;
  /** Key in config.options: the flag's camelCase name, as Commander reads it. */
  readonly key: string;
  readonly description: string;
  readonly type: 'integer' | 'number' | 'boolean' | 'choice';
  readonly choices?: readonly string[];
  /** Smallest accepted value of an integer or number option. */
  readonly min?: number;
  /** True when the value must be above 0 (exclusive, unlike `min`). */
  readonly positive?: boolean;
  readonly default: number | string | boolean;
}

/** The settings shared by every algorithm that an entry may set differently from the dataset's. */
export type SharedDefaults = Partial<
  Omit<
    TrainConfig,
    'algorithm' | 'dataset' | 'seed' | 'out' | 'dataDir' | 'split' | 'options' | 'imageSize'
  >
>;

export interface AlgorithmSpec {
  readonly name: string;
  readonly family: Family;
  /** One line for `metagrad train --help`. */
  readonly summary: string;
  readonly datasets: readonly DatasetName[];
  readonly options?: readonly AlgorithmOption[];
  /** Shared `metagrad train` flags this algorithm does not read, such as '--inner-lr'; the command rejects them when given. */
  readonly unusedFlags?: readonly string[];
  /** Options that set the model's tensor sizes, named when a tensor is too large for the GPU; default ['--hidden']. */
  readonly sizeFlags?: readonly string[];
  /** True when the learner does not depend on the number of classes (it compares queries with the support set), so `metagrad eval --ways` may differ from the training ways. */
  readonly anyWays?: boolean;
  /** True when the learner reads `--image-size` on Omniglot too, as a divisor of the 28-pixel side. */
  readonly resizesOmniglot?: boolean;
  /** Where the papers' settings for this algorithm differ from the dataset defaults. */
  defaults?(dataset: DatasetName, ways: number): SharedDefaults;
  build(config: TrainConfig, source: TaskSource): MetaLearner;
  /** Builds the task source when the dataset's default one does not fit, e.g. Omniglot sequences for the MANN. */
  source?(
    config: TrainConfig,
    onProgress: (done: number, total: number) => void,
  ): Promise<TaskSource>;
}
