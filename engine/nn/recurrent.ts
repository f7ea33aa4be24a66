// LSTMCell as torch.nn.LSTMCell: gates = x W_ih^T + b_ih + h W_hh^T + b_hh,
// split in PyTorch's order (input, forget, cell, output):
//   c' = sigmoid(f) c + sigmoid(i) tanh(g),  h' = sigmoid(o) tanh(c').
// Built from matmulT, narrow, sigmoid, tanh and elementwise ops, so it differentiates
// to any order (Matching Networks' full context embeddings backpropagate through it).

import { zeros } from '../ops/creation';
import { add, mul, sigmoid, tanh } from '../ops/elementwise';
import { matmulT } from '../ops/matmul';
import { narrow } from '../ops/indexing';
import { formatShape } from '../shape';
import type { Tensor } from '../tensor';
import { checkPositiveInt, uniformFanIn } from './init';
import { Module } from './module';

export interface LSTMCellOptions {
  /** Learn b_ih and b_hh (default true). */
  bias?: boolean;
}

/** Hidden and cell state, each [batch, hiddenSize]. */
export type LSTMState = [h: Tensor, c: Tensor];

export class LSTMCell extends Module<[Tensor, LSTMState?], LSTMState> {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly hasBias: boolean;

  constructor(inputSize: number, hiddenSize: number, options: LSTMCellOptions = {}) {
    super();
    checkPositiveInt('LSTMCell', 'inputSize', inputSize);
    checkPositiveInt('LSTMCell', 'hiddenSize', hiddenSize);
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.hasBias = options.bias ?? true;

    // PyTorch draws every LSTM weight and bias from U(-1/sqrt(H), 1/sqrt(H)).
    const gates = 4 * hiddenSize;
    this.registerParameter('weight_ih', uniformFanIn([gates, inputSize], hiddenSize));
    this.registerParameter('weight_hh', uniformFanIn([gates, hiddenSize], hiddenSize));
    if (this.hasBias) {
      this.registerParameter('bias_ih', uniformFanIn([gates], hiddenSize));
      this.registerParameter('bias_hh', uniformFanIn([gates], hiddenSize));
    }
  }

  /** Returns [h', c'] for input x [batch, inputSize]; the state defaults to zeros. */
  forward(x: Tensor, state?: LSTMState): LSTMState {
    const hidden = this.hiddenSize;
    if (x.ndim !== 2 || x.shape[1] !== this.inputSize)
      throw new Error(
        `LSTMCell: expected input of shape [batch, ${this.inputSize}], got ${formatShape(x.shape)}.`,
      );
    const batch = x.shape[0];
    const [h, c] = state ?? [zeros([batch, hidden]), zeros([batch, hidden])];
    for (const [name, t] of [
      ['h', h],
      ['c', c],
    ] as const) {
      if (t.ndim !== 2 || t.shape[0] !== batch || t.shape[1] !== hidden)
        throw new Error(
          `LSTMCell: state ${name} has shape ${formatShape(t.shape)}, expected [${batch}, ${hidden}].`,
        );
    }

    let gates = add(
      matmulT(x, this.param('weight_ih'), false, true),
      matmulT(h, this.param('weight_hh'), false, true),
    );
    if (this.hasBias) gates = add(gates, add(this.param('bias_ih'), this.param('bias_hh')));

    // PyTorch stacks the gates along axis 1 in the order i, f, g, o.
    const gate = (k: number): Tensor => narrow(gates, 1, k * hidden, hidden);
    const inputGate = sigmoid(gate(0));
    const forgetGate = sigmoid(gate(1));
    const cellGate = tanh(gate(2));
    const outputGate = sigmoid(gate(3));

    const cNext = add(mul(forgetGate, c), mul(inputGate, cellGate));
    const hNext = mul(outputGate, tanh(cNext));
    return [hNext, cNext];
  }
}
