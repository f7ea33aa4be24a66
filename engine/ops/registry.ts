// The rule table of all primitives, checked for completeness by the compiler:
// RuleTable<Primitive> requires a rule for every key of Primitives. It is built on
// first use because the rule files import the tape, which imports this file.

import type { RuleTable } from '../autograd';
import type { Primitive } from './primitives';
import { elementwiseRules } from './elementwise';
import { reduceRules } from './reduce';
import { shapeRules } from './shape';
import { matmulRules } from './matmul';
// ops-index family
import { indexingRules } from './indexing';
// losses-distance family
import { softmaxRules } from './softmax';
import { distanceRules } from './distance';
// conv-pool family
import { convRules } from './conv';
import { poolRules } from './pool';

let table: RuleTable<Primitive> | null = null;

export function ruleTable(): RuleTable<Primitive> {
  table ??= {
    ...elementwiseRules,
    ...reduceRules,
    ...shapeRules,
    ...matmulRules,
    // ops-index family
    ...indexingRules,
    // losses-distance family
    ...softmaxRules,
    ...distanceRules,
    // conv-pool family
    ...convRules,
    ...poolRules,
  };
  return table;
}
