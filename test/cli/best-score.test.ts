import { describe, expect, it } from 'vitest';
import { better } from '../../cli/train';

// The rule that picks the best checkpoint by validation score.
describe('better', () => {
  it('takes the first score', () => {
    expect(better('regression', 1.5, undefined)).toBe(true);
    expect(better('classification', 0.2, undefined)).toBe(true);
  });

  it('compares by the task kind', () => {
    expect(better('regression', 0.5, 1)).toBe(true);
    expect(better('regression', 2, 1)).toBe(false);
    expect(better('classification', 0.6, 0.5)).toBe(true);
    expect(better('classification', 0.4, 0.5)).toBe(false);
  });

  it('keeps a finite best over NaN', () => {
    expect(better('regression', NaN, 1)).toBe(false);
    expect(better('classification', NaN, 0.5)).toBe(false);
  });

  it('replaces a NaN or null best', () => {
    expect(better('regression', 3, NaN)).toBe(true);
    expect(better('regression', 3, null)).toBe(true);
    expect(better('classification', 0.1, null)).toBe(true);
  });
});
