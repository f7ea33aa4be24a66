// Module: the base of every layer. A module owns named parameters (f32 leaves
// that require grad), named buffers (state such as BatchNorm's running
// statistics) and child modules, and names them with dots as PyTorch does
// (`features.0.weight`). Forward passes read parameters through `param(name)`,
// which `functionalCall` redirects to a caller-given map.

import { copyInto } from '../../kernels/optim';
import { keep } from '../memory';
import { formatShape, sameShape } from '../shape';
import { Tensor } from '../tensor';

/** Parameter and buffer tensors by dotted name. */
export type TensorMap = Map<string, Tensor> | Record<string, Tensor>;

/** Options of `functionalCallWith`. */
export interface FunctionalCallOptions {
  /**
   * Let BatchNorm layers update their running statistics from the batch, as a
   * plain training-mode forward does. Off by default, so an inner-loop step
   * leaves the model's buffers untouched.
   */
  updateBuffers?: boolean;
}

// The override state of the functional call in progress: per module, the
// tensors that replace its own parameters and buffers.
interface Override {
  readonly tensors: Map<Module<AnyArgs, unknown>, Map<string, Tensor>>;
  readonly updateBuffers: boolean;
}
let activeOverride: Override | null = null;

// Forward signatures differ between modules (LSTMCell also takes a state pair),
// so the base class and functionalCall accept any argument list.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyArgs = any[];

export abstract class Module<In extends AnyArgs = [Tensor], Out = Tensor> {
  /** True in training mode (the default): BatchNorm uses batch statistics and Dropout drops. */
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module<AnyArgs, unknown>>();

  abstract forward(...inputs: In): Out;

  /** Runs the forward pass; the same as `forward`. */
  call(...inputs: In): Out {
    return this.forward(...inputs);
  }

  /** Adds a parameter: it becomes a leaf that requires grad, owned by this module. */
  protected registerParameter(name: string, value: Tensor): Tensor {
    this.checkNewName(name);
    if (value.dtype !== 'f32')
      throw new Error(
        `registerParameter(${name}): parameters must be f32, got ${value.dtype}; register integer state as a buffer.`,
      );
    if (!value.isLeaf)
      throw new Error(
        `registerParameter(${name}): parameters must be leaf tensors; pass value.detach() to cut it from the graph.`,
      );
    value.requiresGrad_(true);
    // The module owns its tensors, so a model built inside mg.tidy outlives the scope.
    this.ownParameters.set(name, keep(value));
    return value;
  }

  /** Adds a buffer: state saved with the module but not trained (for example running statistics). */
  protected registerBuffer(name: string, value: Tensor): Tensor {
    this.checkNewName(name);
    this.ownBuffers.set(name, keep(value));
    return value;
  }

  /** Adds a child module under `name`; its tensors are named `name.<their name>`. */
  protected registerModule<M extends Module<AnyArgs, unknown>>(name: string, module: M): M {
    this.checkNewName(name);
    this.children.set(name, module);
    return module;
  }

  private checkNewName(name: string): void {
    if (name === '' || name.includes('.'))
      throw new Error(
        `Module: the name "${name}" is invalid; names must be non-empty and contain no dot.`,
      );
    if (this.ownParameters.has(name) || this.ownBuffers.has(name) || this.children.has(name))
      throw new Error(`Module: "${name}" is already registered on ${this.constructor.name}.`);
  }

  /** Returns parameter `name` of this module, or its replacement inside a functional call. */
  param(name: string): Tensor {
    const replaced = activeOverride?.tensors.get(this)?.get(name);
    if (replaced) return replaced;
    const own = this.ownParameters.get(name);
    if (!own)
      throw new Error(
        `${this.constructor.name}: no parameter named "${name}"; its parameters are ${[...this.ownParameters.keys()].join(', ') || 'none'}.`,
      );
    return own;
  }

  /** Returns buffer `name` of this module, or its replacement inside a functional call. */
  buffer(name: string): Tensor {
    const replaced = activeOverride?.tensors.get(this)?.get(name);
    if (replaced) return replaced;
    const own = this.ownBuffers.get(name);
    if (!own)
      throw new Error(
        `${this.constructor.name}: no buffer named "${name}"; its buffers are ${[...this.ownBuffers.keys()].join(', ') || 'none'}.`,
      );
    return own;
  }

  /** True inside a functional call that did not ask to update buffers. */
  protected get buffersFrozen(): boolean {
    return activeOverride !== null && !activeOverride.updateBuffers;
  }

  /** Yields [dottedName, module] for this module (name '') and every descendant, depth first. */
  *namedModules(prefix = ''): Generator<[string, Module<AnyArgs, unknown>]> {
    yield [prefix, this];
    for (const [name, child] of this.children) {
      yield* child.namedModules(prefix === '' ? name : `${prefix}.${name}`);
    }
  }

  /** Direct children by name. */
  namedChildren(): [string, Module<AnyArgs, unknown>][] {
    return [...this.children];
  }

  /** Returns every parameter by dotted name, in registration order, children after their parent's own. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, value] of module.ownParameters)
        out.push([prefix === '' ? name : `${prefix}.${name}`, value]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, value]) => value);
  }

  /** Returns every buffer by dotted name. */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, value] of module.ownBuffers)
        out.push([prefix === '' ? name : `${prefix}.${name}`, value]);
    }
    return out;
  }

  /** Parameters and buffers by dotted name, as PyTorch's state_dict names them. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies `state` into this module's parameters and buffers in place (so an
   * optimizer holding them keeps working). Every key, shape and dtype is checked
   * before anything is written, so a mismatch leaves the module unchanged.
   * With `strict` (the default) missing and unexpected keys are errors.
   */
  loadStateDict(state: TensorMap, options: { strict?: boolean } = {}): void {
    const strict = options.strict ?? true;
    const given = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const problems: string[] = [];
    if (strict) {
      for (const name of own.keys()) if (!given.has(name)) problems.push(`missing key "${name}"`);
      for (const name of given.keys())
        if (!own.has(name)) problems.push(`unexpected key "${name}"`);
    }
    for (const [name, value] of given) {
      const target = own.get(name);
      if (!target) continue;
      if (!sameShape(value.shape, target.shape))
        problems.push(
          `"${name}" has shape ${formatShape(value.shape)}, expected ${formatShape(target.shape)}`,
        );
      else if (value.dtype !== target.dtype)
        problems.push(`"${name}" has dtype ${value.dtype}, expected ${target.dtype}`);
    }
    if (problems.length > 0)
      throw new Error(
        `loadStateDict: the state does not match ${this.constructor.name}: ${problems.join('; ')}. Nothing was loaded.`,
      );
    for (const [name, value] of given) {
      const target = own.get(name);
      if (target && target.size > 0) copyInto(value.buffer, target.buffer, target.size * 4);
    }
  }

  /** Sets training mode on this module and every descendant; returns this module. */
  train(mode = true): this {
    for (const [, module] of this.namedModules()) module.training = mode;
    return this;
  }

  /** Sets evaluation mode: BatchNorm uses running statistics and Dropout passes inputs through. */
  eval(): this {
    return this.train(false);
  }

  /** Sets the `.grad` of every parameter to null, disposing it. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** This module's own parameters and buffers, without those of its children. */
  ownTensors(): [string, Tensor][] {
    return [...this.ownParameters, ...this.ownBuffers];
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}

type AnyModule = Module<AnyArgs, unknown>;

function splitOverrides(module: AnyModule, params: TensorMap): Map<AnyModule, Map<string, Tensor>> {
  const given = params instanceof Map ? params : new Map(Object.entries(params));
  const owners = new Map<string, [AnyModule, string, Tensor]>();
  for (const [prefix, child] of module.namedModules()) {
    for (const [name, own] of child.ownTensors())
      owners.set(prefix === '' ? name : `${prefix}.${name}`, [child, name, own]);
  }

  const tensors = new Map<AnyModule, Map<string, Tensor>>();
  for (const [dotted, value] of given) {
    const owner = owners.get(dotted);
    if (!owner)
      throw new Error(
        `functionalCall: "${dotted}" is not a parameter or buffer of ${module.constructor.name}; ` +
          `its names are ${[...owners.keys()].join(', ')}.`,
      );
    const [child, name, own] = owner;
    if (!sameShape(value.shape, own.shape))
      throw new Error(
        `functionalCall: "${dotted}" has shape ${formatShape(value.shape)}, expected ${formatShape(own.shape)}.`,
      );
    let perModule = tensors.get(child);
    if (!perModule) tensors.set(child, (perModule = new Map()));
    perModule.set(name, value);
  }
  return tensors;
}

/**
 * Runs `module`'s forward with the tensors in `params` (by dotted name) in
 * place of its own parameters and buffers. Names not in the map use the
 * module's own tensors. The result is an ordinary graph of ops on those tensors, so it
 * is differentiable with respect to them to any order (MAML's adapted weights).
 * BatchNorm layers in training mode use batch statistics and do not write
 * running statistics; use `functionalCallWith` to let them.
 */
export function functionalCall<In extends AnyArgs, Out>(
  module: Module<In, Out>,
  params: TensorMap,
  ...inputs: In
): Out {
  return functionalCallWith(module, params, {}, ...inputs);
}

/** `functionalCall` with options. */
export function functionalCallWith<In extends AnyArgs, Out>(
  module: Module<In, Out>,
  params: TensorMap,
  options: FunctionalCallOptions,
  ...inputs: In
): Out {
  // A call nested inside another keeps the outer replacements for modules it does not name.
  const previous = activeOverride;
  const tensors = new Map<AnyModule, Map<string, Tensor>>();
  for (const [owner, replaced] of previous?.tensors ?? []) tensors.set(owner, new Map(replaced));
  for (const [owner, replaced] of splitOverrides(module, params)) {
    const merged = tensors.get(owner) ?? new Map<string, Tensor>();
    for (const [name, value] of replaced) merged.set(name, value);
    tensors.set(owner, merged);
  }
  const override: Override = { tensors, updateBuffers: options.updateBuffers ?? false };
  activeOverride = override;
  try {
    return module.forward(...inputs);
  } finally {
    activeOverride = previous;
  }
}

/** A module seen as a function of a parameter map, the shape meta-learners consume. */
export interface FunctionalView {
  /** The module's own parameters by dotted name (the meta-learned initialisation). */
  readonly params: Map<string, Tensor>;
  apply(params: Map<string, Tensor>, x: Tensor): Tensor;
}

/** Returns `module` as {params, apply}, where apply runs `functionalCall(module, params, x)`. */
export function functionalView(module: Module): FunctionalView {
  return {
    params: new Map(module.namedParameters()),
    apply: (params, x) => functionalCall(module, params, x),
  };
}
