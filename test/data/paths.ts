// Where the tests find real data: the Omniglot release in shared/data/omniglot in
// the nearest ancestor folder that has one (CI lays shared/ beside the checkout),
// unless METAGRAD_TEST_OMNIGLOT points elsewhere.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

function findShared(): string {
  let folder = resolve(process.cwd());
  for (;;) {
    const candidate = join(folder, 'shared', 'data', 'omniglot');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(folder);
    if (parent === folder) return resolve(process.cwd(), '..', 'shared', 'data', 'omniglot');
    folder = parent;
  }
}

export const OMNIGLOT_DIR = process.env.METAGRAD_TEST_OMNIGLOT ?? findShared();
