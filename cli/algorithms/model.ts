// The model-based family: a memory-augmented neural network on Omniglot
// sequences and a conditional neural process on sinusoids. Both answer a task
// in one forward pass, with no gradient step at test time.

import * as mg from '../../engine/index';
import { CnpLearner } from '../../algorithms/model/cnp';
import { MannLearner, type MemoryKind } from '../../algorithms/model/mann';
import { omniglotSequenceSource } from '../sequences';
import { UsageError } from '../errors';
import type { AlgorithmSpec } from './spec';

export const modelAlgorithms: AlgorithmSpec[] = [
  {
    name: 'mann',
    family: 'model',
    resizesOmniglot: true,
    summary: 'memory-augmented neural network: LSTM with LRU-access memory (Santoro et al. 2016)',
    datasets: ['omniglot'],
    options: [
      {
        flag: '--memory <kind>',
        key: 'memory',
        description: 'external memory, or none for the LSTM baseline',
        type: 'choice',
        choices: ['external', 'none'],
        default: 'external',
      },
      {
        flag: '--memory-slots <n>',
        key: 'memorySlots',
        description: 'rows of the memory matrix',
        type: 'integer',
        min: 1,
        default: 128,
      },
      {
        flag: '--memory-size <n>',
        key: 'memorySize',
        description: 'width of a memory row',
        type: 'integer',
        min: 1,
        default: 40,
      },
      {
        flag: '--read-heads <n>',
        key: 'readHeads',
        description: 'read heads, each also writing',
        type: 'integer',
        min: 1,
        default: 4,
      },
      {
        flag: '--controller-size <n>',
        key: 'controllerSize',
        description: 'units of the LSTM controller',
        type: 'integer',
        min: 1,
        default: 200,
      },
      {
        flag: '--key-strength <kind>',
        key: 'keyStrength',
        description:
          "learned: scale each read head's cosines by a learned strength >= 1 before the softmax; none: plain cosines, as in the paper",
        type: 'choice',
        choices: ['learned', 'none'],
        default: 'learned',
      },
      {
        flag: '--clip-norm <x>',
        key: 'clipNorm',
        description: 'largest global gradient norm per update (0: no clipping)',
        type: 'number',
        min: 0,
        default: 10,
      },
      {
        flag: '--instances <n>',
        key: 'instances',
        description: 'images of each class in one episode sequence',
        type: 'integer',
        min: 1,
        default: 10,
      },
    ],
    // A sequence shows --instances images of each class and has no query set, and
    // the controller is sized by --controller-size.
    sizeFlags: ['--memory-slots', '--memory-size', '--controller-size'],
    unusedFlags: [
      '--shots',
      '--queries',
      '--hidden',
      '--inner-steps',
      '--test-inner-steps',
      '--inner-lr',
    ],
    // Batches of 16 episodes, and Adam at 1e-3 so that short runs make progress.
    defaults: () => ({ metaBatch: 16, metaLr: 0.001, iterations: 100000, testEpisodes: 200 }),
    source: (config, onProgress) =>
      omniglotSequenceSource({
        dataDir: config.dataDir,
        split: config.split,
        ways: config.ways,
        instances: Number(config.options?.instances ?? 10),
        imageSize: config.imageSize ?? 28,
        onProgress,
      }),
    build(config, source) {
      const options = config.options ?? {};
      const slots = Number(options.memorySlots ?? 128);
      const heads = Number(options.readHeads ?? 4);
      if (heads > slots) {
        throw new UsageError(
          `--read-heads ${heads} is more than --memory-slots ${slots}; each head needs its own slot, so use at most ${slots} heads.`,
        );
      }
      // The memory state is [meta-batch, slots, size] and the least-used ranking
      // builds a [slots, slots] mask, so both must fit one GPU binding.
      const size = Number(options.memorySize ?? 40);
      const stateBytes = 4 * Math.max(config.metaBatch * slots * size, slots * slots);
      if (stateBytes > mg.maxTensorBytes()) {
        throw new UsageError(
          `--memory-slots ${slots} with --memory-size ${size} and --meta-batch ${config.metaBatch} needs a memory tensor of ${stateBytes} bytes, more than the GPU's largest storage binding (${mg.maxTensorBytes()} bytes); use fewer slots or a smaller --memory-size.`,
        );
      }
      return new MannLearner({
        inputSize: source.inputShape[0],
        classes: source.outputs,
        controllerSize: Number(options.controllerSize ?? 200),
        memorySlots: slots,
        memorySize: size,
        readHeads: heads,
        memory: String(options.memory ?? 'external') as MemoryKind,
        usageDecay: 0.95,
        // A config.json written before these options existed lacks them; its run
        // used plain cosines and no clipping, so its checkpoint still loads.
        keyStrength: String(options.keyStrength ?? 'none') as 'learned' | 'none',
        lr: config.metaLr,
        clipNorm: Number(options.clipNorm ?? 0),
      });
    },
  },
  {
    name: 'cnp',
    family: 'model',
    summary:
      'conditional neural process: mean-aggregated encoder and Gaussian decoder (Garnelo et al. 2018)',
    datasets: ['sine'],
    options: [
      {
        flag: '--representation-size <n>',
        key: 'representationSize',
        description: 'width of the task representation (mean of the encoded support pairs)',
        type: 'integer',
        min: 1,
        default: 128,
      },
    ],
    unusedFlags: ['--inner-steps', '--test-inner-steps', '--inner-lr'],
    sizeFlags: ['--hidden', '--representation-size'],
    // 128-unit layers, a usual width for CNPs on 1-D regression.
    defaults: () => ({ hidden: 128 }),
    build(config) {
      return new CnpLearner({
        hidden: config.hidden,
        representationSize: Number(config.options?.representationSize ?? 128),
        lr: config.metaLr,
      });
    },
  },
];
