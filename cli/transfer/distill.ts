// `metagrad transfer distill`: a teacher trained on Fashion-MNIST, a small
// student trained alone, and the same student distilled from the teacher on
// the same budget, with parameter counts and inference time.

import * as mg from '../../engine/index';
import { loadFashionMnist, selectImages } from '../../data/fashion-mnist';
import { BlockNet, type BackboneKind } from '../../algorithms/transfer/backbone';
import { distill, inferenceSeconds } from '../../algorithms/transfer/distill';
import { accuracy } from '../../algorithms/transfer/training';
import type { OptionSpec, ParsedOptions } from './options';
import { supervisedStage } from './finetune';
import { Interrupted, type RunFolder } from './run-folder';

export const DISTILL_OPTIONS: OptionSpec[] = [
  {
    flag: '--kind <kind>',
    key: 'kind',
    description: 'response (softened outputs) or feature (FitNets hint)',
    type: 'choice',
    choices: ['response', 'feature'],
    default: 'response',
  },
  {
    flag: '--student-widths <list>',
    key: 'studentWidths',
    description: 'comma-separated block widths of the student',
    type: 'list',
    default: [32],
    min: 1,
  },
  {
    flag: '--teacher-steps <n>',
    key: 'teacherSteps',
    description: 'Adam steps of the teacher on all training images',
    type: 'integer',
    default: 1000,
    min: 1,
  },
  {
    flag: '--student-images <n>',
    key: 'studentImages',
    description: 'training images of the student (the same for both students)',
    type: 'integer',
    default: 1000,
    min: 2,
  },
  {
    flag: '--epochs <n>',
    key: 'epochs',
    description: 'student epochs over its images',
    type: 'integer',
    default: 20,
    min: 1,
  },
  {
    flag: '--lr <a>',
    key: 'lr',
    description: 'Adam learning rate',
    type: 'number',
    default: 0.003,
  },
  {
    flag: '--temperature <t>',
    key: 'temperature',
    description: 'softmax temperature T of the soft targets',
    type: 'number',
    default: 4,
  },
  {
    flag: '--alpha <a>',
    key: 'alpha',
    description: 'weight of T^2 KL against (1 - alpha) cross-entropy',
    type: 'number',
    default: 0.9,
  },
  {
    flag: '--hint-block <k>',
    key: 'hintBlock',
    description: 'feature: the block whose output the student matches',
    type: 'integer',
    default: 0,
    min: 0,
  },
  {
    flag: '--hint-weight <w>',
    key: 'hintWeight',
    description: 'feature: the weight of the hint loss',
    type: 'number',
    default: 1,
  },
];

export async function runDistill(
  run: RunFolder,
  config: ParsedOptions,
  log: (line: string) => void,
): Promise<object> {
  const data = await loadFashionMnist(config.dataDir as string);
  const kind = config.model as BackboneKind;
  const net = (widths: number[]) =>
    new BlockNet({ kind, imageShape: [1, 28, 28], widths, outFeatures: 10 });
  mg.manualSeed(config.seed as number);
  const teacher = net(config.widths as number[]);
  if (!run.done('teacher')) {
    await supervisedStage(
      run,
      'teacher',
      teacher,
      data.train,
      config.teacherSteps as number,
      config,
      log,
    );
    await run.saveModel('teacher', teacher, { stage: 'teacher' });
    await run.finishStage('teacher', { accuracy: await accuracy(teacher, data.test) });
  } else {
    await run.loadModel('teacher', teacher);
  }
  const studentImages = selectImages(
    data.train,
    Array.from(
      { length: Math.min(config.studentImages as number, data.train.labels.length) },
      (_, i) => i,
    ),
  );
  const students: Record<string, BlockNet> = {};
  for (const stage of ['student-alone', 'student-distilled']) {
    mg.manualSeed((config.seed as number) + 1);
    const student = net(config.studentWidths as number[]);
    students[stage] = student;
    if (run.done(stage)) {
      await run.loadModel(stage, student);
      continue;
    }
    if (run.interrupted) throw new Interrupted(stage);
    await distill(student, stage === 'student-alone' ? null : teacher, studentImages, {
      kind: stage === 'student-alone' ? 'none' : (config.kind as 'response' | 'feature'),
      epochs: config.epochs as number,
      batchSize: config.batchSize as number,
      stepsPerEpoch: Number.MAX_SAFE_INTEGER,
      lr: config.lr as number,
      temperature: config.temperature as number,
      alpha: config.alpha as number,
      hintBlock: config.hintBlock as number,
      hintWeight: config.hintWeight as number,
      seed: config.seed as number,
      onEpoch: async (epoch, loss) => {
        await run.metrics({ stage, epoch: epoch + 1, train_loss: loss });
      },
    });
    const result = { accuracy: await accuracy(student, data.test) };
    log(`${stage}: test accuracy ${(result.accuracy * 100).toFixed(2)}%`);
    await run.saveModel(stage, student, { stage });
    await run.finishStage(stage, result);
  }
  await run.saveModel('model', students['student-distilled'], { stage: 'student-distilled' });
  const describe = async (stage: string, model: BlockNet) => ({
    accuracy: run.done(stage)!.accuracy,
    parameters: model.parameterCount(),
    inference_ms_per_500: (await inferenceSeconds(model, data.test)) * 1000,
  });
  return {
    command: 'distill',
    kind: config.kind,
    teacher: await describe('teacher', teacher),
    student_alone: await describe('student-alone', students['student-alone']),
    student_distilled: await describe('student-distilled', students['student-distilled']),
  };
}
