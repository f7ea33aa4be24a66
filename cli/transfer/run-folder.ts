// The run folder of a `metagrad transfer` command, laid out as `metagrad train`
// lays out its own: config.json, metrics.jsonl, checkpoints (model.safetensors
// for the best model, last.* to resume), SVG plots and result.json. Writes of
// JSON and checkpoints are atomic. A run is made of stages (for example
// source-only, DANN, target-trained); finished stages are recorded in
// state.json with their results, and the stage in progress checkpoints every
// --log-interval steps, so --resume skips what is done and continues the rest.

import { existsSync, statSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as mg from '../../engine/index';
import {
  loadModule,
  loadOptimizer,
  saveModule,
  saveOptimizer,
  writeFileAtomic,
} from '../../engine/checkpoint';
import type { Module } from '../../engine/nn/module';
import type { GroupOptions, Optimizer } from '../../engine/optim/optimizer';
import { UsageError } from '../errors';
import { commandName } from '../invocation';

/** Raised inside a stage when Ctrl-C arrives; the stage has saved its checkpoint. */
export class Interrupted extends Error {
  override name = 'Interrupted';
}

export interface RunState {
  /** Results of finished stages, by stage name. */
  stages: Record<string, Record<string, number>>;
  /** The stage in progress and the steps it has completed. */
  current: { stage: string; step: number; engineRng: { seed: number; counter: number } } | null;
}

const encoder = new TextEncoder();

export class RunFolder {
  readonly out: string;
  state: RunState = { stages: {}, current: null };
  interrupted = false;
  private readonly onInterrupt = () => {
    this.interrupted = true;
  };

  private constructor(out: string) {
    this.out = out;
  }

  /**
   * Creates the folder and writes config.json, or with `resume` reads the state
   * of an existing run. A folder that already holds a run is rejected without `resume`.
   */
  static async open(
    out: string,
    config: object,
    resume: boolean,
    command: string,
  ): Promise<RunFolder> {
    const dir = resolve(out);
    if (existsSync(dir) && !statSync(dir).isDirectory())
      throw new UsageError(`--out ${dir} is a file; give a folder for the run.`);
    const folder = new RunFolder(dir);
    if (resume) {
      const statePath = join(dir, 'state.json');
      if (existsSync(statePath)) {
        try {
          folder.state = JSON.parse(await readFile(statePath, 'utf8')) as RunState;
        } catch (error) {
          throw new UsageError(
            `${statePath} is not valid JSON (${(error as Error).message}); the run folder is damaged, so restore the file or start a new run.`,
          );
        }
      }
    } else {
      if (existsSync(join(dir, 'config.json')))
        throw new UsageError(
          `--out ${dir} already holds a run; continue it with \`${commandName()} transfer ${command} --resume ${dir}\`, or choose another --out.`,
        );
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(
        join(dir, 'config.json'),
        encoder.encode(JSON.stringify(config, null, 2) + '\n'),
      );
    }
    process.once('SIGINT', folder.onInterrupt);
    return folder;
  }

  /** Stops listening for Ctrl-C. */
  close(): void {
    process.off('SIGINT', this.onInterrupt);
  }

  async saveState(): Promise<void> {
    await writeFileAtomic(
      join(this.out, 'state.json'),
      encoder.encode(JSON.stringify(this.state, null, 2) + '\n'),
    );
  }

  async metrics(row: Record<string, number | string>): Promise<void> {
    await appendFile(join(this.out, 'metrics.jsonl'), JSON.stringify(row) + '\n');
  }

  async readMetrics(): Promise<Record<string, number | string>[]> {
    const path = join(this.out, 'metrics.jsonl');
    if (!existsSync(path)) return [];
    return (await readFile(path, 'utf8'))
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as Record<string, number | string>);
  }

  done(stage: string): Record<string, number> | undefined {
    return this.state.stages[stage];
  }

  async finishStage(stage: string, result: Record<string, number>): Promise<void> {
    this.state.stages[stage] = result;
    this.state.current = null;
    await this.saveState();
  }

  /** Saves the modules of the stage in progress (and its optimizer) as last.<stage>.*. */
  async checkpoint(
    stage: string,
    step: number,
    modules: Record<string, Module<never[], unknown>>,
    optimizer: Optimizer<GroupOptions> | null,
  ): Promise<void> {
    for (const [name, module] of Object.entries(modules))
      await saveModule(join(this.out, `last.${stage}.${name}.safetensors`), module, {
        stage,
        step: String(step),
      });
    if (optimizer)
      await saveOptimizer(join(this.out, `last.${stage}.optimizer.safetensors`), optimizer);
    this.state.current = { stage, step, engineRng: mg.getRngState() };
    await this.saveState();
  }

  /** Restores the stage's last checkpoint; returns the step to continue from (0 when there is none). */
  async restore(
    stage: string,
    modules: Record<string, Module<never[], unknown>>,
    optimizer: Optimizer<GroupOptions> | null,
  ): Promise<number> {
    const current = this.state.current;
    if (!current || current.stage !== stage) return 0;
    for (const [name, module] of Object.entries(modules))
      await loadModule(join(this.out, `last.${stage}.${name}.safetensors`), module);
    if (optimizer)
      await loadOptimizer(join(this.out, `last.${stage}.optimizer.safetensors`), optimizer);
    mg.setRngState(current.engineRng);
    return current.step;
  }

  async saveModel(
    name: string,
    module: Module<never[], unknown>,
    metadata: Record<string, string>,
  ): Promise<void> {
    await saveModule(join(this.out, `${name}.safetensors`), module, {
      format: 'metagrad-model',
      ...metadata,
    });
  }

  async loadModel(name: string, module: Module<never[], unknown>): Promise<boolean> {
    const path = join(this.out, `${name}.safetensors`);
    if (!existsSync(path)) return false;
    await loadModule(path, module);
    return true;
  }

  async writeSvg(name: string, svg: string): Promise<void> {
    await writeFile(join(this.out, name), svg);
  }

  async writeResult(result: object): Promise<void> {
    await writeFileAtomic(
      join(this.out, 'result.json'),
      encoder.encode(JSON.stringify(result, null, 2) + '\n'),
    );
  }
}

/** Reads config.json of a run folder for --resume. */
export async function readRunConfig<T>(runDir: string): Promise<T> {
  const path = join(resolve(runDir), 'config.json');
  if (!existsSync(path)) throw new UsageError(`${runDir} is not a run folder: ${path} is missing.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `${path} is not valid JSON (${(error as Error).message}); the run folder is damaged.`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(
      `${path} contains ${JSON.stringify(parsed)} instead of an object of settings; the run folder is damaged, so restore the file or start a new run.`,
    );
  }
  return parsed as T;
}
