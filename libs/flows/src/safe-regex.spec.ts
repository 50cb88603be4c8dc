// Regex safety checks for triggers and matches().
import { describe, expect, it } from 'vitest';
import { unsafeRegexReason } from './safe-regex';

describe('unsafeRegexReason', () => {
  it.each(['^hi$', '^order\\s+(\\d+)$', '(yes|no)', '^[a-z]+@[a-z]+\\.com$', '(?:ab)?c', '^(\\w+)?$', 'a{2,3}'])('accepts %s', (re) => {
    expect(unsafeRegexReason(re)).toBeNull();
  });

  it.each([
    ['(a+)+$', /nested/],
    ['(a*)*b', /nested/],
    ['(x|xx)+y', /nested/],
    ['(\\w+\\s?)*$', /nested/],
    ['((ab)+c)+', /nested/],
    ['(a)\\1', /backreference/],
    ['(?<x>a)\\k<x>', /backreference/],
    ['([', /invalid/],
    ['a*b*c*d*e*f*g*', /unbounded/],
    ['x'.repeat(300), /longer/],
  ])('refuses %s', (re, reason) => {
    expect(unsafeRegexReason(re)).toMatch(reason);
  });
});
