// The command that started this process, for hints such as "continue with `... --resume DIR`".

import { basename, isAbsolute, relative } from 'node:path';

/**
 * Returns `metagrad` when the process runs as the installed executable, and
 * otherwise `node SCRIPT` with the script path that process.argv holds, relative
 * to the working folder when it lies inside it (for example `node dist/cli.js`).
 */
export function commandName(): string {
  const script = process.argv[1];
  if (!script || basename(script) === 'metagrad') return 'metagrad';
  const inside = relative(process.cwd(), script);
  const path = inside && !inside.startsWith('..') && !isAbsolute(inside) ? inside : script;
  return `node ${path}`;
}
