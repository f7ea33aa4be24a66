// The tape. Every primitive op that runs with grad mode on and an input that
// requires grad appends a Node; `grad` walks the nodes in reverse tape order and
// calls each op's backward rule. Rules are written in this engine's own
// differentiable ops, so with `createGraph` the backward pass is itself recorded
// and can be differentiated again, to any order.

import type { Tensor } from './tensor';
import { formatShape, sameShape } from './shape';
import { keep } from './memory';
import { dispatchCount, yieldEventLoop } from '../kernels/runtime';
import type { Primitive, Primitives } from './ops/primitives';
import { ruleTable } from './ops/registry';

/** What a backward rule sees of the forward call. */
export interface BackwardContext<A> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly attrs: A;
  /** needsGrad[i] is false when input i needs no gradient, so the rule may return null for it. */
  readonly needsGrad: readonly boolean[];
}

/**
 * One primitive: a forward that launches kernels, paired with a backward that
 * returns one gradient per input (null where none is needed), built from
 * differentiable ops.
 */
export interface OpRule<A> {
  forward(inputs: readonly Tensor[], attrs: A): Tensor;
  backward(grad: Tensor, ctx: BackwardContext<A>): (Tensor | null)[];
}

/** A rule table covering exactly the primitives in P; a missing backward is a compile error. */
export type RuleTable<P extends Primitive> = { [K in P]: OpRule<Primitives[K]> };

export interface Node {
  /** Position on the tape; backward visits nodes in decreasing order. */
  readonly id: number;
  readonly op: Primitive;
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly attrs: unknown;
  /** Set once a backward pass without retainGraph has gone through the node. */
  freed: boolean;
}

let gradEnabled = true;
let nextNodeId = 0;

type TapeListener = (node: Node) => void;
const tapeListeners = new Set<TapeListener>();

export function isGradEnabled(): boolean {
  return gradEnabled;
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Runs fn with recording off: ops inside it build no graph. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with recording on, also inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

/**
 * Calls `listener` with each node recorded while fn runs, in tape order; the
 * second-order gradient explorer draws the tape from these.
 */
export function recordTape<T>(fn: () => T, listener: TapeListener): T {
  tapeListeners.add(listener);
  try {
    return fn();
  } finally {
    tapeListeners.delete(listener);
  }
}

/** Runs primitive `op` and records it on the tape when an input requires grad. */
export function apply<P extends Primitive>(
  op: P,
  inputs: readonly Tensor[],
  attrs: Primitives[P],
): Tensor {
  for (const input of inputs) input.assertLive(op);
  const rule = ruleTable()[op] as OpRule<Primitives[P]>;
  const output = noGrad(() => rule.forward(inputs, attrs));
  if (gradEnabled && inputs.some((input) => input.requiresGrad)) {
    const node: Node = { id: nextNodeId++, op, inputs, output, attrs, freed: false };
    output.attachNode(node);
    for (const listener of tapeListeners) listener(node);
  }
  return output;
}

export interface GradOptions {
  /** Gradients of the outputs; required when an output is not a scalar. */
  gradOutputs?: Tensor | readonly (Tensor | null)[];
  /** Record the backward pass so the gradients can be differentiated again. */
  createGraph?: boolean;
  /** Keep the graph for another backward pass; defaults to createGraph. */
  retainGraph?: boolean;
  /** Return null for an input that the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

function asList<T>(value: T | readonly T[]): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** Nodes that lie on a path from one of `targets` to the outputs, in decreasing tape order. */
function relevantNodes(outputs: readonly Tensor[], targets: ReadonlySet<Tensor>): Node[] {
  const leadsToTarget = new Map<Tensor, boolean>();
  const nodes: Node[] = [];

  // Iterative depth-first search: graphs of unrolled inner loops are deep.
  const visit = (root: Tensor): void => {
    const stack: { tensor: Tensor; expanded: boolean }[] = [{ tensor: root, expanded: false }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const { tensor } = top;
      if (leadsToTarget.has(tensor)) {
        stack.pop();
        continue;
      }
      const node = tensor.node;
      if (!top.expanded) {
        top.expanded = true;
        if (node) {
          for (const input of node.inputs) {
            if (input.requiresGrad && !leadsToTarget.has(input))
              stack.push({ tensor: input, expanded: false });
          }
          continue;
        }
      }
      stack.pop();
      const inputsLead = node
        ? node.inputs.some((input) => leadsToTarget.get(input) === true)
        : false;
      leadsToTarget.set(tensor, inputsLead || targets.has(tensor));
      if (node && inputsLead) nodes.push(node);
    }
  };
  for (const output of outputs) visit(output);
  nodes.sort((x, y) => y.id - x.id);
  for (const node of nodes) {
    if (node.freed) {
      throw new Error(
        `grad: the graph through op ${node.op} (output shape ${formatShape(node.output.shape)}) was already freed ` +
          'by an earlier backward pass; pass retainGraph: true to the first call to go through it twice.',
      );
    }
  }
  return nodes;
}

/** Reference-counted gradient accumulator keyed by tensor. */
class GradMap {
  private readonly grads = new Map<Tensor, Tensor>();
  private readonly holders = new Map<Tensor, number>();

  /** Tensors never disposed here: the gradOutputs the caller passed in. */
  constructor(private readonly owned: ReadonlySet<Tensor>) {}

  private release(g: Tensor): void {
    if (!this.owned.has(g) && !this.holders.has(g)) g.dispose();
  }

  get(tensor: Tensor): Tensor | undefined {
    return this.grads.get(tensor);
  }

  /** Adds g into tensor's gradient; the previous partial sum is disposed unless it is still held elsewhere. */
  accumulate(
    tensor: Tensor,
    g: Tensor,
    add: (a: Tensor, b: Tensor) => Tensor,
    disposeTemporaries: boolean,
  ): void {
    const previous = this.grads.get(tensor);
    const next = previous ? add(previous, g) : g;
    if (previous) this.drop(tensor, disposeTemporaries);
    this.grads.set(tensor, next);
    this.holders.set(next, (this.holders.get(next) ?? 0) + 1);
    if (previous && disposeTemporaries && next !== g) this.release(g);
  }

  /** Forgets tensor's gradient, disposing it when nothing else holds it. */
  drop(tensor: Tensor, disposeTemporaries: boolean): void {
    const g = this.grads.get(tensor);
    if (!g) return;
    this.grads.delete(tensor);
    const count = (this.holders.get(g) ?? 1) - 1;
    if (count > 0) this.holders.set(g, count);
    else {
      this.holders.delete(g);
      if (disposeTemporaries) this.release(g);
    }
  }
}

/**
 * Returns d(sum of outputs * gradOutputs)/d(input) for each input, as new tensors.
 * The graph is freed afterwards unless retainGraph (or createGraph) is set.
 */
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  options: GradOptions = {},
): (Tensor | null)[] {
  const steps = gradSteps(outputs, inputs, options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

// Dispatches between event-loop turns in gradAsync, well under the runtime's
// limit of 30,000 per turn.
const DISPATCHES_PER_TURN = 5_000;

/**
 * Runs `grad`, awaiting yieldEventLoop after every 5,000 kernel dispatches, so
 * that a backward pass through a long unrolled loop stays under the runtime's
 * limit of dispatches per event-loop turn. Code that runs during those turns must
 * not dispose this graph's tensors.
 */
export async function gradAsync(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  options: GradOptions = {},
): Promise<(Tensor | null)[]> {
  const steps = gradSteps(outputs, inputs, options);
  let turnStart = dispatchCount();
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (dispatchCount() - turnStart >= DISPATCHES_PER_TURN) {
      await yieldEventLoop();
      turnStart = dispatchCount();
    }
  }
}

// The body of `grad`, as a generator that yields after each node's backward rule.
// Grad mode is set per node, so code running between yields keeps its own mode.
function* gradSteps(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  options: GradOptions,
): Generator<void, (Tensor | null)[], void> {
  const outputList = asList(outputs);
  const inputList = asList(inputs);
  const createGraph = options.createGraph ?? false;
  const retainGraph = options.retainGraph ?? createGraph;
  const gradOutputs = options.gradOutputs === undefined ? undefined : asList(options.gradOutputs);

  if (gradOutputs && gradOutputs.length !== outputList.length) {
    throw new Error(
      `grad: got ${outputList.length} outputs but ${gradOutputs.length} gradOutputs; pass one per output.`,
    );
  }
  inputList.forEach((input, i) => {
    input.assertLive('grad');
    if (!input.requiresGrad) {
      throw new Error(
        `grad: input ${i} (shape ${formatShape(input.shape)}) does not require grad; call requiresGrad_() on it before the forward pass.`,
      );
    }
  });

  const engine = ops();
  const seeds = outputList.map((output, i) => {
    output.assertLive('grad');
    if (!output.requiresGrad) {
      throw new Error(
        `grad: output ${i} does not require grad, so it does not depend on any input that requires grad.`,
      );
    }
    const given = gradOutputs?.[i];
    if (given) {
      if (!sameShape(given.shape, output.shape)) {
        throw new Error(
          `grad: gradOutputs[${i}] has shape ${formatShape(given.shape)} but output ${i} has shape ${formatShape(output.shape)}.`,
        );
      }
      return given;
    }
    if (output.size !== 1) {
      throw new Error(
        `grad: output ${i} has shape ${formatShape(output.shape)}; an implicit gradient exists only for a single-element output. ` +
          'Pass gradOutputs, or reduce the output (for example with sum()) first.',
      );
    }
    return engine.onesLike(output);
  });

  const gradMap = new GradMap(new Set(gradOutputs?.filter((g): g is Tensor => g !== null)));
  const targets = new Set(inputList);
  const nodes = relevantNodes(outputList, targets);
  // Tensors whose gradient reaches a requested input. Rules skip the gradients of
  // all other inputs, such as conv2d's weight gradient when only the input's is requested.
  const needed = new Set<Tensor>(targets);
  for (const node of nodes) needed.add(node.output);
  const disposeTemporaries = !createGraph;

  withGradMode(createGraph, () =>
    outputList.forEach((output, i) => gradMap.accumulate(output, seeds[i], engine.add, false)),
  );

  for (const node of nodes) {
    withGradMode(createGraph, () => {
      const g = gradMap.get(node.output);
      if (!g) return;
      node.inputs.forEach((input, i) => {
        if (input.isDisposed && input.requiresGrad) {
          throw new Error(
            `grad: backward of op ${node.op} needs its input ${i}, which was disposed; keep it (mg.keep) ` +
              'or compute the gradient inside the same tidy scope as the forward pass.',
          );
        }
      });
      const needsGrad = node.inputs.map((input) => input.requiresGrad && needed.has(input));
      const rule = ruleTable()[node.op] as OpRule<unknown>;
      const inputGrads = rule.backward(g, {
        inputs: node.inputs,
        output: node.output,
        attrs: node.attrs,
        needsGrad,
      });

      node.inputs.forEach((input, i) => {
        const inputGrad = inputGrads[i];
        if (!input.requiresGrad || !inputGrad) return;
        if (!sameShape(inputGrad.shape, input.shape)) {
          throw new Error(
            `Internal error: the backward rule of ${node.op} returned a gradient of shape ${formatShape(inputGrad.shape)} ` +
              `for input ${i} of shape ${formatShape(input.shape)}.`,
          );
        }
        gradMap.accumulate(input, inputGrad, engine.add, disposeTemporaries);
      });
      if (!targets.has(node.output)) gradMap.drop(node.output, disposeTemporaries);
      if (!retainGraph) node.freed = true;
    });
    yield;
  }

  return inputList.map((input, i) => {
    const result = gradMap.get(input);
    if (result) {
      // The caller owns the result; a seed passed in by the caller is returned as a copy.
      return seeds.includes(result) ? engine.clone(result) : result;
    }
    if (options.allowUnused) return null;
    throw new Error(
      `grad: input ${i} (shape ${formatShape(input.shape)}) is not used to compute the outputs; ` +
        'pass allowUnused: true to get null for it instead.',
    );
  });
}

/** Leaves that require grad and that `output` depends on. */
function reachableLeaves(output: Tensor): Tensor[] {
  const leaves = new Set<Tensor>();
  const seen = new Set<Tensor>();
  const stack = [output];
  while (stack.length > 0) {
    const tensor = stack.pop()!;
    if (seen.has(tensor)) continue;
    seen.add(tensor);
    if (!tensor.node) {
      if (tensor.requiresGrad) leaves.add(tensor);
      continue;
    }
    for (const input of tensor.node.inputs) if (input.requiresGrad) stack.push(input);
  }
  return [...leaves];
}

/** Accumulates d(output)/d(leaf) into `leaf.grad` for every leaf that requires grad. */
export function backward(
  output: Tensor,
  gradOutput?: Tensor,
  options: Omit<GradOptions, 'gradOutputs' | 'allowUnused'> = {},
): void {
  const leaves = backwardLeaves(output);
  const grads = grad(output, leaves, { ...options, gradOutputs: gradOutput, allowUnused: true });
  accumulateLeafGrads(leaves, grads, options.createGraph ?? false);
}

/** `backward` through gradAsync: lets the event loop turn during a long backward pass. */
export async function backwardAsync(
  output: Tensor,
  gradOutput?: Tensor,
  options: Omit<GradOptions, 'gradOutputs' | 'allowUnused'> = {},
): Promise<void> {
  const leaves = backwardLeaves(output);
  const grads = await gradAsync(output, leaves, {
    ...options,
    gradOutputs: gradOutput,
    allowUnused: true,
  });
  accumulateLeafGrads(leaves, grads, options.createGraph ?? false);
}

function backwardLeaves(output: Tensor): Tensor[] {
  const leaves = reachableLeaves(output);
  if (leaves.length === 0) {
    throw new Error('backward: the tensor does not depend on any leaf that requires grad.');
  }
  return leaves;
}

function accumulateLeafGrads(
  leaves: Tensor[],
  grads: (Tensor | null)[],
  createGraph: boolean,
): void {
  const engine = ops();
  leaves.forEach((leaf, i) => {
    const g = grads[i];
    if (!g) return;
    const previous = leaf.grad;
    const total = previous ? withGradMode(createGraph, () => engine.add(previous, g)) : g;
    if (previous) {
      previous.dispose();
      if (total !== g) g.dispose();
    }
    leaf.grad = keep(total);
  });
}

// The ops that grad needs itself, bound late to avoid an import cycle at load time.
interface GradOps {
  add(a: Tensor, b: Tensor): Tensor;
  onesLike(t: Tensor): Tensor;
  clone(t: Tensor): Tensor;
}
let gradOps: GradOps | null = null;

export function bindGradOps(bound: GradOps): void {
  gradOps = bound;
}

function ops(): GradOps {
  if (!gradOps)
    throw new Error(
      'Internal error: the autograd ops were not bound; import metagrad through its index.',
    );
  return gradOps;
}
