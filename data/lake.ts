// Lake et al.'s 20-way within-alphabet one-shot benchmark (Science 2015): the
// 20 runs of all_runs.zip from the Omniglot release. Each run folder runNN has
// training/class01..20.png (one image of each of 20 characters of one
// alphabet), test/item01..20.png (another drawing of each), and
// class_labels.txt, whose lines "runNN/test/itemMM.png runNN/training/classKK.png"
// are the answer key. Images are decoded as the other Omniglot images are.

import { readFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { decodeImage } from './omniglot';

export interface LakeRun {
  /** Folder name, e.g. run01. */
  name: string;
  /** Side of the square images. */
  size: number;
  /** The training images, class01 first, size*size ink values in [0, 1] each; class k has label k. */
  training: Float32Array[];
  /** The test images, item01 first. */
  test: Float32Array[];
  /** For each test image, the label (index into `training`) of its class, from class_labels.txt. */
  answers: number[];
}

const RUN_CLASSES = 20;

function itemName(kind: 'training' | 'test', index: number): string {
  const number = String(index + 1).padStart(2, '0');
  return kind === 'training' ? `class${number}.png` : `item${number}.png`;
}

/** Parses class_labels.txt of `run`, returning the training label of every test item. */
function parseAnswers(run: string, text: string, path: string): number[] {
  const answers = new Array<number>(RUN_CLASSES).fill(-1);
  const lines = text.split(/\r?\n/).filter((line) => line.trim().length > 0);
  for (const line of lines) {
    const match = /^(run\d+)\/test\/item(\d+)\.png\s+(run\d+)\/training\/class(\d+)\.png$/.exec(
      line.trim(),
    );
    if (!match || match[1] !== run || match[3] !== run)
      throw new Error(
        `Lake runs: ${path} has the line ${JSON.stringify(line)}; expected "${run}/test/itemNN.png ${run}/training/classNN.png".`,
      );
    const item = Number(match[2]) - 1;
    const label = Number(match[4]) - 1;
    if (item < 0 || item >= RUN_CLASSES || label < 0 || label >= RUN_CLASSES)
      throw new Error(
        `Lake runs: ${path} names item ${match[2]} or class ${match[4]}, outside 01..${RUN_CLASSES}.`,
      );
    if (answers[item] !== -1)
      throw new Error(`Lake runs: ${path} lists test item ${match[2]} twice.`);
    answers[item] = label;
  }
  const missing = answers.findIndex((label) => label === -1);
  if (missing >= 0)
    throw new Error(
      `Lake runs: ${path} has no answer for ${run}/test/${itemName('test', missing)}.`,
    );
  return answers;
}

/** Loads every run of all_runs.zip at `path`, with images resized to size x size (default 28). */
export async function loadLakeRuns(path: string, size = 28): Promise<LakeRun[]> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(new Uint8Array(await readFile(path)));
  } catch (error) {
    throw new Error(
      `Lake runs: ${path} is not a readable zip file (${(error as Error).message}); download all_runs.zip from the Omniglot release again.`,
    );
  }
  const runNames = [
    ...new Set(
      Object.keys(files)
        .map((name) => /^(run\d+)\//.exec(name)?.[1])
        .filter((name): name is string => name !== undefined),
    ),
  ].sort();
  if (runNames.length === 0)
    throw new Error(`Lake runs: ${path} has no runNN/ folders; it is not all_runs.zip.`);

  return runNames.map((run) => {
    const labelsPath = `${run}/class_labels.txt`;
    const labels = files[labelsPath];
    if (!labels) throw new Error(`Lake runs: ${path} has no ${labelsPath}.`);
    const answers = parseAnswers(run, new TextDecoder().decode(labels), `${path}:${labelsPath}`);
    const read = (kind: 'training' | 'test') =>
      Array.from({ length: RUN_CLASSES }, (_, i) => {
        const name = `${run}/${kind}/${itemName(kind, i)}`;
        const bytes = files[name];
        if (!bytes) throw new Error(`Lake runs: ${path} has no ${name}.`);
        return decodeImage(bytes, size, `${path}:${name}`);
      });
    return { name: run, size, training: read('training'), test: read('test'), answers };
  });
}
