import { describe, expect, it } from 'vitest';
import { canonicalJson, jsonEqual } from './canonical-json.ts';

describe('jsonEqual', () => {
  it.each([
    [
      'same keys in another order',
      { a: 1, b: { c: [1, { d: 2, e: 3 }] } },
      { b: { c: [1, { e: 3, d: 2 }] }, a: 1 },
      true,
    ],
    ['undefined member and absent member', { a: 1, b: undefined }, { a: 1 }, true],
    ['different array order', { a: [1, 2] }, { a: [2, 1] }, false],
    ['different nested value', { a: { b: 1 } }, { a: { b: '1' } }, false],
    ['extra key', { a: 1 }, { a: 1, b: null }, false],
  ])('%s', (_name, a, b, expected) => {
    expect(jsonEqual(a, b)).toBe(expected);
  });

  it('gives sorted text', () => {
    expect(canonicalJson({ z: 1, a: { y: 2, b: 3 } })).toBe('{"a":{"b":3,"y":2},"z":1}');
  });
});
