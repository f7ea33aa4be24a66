import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mg from '../../../index';
import type { Task } from '../../../algorithms/meta/functional';
import {
  MatchingNetLearner,
  MetricLearner,
  ProtoNetLearner,
  relationModule,
  RelationNetLearner,
  SiameseLearner,
} from '../../../algorithms/metric/index';
import { ReLU } from '../../../engine/nn/activation';
import { Flatten, Sequential } from '../../../engine/nn/containers';
import { Conv2d } from '../../../engine/nn/conv';
import { Linear } from '../../../engine/nn/linear';
import { FeatureModel } from '../../../engine/nn/models';
import { expectClose } from '../../helpers';

// Float64 PyTorch references made by test/fixtures/make_metric.py: one 3-way
// 2-shot episode with tiny embeddings, the loss, the query scores and the
// gradient of every parameter.

interface Case {
  params: Record<string, number[]>;
  shapes: Record<string, number[]>;
  loss: number;
  scores: number[];
  grads: Record<string, number[]>;
}

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/metric.json', import.meta.url), 'utf8'),
) as Record<string, Case> & {
  ways: number;
  support_x: number[];
  support_y: number[];
  query_x: number[];
  query_y: number[];
};

function episode(): Task {
  return {
    supportX: mg.tensor(fixture.support_x, { shape: [6, 1, 4, 4] }),
    supportY: mg.tensor(Int32Array.from(fixture.support_y), { shape: [6] }),
    queryX: mg.tensor(fixture.query_x, { shape: [6, 1, 4, 4] }),
    queryY: mg.tensor(Int32Array.from(fixture.query_y), { shape: [6] }),
  };
}

/** flatten -> Linear(16, 6): parameters features.1.weight and features.1.bias. */
function linearEmbedding(): FeatureModel {
  return new FeatureModel(
    new Sequential(new Flatten(), new Linear(16, 6)),
    6,
    { featuresOnly: true },
    6,
  );
}

/** Conv2d(1, 4, 3, padding 1) -> ReLU, giving 4x4x4 feature maps. */
function convEmbedding(): FeatureModel {
  const features = new Sequential(new Conv2d(1, 4, 3, { padding: 1 }), new ReLU());
  return new FeatureModel(features, 64, { featuresOnly: true }, 64);
}

/** Loads the fixture's parameters (other state keeps its initial values) and compares loss, scores and gradients. */
async function check(learner: MetricLearner, expected: Case): Promise<void> {
  const state = new Map(learner.stateTensors());
  for (const [name, values] of Object.entries(expected.params))
    state.set(name, mg.tensor(values, { shape: expected.shapes[name] }));
  learner.loadStateTensors(state);

  const own = learner.stateTensors();
  const names = Object.keys(expected.grads);
  const { loss, scores } = learner.episode(episode(), fixture.ways);
  expect(await loss.item()).toBeCloseTo(expected.loss, 5);
  expectClose(await scores.data(), expected.scores, { atol: 1e-5, rtol: 1e-4 });

  const grads = mg.grad(
    loss,
    names.map((name) => own.get(name)!),
  );
  for (const [i, name] of names.entries()) {
    expect(grads[i], `gradient of ${name}`).toBeTruthy();
    expectClose(await grads[i]!.data(), expected.grads[name], { atol: 2e-5, rtol: 2e-3 });
  }
}

describe('metric losses and gradients against PyTorch float64', () => {
  it('protonet, squared Euclidean', async () => {
    const learner = new ProtoNetLearner(linearEmbedding(), { lr: 1e-3, distance: 'sqeuclidean' });
    await check(learner, fixture.protonet_sqeuclidean);
  });

  it('protonet, cosine', async () => {
    const learner = new ProtoNetLearner(linearEmbedding(), { lr: 1e-3, distance: 'cosine' });
    await check(learner, fixture.protonet_cosine);
  });

  it('matching network', async () => {
    const learner = new MatchingNetLearner(linearEmbedding(), {
      lr: 1e-3,
      fce: false,
      processingSteps: 1,
    });
    await check(learner, fixture.matching);
  });

  it('matching network with full context embeddings', async () => {
    const learner = new MatchingNetLearner(linearEmbedding(), {
      lr: 1e-3,
      fce: true,
      processingSteps: 2,
    });
    await check(learner, fixture.matching_fce);
  });

  it('relation network', async () => {
    const relation = relationModule({ channels: 4, size: 4, hidden: 3 });
    const learner = new RelationNetLearner(convEmbedding(), relation, { lr: 1e-3 });
    await check(learner, fixture.relation);
  });

  it('siamese network, binary cross-entropy', async () => {
    const learner = new SiameseLearner(linearEmbedding(), { lr: 1e-3, loss: 'bce', margin: 1 });
    await check(learner, fixture.siamese_bce);
  });

  it('siamese network, contrastive loss', async () => {
    const learner = new SiameseLearner(linearEmbedding(), {
      lr: 1e-3,
      loss: 'contrastive',
      margin: 1,
    });
    await check(learner, fixture.siamese_contrastive);
  });
});
