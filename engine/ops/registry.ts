// The rule table of all primitives, checked for completeness by the compiler:
// RuleTable<Primitive> requires a rule for every key of Primitives. It is built on
// first use because the rule files import the tape, which imports this file.

import type { RuleTable } from '../autograd';
import type { Primitive } from './primitives';
import { elementwiseRules } from './elementwise';
import { reduceRules } from './reduce';
import { shapeRules } from './shape';
import { matmulRules } from './matmul';
import { indexingRules } from './indexing';
import { softmaxRules } from './softmax';
import { distanceRules } from './distance';
import { convRules } from './conv';
import { poolRules } from './pool';
import { reversalRules } from './reversal';
import { normRules } from './norm';

const families = {
  elementwiseRules,
  reduceRules,
  shapeRules,
  matmulRules,
  indexingRules,
  softmaxRules,
  distanceRules,
  convRules,
  poolRules,
  reversalRules,
  normRules,
};

let table: RuleTable<Primitive> | null = null;

/**
 * Merges the families' rule tables. The spread below is what the compiler checks
 * for completeness; the loop rejects a primitive that two families both define,
 * which a spread would silently resolve in favour of the later one.
 */
export function ruleTable(): RuleTable<Primitive> {
  if (table) return table;
  const owner = new Map<string, string>();
  for (const [family, rules] of Object.entries(families)) {
    for (const op of Object.keys(rules)) {
      const previous = owner.get(op);
      if (previous)
        throw new Error(`Primitive ${op} has rules in both ${previous} and ${family}; keep one.`);
      owner.set(op, family);
    }
  }
  table = {
    ...elementwiseRules,
    ...reduceRules,
    ...shapeRules,
    ...matmulRules,
    ...indexingRules,
    ...softmaxRules,
    ...distanceRules,
    ...convRules,
    ...poolRules,
    ...reversalRules,
    ...normRules,
  };
  return table;
}
