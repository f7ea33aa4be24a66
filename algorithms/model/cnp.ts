// Conditional neural process (Garnelo et al. 2018) for 1-D regression such as
// the sinusoid tasks. An encoder MLP maps each support pair (x, y) to a vector,
// the mean of those vectors summarizes the task, and a decoder MLP maps the
// summary and a query x to a Gaussian over y. There is no gradient step at test
// time: one forward pass answers every query of a task.

import * as mg from '../../engine/index';
import type { Tensor } from '../../engine/index';
import { Linear, Module, ReLU, Sequential, type Layer } from '../../engine/nn/index';
import { Adam } from '../../engine/optim/index';
import type { ParamMap, Task } from '../meta/functional';
import type { EvalResult, MetaLearner, StepResult } from '../meta/learner';
import { copyStateTensors } from './state';

export interface CnpOptions {
  /** Width of the hidden layers of the encoder and the decoder. */
  hidden: number;
  /** Width of the task representation, the mean of the encoded support pairs. */
  representationSize: number;
  /** Adam learning rate. */
  lr: number;
}

/** The predicted Gaussian for each query point: mean and standard deviation, each [batch, queries, 1]. */
export interface CnpPrediction {
  mean: Tensor;
  std: Tensor;
}

// The decoder's standard deviation is 0.1 + 0.9 softplus(raw). The floor of 0.1,
// a common minimum in CNP implementations, keeps the likelihood from rewarding a
// collapse onto single training points.
const STD_FLOOR = 0.1;

/** softplus(x) = log(1 + e^x), written as relu(x) + log(1 + e^-|x|) so large |x| cannot overflow. */
export function softplus(x: Tensor): Tensor {
  return mg.add(mg.relu(x), mg.log(mg.add(mg.exp(mg.neg(mg.abs(x))), 1)));
}

function mlp(sizes: number[]): Sequential {
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i], sizes[i + 1]));
    if (i + 2 < sizes.length) layers.push(new ReLU());
  }
  return new Sequential(...layers);
}

export class ConditionalNeuralProcess extends Module<[Tensor, Tensor, Tensor], CnpPrediction> {
  readonly encoder: Sequential;
  readonly decoder: Sequential;

  constructor(options: Pick<CnpOptions, 'hidden' | 'representationSize'>) {
    super();
    const { hidden, representationSize } = options;
    this.encoder = this.registerModule('encoder', mlp([2, hidden, hidden, representationSize]));
    this.decoder = this.registerModule('decoder', mlp([representationSize + 1, hidden, hidden, 2]));
  }

  /**
   * Predicts y at the query inputs. contextX and contextY are [batch, K, 1],
   * targetX is [batch, Q, 1]; mean and std come back as [batch, Q, 1].
   */
  forward(contextX: Tensor, contextY: Tensor, targetX: Tensor): CnpPrediction {
    const [batch, targets] = targetX.shape;
    const encoded = this.encoder.forward(mg.concat([contextX, contextY], -1));
    // The mean over the context makes the representation independent of the order
    // and the number of the support points.
    const representation = mg.mean(encoded, 1, true);
    const tiled = mg.expand(representation, [batch, targets, representation.shape[2]]);
    const out = this.decoder.forward(mg.concat([tiled, targetX], -1));
    const mean = mg.narrow(out, -1, 0, 1);
    const std = mg.add(mg.mul(softplus(mg.narrow(out, -1, 1, 1)), 1 - STD_FLOOR), STD_FLOOR);
    return { mean, std };
  }
}

/** Mean Gaussian negative log-likelihood of y: log σ + (y - μ)² / (2σ²) + log(2π) / 2, averaged over points. */
export function gaussianNll(prediction: CnpPrediction, y: Tensor): Tensor {
  const { mean, std } = prediction;
  const z = mg.div(mg.sub(y, mean), std);
  const perPoint = mg.add(
    mg.add(mg.log(std), mg.mul(mg.mul(z, z), 0.5)),
    0.5 * Math.log(2 * Math.PI),
  );
  return mg.mean(perPoint);
}

/** Stacks the tasks' [n, 1] tensors into [tasks, n, 1]. */
function stackField(tasks: Task[], field: keyof Task): Tensor {
  return mg.stack(tasks.map((task) => task[field]));
}

export class CnpLearner implements MetaLearner {
  readonly name = 'cnp';
  readonly optimizer: Adam;
  readonly model: ConditionalNeuralProcess;

  constructor(options: CnpOptions) {
    this.model = new ConditionalNeuralProcess(options);
    this.optimizer = new Adam(this.model.parameters(), { lr: options.lr });
  }

  stateTensors(): ParamMap {
    return this.model.stateDict();
  }

  loadStateTensors(tensors: ParamMap): void {
    copyStateTensors(this.model, tensors, 'cnp checkpoint');
  }

  /** Takes one Adam step on the negative log-likelihood of every query point of the meta-batch, given its support set. */
  async trainStep(tasks: Task[]): Promise<StepResult> {
    const nll = mg.tidy(() => {
      const prediction = this.model.forward(
        stackField(tasks, 'supportX'),
        stackField(tasks, 'supportY'),
        stackField(tasks, 'queryX'),
      );
      const loss = gaussianNll(prediction, stackField(tasks, 'queryY'));
      loss.backward();
      this.optimizer.step();
      this.optimizer.zeroGrad();
      return loss.detach();
    });
    await mg.yieldEventLoop();
    const value = await nll.item();
    nll.dispose();
    return { loss: value };
  }

  /** Returns the predicted mean and standard deviation at the query points of one task, each [queries, 1]. */
  predict(task: Task): CnpPrediction {
    return mg.tidy(() =>
      mg.noGrad(() => {
        const { mean, std } = this.model.forward(
          mg.unsqueeze(task.supportX, 0),
          mg.unsqueeze(task.supportY, 0),
          mg.unsqueeze(task.queryX, 0),
        );
        return { mean: mg.squeeze(mean, 0), std: mg.squeeze(std, 0) };
      }),
    );
  }

  /**
   * Scores one task with a single forward pass (the CNP takes no inner steps, so
   * `steps` is ignored). `loss` is the query MSE of the predicted mean, comparable
   * with MAML's; metrics.log_likelihood is the mean Gaussian log-likelihood per query point.
   */
  async evaluate(task: Task, _steps?: number, keepPrediction = false): Promise<EvalResult> {
    const prediction = this.predict(task);
    const [mse, nll] = mg.tidy(() =>
      mg.noGrad(() => [
        mg.mseLoss(prediction.mean, task.queryY),
        gaussianNll(prediction, task.queryY),
      ]),
    );
    const result: EvalResult = {
      loss: await mse.item(),
      metrics: { log_likelihood: -(await nll.item()) },
    };
    mse.dispose();
    nll.dispose();
    prediction.std.dispose();
    if (keepPrediction) result.prediction = prediction.mean;
    else prediction.mean.dispose();
    return result;
  }
}
