// Where the tests find real data: the Omniglot release in ../shared/data beside
// the repository (as CI lays it out), unless METAGRAD_TEST_OMNIGLOT points elsewhere.

import { resolve } from 'node:path';

export const OMNIGLOT_DIR =
  process.env.METAGRAD_TEST_OMNIGLOT ?? resolve(process.cwd(), '..', 'shared', 'data', 'omniglot');
