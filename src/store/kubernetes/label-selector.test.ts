import { describe, expect, it } from 'vitest';
import { LabelSelector, LabelSelectorError } from './label-selector.ts';

const shard = (key?: string): Record<string, string> =>
  key === undefined ? {} : { 'sharding.fluxcd.io/key': key };

describe('LabelSelector', () => {
  it.each([
    ['sharding.fluxcd.io/key in (shard1)', shard('shard1'), true],
    ['sharding.fluxcd.io/key in (shard1)', shard('shard2'), false],
    ['sharding.fluxcd.io/key in (shard1)', shard(), false],
    ['sharding.fluxcd.io/key notin (shard1, shard2)', shard(), true],
    ['sharding.fluxcd.io/key notin (shard1, shard2)', shard('shard2'), false],
    ['sharding.fluxcd.io/key notin (shard1, shard2)', shard('shard3'), true],
    ['!sharding.fluxcd.io/key', shard(), true],
    ['!sharding.fluxcd.io/key', shard('shard1'), false],
    ['sharding.fluxcd.io/key', shard('x'), true],
    ['tier=web', { tier: 'web' }, true],
    ['tier==web', { tier: 'db' }, false],
    ['tier!=web', {}, true],
    ['tier!=web', { tier: 'web' }, false],
    ['tier=web, team in (a,b)', { tier: 'web', team: 'b' }, true],
    ['tier=web,team in (a,b)', { tier: 'web', team: 'c' }, false],
    ['', { anything: 'x' }, true],
  ])('%s selects %j: %s', (selector, labels, expected) => {
    expect(new LabelSelector(selector).matches(labels)).toBe(expected);
  });

  it('refuses what it cannot parse, naming the part', () => {
    expect(() => new LabelSelector('tier=web,team in a')).toThrow(LabelSelectorError);
    expect(() => new LabelSelector('tier=web,team in a')).toThrow(/'team in a'/);
  });
});
