// The published package: build it, pack it, install the tarball into a fresh
// project with npm, and run it there from plain Node and through tsc.
//
// npm resolves the dependencies from its cache where it can (npm ci filled it)
// and from the registry otherwise: a fresh project resolves the tarball's
// dependency ranges anew, so versions the lockfile never pinned may be needed.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');

let workDir = '';
let projectDir = '';

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  await run('npm', ['run', 'build'], { cwd: root });
  workDir = await mkdtemp(join(tmpdir(), 'metagrad-pack-'));
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', workDir], {
    cwd: root,
  });
  const tarball = join(workDir, stdout.trim().split('\n').pop()!);

  projectDir = join(workDir, 'consumer');
  await mkdir(projectDir, { recursive: true });
  await writeFile(
    join(projectDir, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }),
  );
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    cwd: projectDir,
  });
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('package', () => {
  it('ships only the bundle and declarations', async () => {
    const installed = join(projectDir, 'node_modules', 'metagrad');
    const files = (await listFiles(installed)).map((f) => f.slice(installed.length + 1));
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('package.json');
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.wgsl'))).toEqual([]);

    for (const file of files.filter((f) => f.endsWith('.d.ts'))) {
      const text = await readFile(join(installed, file), 'utf8');
      expect(text, `${file} refers to a ?raw module`).not.toMatch(/\?raw/);
    }
  });

  it('runs a second derivative on the GPU from plain Node', async () => {
    // d²/dx² tanh(x) = -2 tanh(x) (1 - tanh(x)²), evaluated through the installed package.
    const script = `
      import('metagrad').then(async (mg) => {
        const x = mg.tensor([-1.5, 0.25, 2], { requiresGrad: true });
        const [d1] = mg.grad(x.tanh().sum(), x, { createGraph: true });
        const [d2] = mg.grad(d1.sum(), x);
        console.log(JSON.stringify({ adapter: mg.adapterDescription(), d2: Array.from(await d2.data()) }));
      });`;
    const { stdout } = await run('node', ['-e', script], { cwd: projectDir });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
      adapter: string;
      d2: number[];
    };

    expect(result.adapter.length, 'adapter description').toBeGreaterThan(0);
    const expected = [-1.5, 0.25, 2].map((v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2));
    expect(result.d2).toHaveLength(3);
    result.d2.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 5));
  });

  it('type-checks a consumer with strict settings', async () => {
    await writeFile(
      join(projectDir, 'check.ts'),
      [
        "import * as mg from 'metagrad';",
        'const x: mg.Tensor = mg.tensor([1, 2], { requiresGrad: true });',
        'export const grads: (mg.Tensor | null)[] = mg.grad(x.mul(x).sum(), x);',
        'export const value: Promise<number> = x.sum().item();',
      ].join('\n'),
    );
    // skipLibCheck is off, so a declaration that imports an unresolved module fails here.
    await writeFile(
      join(projectDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['@webgpu/types'],
        },
        files: ['check.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    // tsc prints its diagnostics on stdout and exits non-zero.
    const { stdout } = await run('node', [tsc, '-p', '.'], { cwd: projectDir }).catch(
      (error: { stdout?: string }) => ({ stdout: error.stdout || String(error) }),
    );
    expect(stdout, 'tsc diagnostics').toBe('');
  });
});
