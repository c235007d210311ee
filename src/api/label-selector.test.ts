import { describe, expect, it } from 'vitest';
import { LabelSelectorError, matchesLabelSelector, parseLabelSelector } from './label-selector.ts';

const shard = 'sharding.fluxcd.io/key';

describe('label selectors (Flux sharding)', () => {
  it.each([
    ['the empty selector', '', {}, true],
    ['a shard', `${shard} in (shard1)`, { [shard]: 'shard1' }, true],
    ['another shard', `${shard} in (shard1)`, { [shard]: 'shard2' }, false],
    [
      'the main instance skips sharded objects',
      `${shard} notin (shard1, shard2)`,
      { [shard]: 'shard2' },
      false,
    ],
    ['the main instance keeps unsharded objects', `${shard} notin (shard1, shard2)`, {}, true],
    ['equality', `${shard}=shard1`, { [shard]: 'shard1' }, true],
    ['double equality', `${shard}==shard1`, { [shard]: 'shard2' }, false],
    ['inequality matches a missing label', `${shard}!=shard1`, {}, true],
    ['exists', shard, {}, false],
    ['does not exist', `!${shard}`, {}, true],
    ['every requirement must hold', `${shard} in (a),team=web`, { [shard]: 'a', team: 'db' }, false],
  ])('%s', (_, selector, labels, matches) => {
    expect(matchesLabelSelector(parseLabelSelector(selector), labels)).toBe(matches);
  });

  it.each([['key in (a'], ['bad key!/x=1'], ['k=in valid']])('refuses %s, quoting it', (selector) => {
    expect(() => parseLabelSelector(selector)).toThrow(LabelSelectorError);
  });
});
