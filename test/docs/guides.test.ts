// Runs the commands of the guides under docs/: every fenced block whose info
// string is `sh test`, in order, from the repository root, after one
// `npx vite build`, with OMNIGLOT set to the real Omniglot folder. A block of
// a Japanese guide (x.ja.md) runs only where it differs from the blocks of its
// English twin, so the same commands do not run twice.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OMNIGLOT_DIR } from '../data/paths';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const docs = join(root, 'docs');

/** Returns the bodies of the fenced blocks of `markdown` whose info string is exactly `sh test`. */
export function testBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const fence = /^```sh test[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (const match of markdown.matchAll(fence)) blocks.push(match[1]);
  return blocks;
}

const guides = readdirSync(docs)
  .filter((name) => name.endsWith('.md'))
  .sort();
const blocksOf = new Map(
  guides.map((name) => [name, testBlocks(readFileSync(join(docs, name), 'utf8'))]),
);

/** Blocks to run per guide; of a Japanese guide, only those that its English twin lacks. */
const toRun = guides.map((name) => {
  const twin = name.endsWith('.ja.md') ? blocksOf.get(name.replace(/\.ja\.md$/, '.md')) : undefined;
  return { name, blocks: blocksOf.get(name)!.filter((block) => !twin?.includes(block)) };
});

// Run folders the guides write, removed before (a folder left by an earlier
// run would make `train` resume it) and after the test.
const runFolders = [
  ...new Set(
    [...blocksOf.values()].flat().flatMap((block) => block.match(/\bruns\/[\w.-]+/g) ?? []),
  ),
];
const removeRunFolders = () => {
  for (const folder of runFolders) rmSync(join(root, folder), { recursive: true, force: true });
};

beforeAll(async () => {
  removeRunFolders();
  await run('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: root });
}, 300_000);

afterAll(removeRunFolders);

describe('guides', () => {
  it('come in English and Japanese', () => {
    for (const name of guides) {
      const twin = name.endsWith('.ja.md')
        ? name.replace(/\.ja\.md$/, '.md')
        : name.replace(/\.md$/, '.ja.md');
      expect(existsSync(join(docs, twin)), `${name} has no ${twin} beside it`).toBe(true);
    }
  });

  it('have commands to run', () => {
    for (const name of guides.filter((guide) => !guide.endsWith('.ja.md')))
      expect(blocksOf.get(name)!.length, `${name} has no \`sh test\` block`).toBeGreaterThan(0);
  });

  for (const { name, blocks } of toRun) {
    blocks.forEach((block, i) => {
      it(`${name} block ${i + 1}`, async () => {
        try {
          await run('bash', ['-e', '-o', 'pipefail', '-c', block], {
            cwd: root,
            env: { ...process.env, OMNIGLOT: OMNIGLOT_DIR },
            maxBuffer: 64 * 1024 * 1024,
          });
        } catch (error) {
          const failed = error as { code?: number; stdout?: string; stderr?: string };
          expect.fail(
            `${name} block ${i + 1} exited with ${failed.code}:\n${block}\n${(failed.stderr ?? '').slice(-3000)}`,
          );
        }
      }, 180_000);
    });
  }
});
