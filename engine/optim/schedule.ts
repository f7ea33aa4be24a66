// Learning-rate schedules. Each scheduler remembers every group's initial lr and
// sets group.lr = initial lr * factor(t) (cosine: a value between etaMin and the
// initial lr) after each `step()`, with t counting calls to step() from 0 as
// PyTorch's last_epoch does.

import type { GroupOptions, Optimizer } from './optimizer';

export abstract class LRScheduler {
  /** Number of step() calls so far. */
  lastEpoch = 0;
  readonly baseLrs: number[];

  constructor(protected readonly optimizer: Optimizer<GroupOptions>) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
  }

  /** Returns group i's learning rate at step t. */
  protected abstract lrAt(t: number, baseLr: number): number;

  /** Writes the learning rates of the current step into the optimizer's groups. */
  protected apply(): void {
    this.optimizer.paramGroups.forEach((group, i) => {
      group.lr = this.lrAt(this.lastEpoch, this.baseLrs[i]);
    });
  }

  /** Advances the schedule by one step (call after optimizer.step()). */
  step(): void {
    this.lastEpoch += 1;
    this.apply();
  }

  /** Returns the current learning rate of each group. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): { lastEpoch: number; baseLrs: number[] } {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(state: { lastEpoch: number; baseLrs: number[] }): void {
    if (state.baseLrs.length !== this.baseLrs.length)
      throw new Error(
        `LRScheduler.loadStateDict: the state has ${state.baseLrs.length} groups, the optimizer has ${this.baseLrs.length}.`,
      );
    this.lastEpoch = state.lastEpoch;
    this.baseLrs.splice(0, this.baseLrs.length, ...state.baseLrs);
    this.apply();
  }
}

function checkSteps(schedule: string, option: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${schedule}: ${option} must be a positive integer, got ${value}.`);
}

/** lr = base * gamma^floor(t / stepSize), as torch.optim.lr_scheduler.StepLR. */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer<GroupOptions>, options: { stepSize: number; gamma?: number }) {
    super(optimizer);
    checkSteps('StepLR', 'stepSize', options.stepSize);
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    this.apply();
  }

  protected lrAt(t: number, baseLr: number): number {
    return baseLr * this.gamma ** Math.floor(t / this.stepSize);
  }
}

function warmupFactor(t: number, warmupSteps: number, startFactor: number): number {
  return startFactor + ((1 - startFactor) * Math.min(t, warmupSteps)) / warmupSteps;
}

/**
 * Linear warmup: the factor goes from startFactor to 1 over warmupSteps steps and
 * stays at 1, as torch.optim.lr_scheduler.LinearLR(start_factor, 1, total_iters).
 */
export class LinearWarmup extends LRScheduler {
  readonly warmupSteps: number;
  readonly startFactor: number;

  constructor(
    optimizer: Optimizer<GroupOptions>,
    options: { warmupSteps: number; startFactor?: number },
  ) {
    super(optimizer);
    checkSteps('LinearWarmup', 'warmupSteps', options.warmupSteps);
    this.warmupSteps = options.warmupSteps;
    this.startFactor = options.startFactor ?? 1 / 3;
    if (!(this.startFactor > 0 && this.startFactor <= 1))
      throw new Error(`LinearWarmup: startFactor must be in (0, 1], got ${this.startFactor}.`);
    this.apply();
  }

  protected lrAt(t: number, baseLr: number): number {
    return baseLr * warmupFactor(t, this.warmupSteps, this.startFactor);
  }
}

/**
 * Cosine annealing from the base lr to etaMin over tMax steps:
 * etaMin + (base - etaMin) (1 + cos(pi t / tMax)) / 2, the closed form of
 * torch.optim.lr_scheduler.CosineAnnealingLR. With warmupSteps > 0 a linear
 * warmup from warmupStartFactor * base to base comes first, and the cosine
 * phase starts after it (as SequentialLR of LinearLR and CosineAnnealingLR).
 */
export class CosineAnnealing extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;
  readonly warmupSteps: number;
  readonly warmupStartFactor: number;

  constructor(
    optimizer: Optimizer<GroupOptions>,
    options: { tMax: number; etaMin?: number; warmupSteps?: number; warmupStartFactor?: number },
  ) {
    super(optimizer);
    checkSteps('CosineAnnealing', 'tMax', options.tMax);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    this.warmupSteps = options.warmupSteps ?? 0;
    this.warmupStartFactor = options.warmupStartFactor ?? 1 / 3;
    if (!Number.isInteger(this.warmupSteps) || this.warmupSteps < 0)
      throw new Error(
        `CosineAnnealing: warmupSteps must be an integer >= 0, got ${this.warmupSteps}.`,
      );
    this.apply();
  }

  protected lrAt(t: number, baseLr: number): number {
    if (t < this.warmupSteps)
      return baseLr * warmupFactor(t, this.warmupSteps, this.warmupStartFactor);
    const phase = t - this.warmupSteps;
    return (
      this.etaMin + ((baseLr - this.etaMin) * (1 + Math.cos((Math.PI * phase) / this.tMax))) / 2
    );
  }
}
