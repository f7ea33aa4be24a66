// Entry of the built `metagrad` executable (dist/cli.js).

import { main } from './main';

const code = await main(process.argv.slice(2));
// Dawn keeps the process alive while a device exists, so exit explicitly.
process.exit(code);
