// Memory-augmented neural network (Santoro et al. 2016, "One-shot learning with
// memory-augmented neural networks"): an LSTM controller with an external memory
// matrix, read by content (softmax over cosine similarities) and written with
// least-recently-used access (LRUA). An episode is a sequence: at step t the
// network receives image x_t with the one-hot label of step t - 1, and predicts the
// label of x_t. Binding a label to a new class therefore has to happen inside the
// episode, in the memory or the LSTM state, because the classes are new in every episode.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { LSTMCell, Linear, Module, type LSTMState } from '../../engine/nn/index';
import { Adam, clipGradNorm } from '../../engine/optim/index';
import type { ParamMap, Task } from '../meta/functional';
import { accuracyOf, type EvalResult, type MetaLearner, type StepResult } from '../meta/learner';
import { softplus } from './cnp';
import { copyStateTensors } from './state';

export type MemoryKind = 'external' | 'none';

export interface MannOptions {
  /** Flattened image size D. */
  inputSize: number;
  /** Classes per episode C. */
  classes: number;
  /** Units of the LSTM controller. */
  controllerSize: number;
  /** Rows N of the memory matrix. */
  memorySlots: number;
  /** Width S of a memory row (and of a key). */
  memorySize: number;
  /** Read heads H; each also writes. */
  readHeads: number;
  /** 'none' drops the memory and leaves the LSTM alone, the baseline of Santoro et al. */
  memory: MemoryKind;
  /** Decay γ of the usage weights per step. */
  usageDecay: number;
  /**
   * 'learned' multiplies each head's cosine similarities by a key strength
   * β = 1 + softplus(w_β · h) before the softmax, as the Neural Turing Machine's
   * content addressing does. 'none' keeps the plain softmax of cosines of Santoro
   * et al. Cosines lie in [-1, 1], so without β the read weights over N slots are
   * nearly uniform and a read returns a blur of the memory.
   */
  keyStrength: 'learned' | 'none';
}

/** The memory and its access weights between two steps of a batch of B episodes. */
export interface MemoryState {
  /** M, [B, N, S]. */
  memory: Tensor;
  /** Read weights of the previous step, [B, H, N]. */
  readWeights: Tensor;
  /** Usage weights w^u, [B, N]. */
  usage: Tensor;
  /** One-hot least-used slot of each head, [B, H, N]: head h gets the (h+1)-th least used slot. */
  leastUsed: Tensor;
}

export interface MemoryStepResult {
  state: MemoryState;
  /** The read vectors r_t, [B, H, S]. */
  reads: Tensor;
  /** The write weights w^w_t, [B, H, N]. */
  writeWeights: Tensor;
}

// A tiny constant memory at the start: cosine similarity against an all-zero row
// is clamped to 0 by the kernel's eps, which reads uniformly but passes no gradient
// to the key; 1e-6 rows give every key a defined similarity.
const INITIAL_MEMORY = 1e-6;

/** The state before the first step: constant memory, zero usage and read weights, least-used slots 0..H-1. */
export function initialMemoryState(
  batch: number,
  slots: number,
  size: number,
  heads: number,
): MemoryState {
  if (heads > slots)
    throw new Error(`MANN: ${heads} read heads need at least as many memory slots, got ${slots}.`);
  const usage = mg.zeros([batch, slots]);
  return {
    memory: mg.full([batch, slots, size], INITIAL_MEMORY),
    readWeights: mg.zeros([batch, heads, slots]),
    usage,
    leastUsed: leastUsedWeights(usage, heads),
  };
}

/**
 * Returns one-hot rows [B, H, N]: row h marks the (h+1)-th smallest usage of each
 * episode. Together the rows are the paper's w^lu (ones at the H least used slots),
 * and giving each head its own slot keeps two heads from writing into the same one.
 * The choice is discrete, so no gradient flows through it.
 */
export function leastUsedWeights(usage: Tensor, heads: number): Tensor {
  return mg.noGrad(() => {
    const slots = usage.shape[1];
    // rank_i = #{j : u_j < u_i} + #{j < i : u_j = u_i}, so equal usages (all zero
    // at the start) get distinct ranks in slot order. One broadcast comparison
    // costs far fewer dispatches than H rounds of argmin.
    const earlier = new Float32Array(slots * slots);
    for (let i = 0; i < slots; i++) for (let j = 0; j < i; j++) earlier[i * slots + j] = 1;
    const column = mg.unsqueeze(usage, 2);
    const row = mg.unsqueeze(usage, 1);
    const ties = mg.mul(mg.eq(row, column), mg.tensor(earlier, { shape: [slots, slots] }));
    const rank = mg.sum(mg.add(mg.lt(row, column), ties), -1);
    const headRanks = mg.tensor(
      Float32Array.from({ length: heads }, (_, h) => h),
      { shape: [1, heads, 1] },
    );
    return mg.eq(mg.unsqueeze(rank, 1), headRanks);
  });
}

/**
 * One memory access with keys k [B, H, S] and write-gate logits α [B, H, 1]:
 *   w^w_t = σ(α) w^r_{t-1} + (1 - σ(α)) w^lu_{t-1}          (write to the last read slot or a least used one)
 *   M_t   = M_{t-1} ⊙ (1 - Σ_h w^lu_{t-1,h}) + Σ_h w^w_{t,h} k_hᵀ   (clear the least used slots, then add)
 *   w^r_t = softmax_i β_h cos(k_h, M_t(i)),   r_t = w^r_t M_t
 *   w^u_t = γ w^u_{t-1} + Σ_h (w^r_{t,h} + w^w_{t,h})
 * and the least-used slots for the next step from w^u_t. The key strengths β [B, H, 1]
 * default to 1, the paper's softmax of plain cosines.
 */
export function memoryStep(
  previous: MemoryState,
  keys: Tensor,
  gateLogits: Tensor,
  usageDecay: number,
  strength?: Tensor,
): MemoryStepResult {
  const heads = keys.shape[1];
  const gate = mg.sigmoid(gateLogits);
  const writeWeights = mg.add(
    mg.mul(gate, previous.readWeights),
    mg.mul(mg.sub(1, gate), previous.leastUsed),
  );

  const cleared = mg.sub(1, mg.sum(previous.leastUsed, 1));
  const memory = mg.add(
    mg.mul(previous.memory, mg.unsqueeze(cleared, -1)),
    mg.matmulT(writeWeights, keys, true, false),
  );

  const similarity = mg.pairwiseCosineSimilarity(keys, memory);
  const readWeights = mg.softmax(strength ? mg.mul(similarity, strength) : similarity, -1);
  const reads = mg.matmulT(readWeights, memory);

  const usage = mg.add(
    mg.mul(previous.usage, usageDecay),
    mg.sum(mg.add(readWeights, writeWeights), 1),
  );
  const leastUsed = leastUsedWeights(usage, heads);
  return { state: { memory, readWeights, usage, leastUsed }, reads, writeWeights };
}

/** The controller, heads and output layer; forward maps episodes to logits at every step. */
export class Mann extends Module<[Tensor, Tensor], Tensor> {
  readonly options: MannOptions;
  readonly controller: LSTMCell;
  readonly keys: Linear | null;
  readonly gates: Linear | null;
  readonly strengths: Linear | null;
  readonly output: Linear;

  constructor(options: MannOptions) {
    super();
    this.options = options;
    const { inputSize, classes, controllerSize, memorySize, readHeads } = options;
    const external = options.memory === 'external';
    const readWidth = external ? readHeads * memorySize : 0;
    // The controller also receives the previous step's reads, so it can pass what memory returned into its own state.
    this.controller = this.registerModule(
      'controller',
      new LSTMCell(inputSize + classes + readWidth, controllerSize),
    );
    this.keys = external
      ? this.registerModule('keys', new Linear(controllerSize, readHeads * memorySize))
      : null;
    this.gates = external
      ? this.registerModule('gates', new Linear(controllerSize, readHeads))
      : null;
    this.strengths =
      external && options.keyStrength === 'learned'
        ? this.registerModule('strengths', new Linear(controllerSize, readHeads))
        : null;
    this.output = this.registerModule('output', new Linear(controllerSize + readWidth, classes));
  }

  /**
   * Returns logits [B, T, C] for images [B, T, D] and labels [B, T] (i32). Step t
   * gets the one-hot label of step t - 1 (zeros at t = 0) beside its image.
   */
  forward(images: Tensor, labels: Tensor): Tensor {
    const { inputSize, classes, controllerSize, memorySlots, memorySize, readHeads, usageDecay } =
      this.options;
    const [batch, steps] = images.shape;
    const previousLabels = mg.concat(
      [mg.zeros([batch, 1, classes]), mg.narrow(mg.oneHot(labels, classes), 1, 0, steps - 1)],
      1,
    );

    // The controller's input is [x_t, y_{t-1}, r_{t-1}]. The first two are known
    // for the whole episode, so their share of the gates, [x_t, y_{t-1}] W_ihᵀ, is one
    // matmul over all steps instead of one small matmul per step; only the reads'
    // columns of W_ih are applied inside the loop. The sum equals LSTMCell.forward
    // on the concatenated input.
    const known = inputSize + classes;
    const weightIh = this.controller.param('weight_ih');
    let inputGates = mg.matmulT(
      mg.concat([images, previousLabels], -1),
      mg.narrow(weightIh, 1, 0, known),
      false,
      true,
    );
    inputGates = mg.add(
      inputGates,
      mg.add(this.controller.param('bias_ih'), this.controller.param('bias_hh')),
    );
    const readColumns = this.keys ? mg.narrow(weightIh, 1, known, readHeads * memorySize) : null;

    let state: LSTMState = [mg.zeros([batch, controllerSize]), mg.zeros([batch, controllerSize])];
    let memory = this.keys && initialMemoryState(batch, memorySlots, memorySize, readHeads);
    let reads = this.keys ? mg.zeros([batch, readHeads * memorySize]) : null;
    const logits: Tensor[] = [];
    for (let t = 0; t < steps; t++) {
      let gates = mg.reshape(mg.narrow(inputGates, 1, t, 1), [batch, -1]);
      if (reads && readColumns) gates = mg.add(gates, mg.matmulT(reads, readColumns, false, true));
      state = lstmStep(this.controller, gates, state);
      const [h] = state;
      if (this.keys && this.gates && memory) {
        const keys = mg.reshape(mg.tanh(this.keys.forward(h)), [batch, readHeads, memorySize]);
        const gateLogits = mg.reshape(this.gates.forward(h), [batch, readHeads, 1]);
        // β = 1 + softplus(w_β · h) >= 1, so a head can only sharpen the paper's softmax.
        const strength = this.strengths
          ? mg.add(softplus(mg.reshape(this.strengths.forward(h), [batch, readHeads, 1])), 1)
          : undefined;
        const access = memoryStep(memory, keys, gateLogits, usageDecay, strength);
        memory = access.state;
        reads = mg.reshape(access.reads, [batch, readHeads * memorySize]);
        logits.push(this.output.forward(mg.concat([h, reads], -1)));
      } else {
        logits.push(this.output.forward(h));
      }
    }
    return mg.stack(logits, 1);
  }
}

/**
 * One LSTMCell step from precomputed input gates x W_ihᵀ + b_ih + b_hh: adds
 * h W_hhᵀ and applies the gates in PyTorch's order (input, forget, cell, output),
 * as LSTMCell.forward does.
 */
export function lstmStep(cell: LSTMCell, inputGates: Tensor, [h, c]: LSTMState): LSTMState {
  const hidden = cell.hiddenSize;
  const gates = mg.add(inputGates, mg.matmulT(h, cell.param('weight_hh'), false, true));
  const gate = (k: number): Tensor => mg.narrow(gates, 1, k * hidden, hidden);
  const cNext = mg.add(
    mg.mul(mg.sigmoid(gate(1)), c),
    mg.mul(mg.sigmoid(gate(0)), mg.tanh(gate(2))),
  );
  const hNext = mg.mul(mg.sigmoid(gate(3)), mg.tanh(cNext));
  return [hNext, cNext];
}

/**
 * Returns, for each step of a label sequence, which instance of its class it is
 * (1 for the first time the class appears, 2 for the second, ...).
 */
export function instanceIndices(labels: ArrayLike<number>): number[] {
  const seen = new Map<number, number>();
  return Array.from(labels, (label) => {
    const count = (seen.get(label) ?? 0) + 1;
    seen.set(label, count);
    return count;
  });
}

/** Accuracy at each instance index: entry k - 1 is the fraction of k-th instances predicted right. */
export function accuracyByInstance(
  logits: Float32Array,
  labels: ArrayLike<number>,
  classes: number,
): number[] {
  const instances = instanceIndices(labels);
  const correct: number[] = [];
  const total: number[] = [];
  for (let t = 0; t < labels.length; t++) {
    let best = 0;
    for (let c = 1; c < classes; c++)
      if (logits[t * classes + c] > logits[t * classes + best]) best = c;
    const k = instances[t] - 1;
    correct[k] = (correct[k] ?? 0) + (best === labels[t] ? 1 : 0);
    total[k] = (total[k] ?? 0) + 1;
  }
  return total.map((n, k) => correct[k] / n);
}

export interface MannLearnerOptions extends MannOptions {
  lr: number;
  /** Largest global L2 norm of the gradient per update; 0 turns clipping off. */
  clipNorm: number;
}

/**
 * Trains a MANN (or the LSTM baseline) on sequence tasks, whose supportX holds the
 * images [T, D] in presentation order and supportY the labels [T]; every step is
 * scored, so the query fields hold the same sequence.
 */
export class MannLearner implements MetaLearner {
  readonly name: string;
  readonly optimizer: Adam;
  readonly model: Mann;
  readonly clipNorm: number;

  constructor(options: MannLearnerOptions) {
    this.name = 'mann';
    this.model = new Mann(options);
    this.clipNorm = options.clipNorm;
    this.optimizer = new Adam(this.model.parameters(), { lr: options.lr });
  }

  stateTensors(): ParamMap {
    return this.model.stateDict();
  }

  loadStateTensors(tensors: ParamMap): void {
    copyStateTensors(this.model, tensors, 'mann checkpoint');
  }

  private checkTask(task: Task): void {
    const { inputSize } = this.model.options;
    if (task.supportX.ndim !== 2 || task.supportX.shape[1] !== inputSize) {
      throw new Error(
        `MANN: expected a sequence of flattened images [steps, ${inputSize}], got shape [${task.supportX.shape.join(', ')}].`,
      );
    }
  }

  /** Takes one Adam step on the mean cross-entropy over every step of every episode of the batch. */
  async trainStep(tasks: Task[]): Promise<StepResult> {
    tasks.forEach((task) => this.checkTask(task));
    const { classes } = this.model.options;
    const labels = mg.stack(tasks.map((task) => task.supportY));
    const { loss, logits } = mg.tidy(() => {
      const images = mg.stack(tasks.map((task) => task.supportX));
      const out = this.model.forward(images, labels);
      const flat = mg.reshape(out, [-1, classes]);
      const value = mg.crossEntropy(flat, mg.reshape(labels, [-1]));
      value.backward();
      // Backpropagation through every step of the sequence can give rare huge
      // gradients; clipping their global norm keeps a large learning rate usable.
      if (this.clipNorm > 0) clipGradNorm(this.model.parameters(), this.clipNorm);
      this.optimizer.step();
      this.optimizer.zeroGrad();
      return { loss: value.detach(), logits: flat.detach() };
    });
    await mg.yieldEventLoop();
    const [value, accuracy] = await Promise.all([loss.item(), accuracyOf(logits, labels)]);
    for (const t of [loss, logits, labels]) t.dispose();
    return { loss: value, accuracy };
  }

  /**
   * Runs one episode and scores every step: `accuracy` over all steps, and
   * metrics.accuracy_instance_k at the k-th instance of each class. No gradient
   * step is taken, so `steps` is ignored.
   */
  async evaluate(task: Task, _steps?: number, keepPrediction = false): Promise<EvalResult> {
    this.checkTask(task);
    const { classes } = this.model.options;
    const { logits, loss } = mg.tidy(() =>
      mg.noGrad(() => {
        const out = this.model.forward(
          mg.unsqueeze(task.supportX, 0),
          mg.unsqueeze(task.supportY, 0),
        );
        const flat = mg.reshape(out, [-1, classes]);
        return { logits: flat, loss: mg.crossEntropy(flat, task.supportY) };
      }),
    );
    await mg.yieldEventLoop();
    const [value, scores, truth] = await Promise.all([
      loss.item(),
      logits.data(),
      task.supportY.data(),
    ]);
    loss.dispose();
    const byInstance = accuracyByInstance(scores as Float32Array, truth, classes);
    const metrics: Record<string, number> = {};
    byInstance.forEach((accuracy, k) => (metrics[`accuracy_instance_${k + 1}`] = accuracy));
    const accuracy = await accuracyOf(logits, task.supportY);
    const result: EvalResult = { loss: value, accuracy, metrics };
    if (keepPrediction) result.prediction = logits;
    else logits.dispose();
    return result;
  }
}
