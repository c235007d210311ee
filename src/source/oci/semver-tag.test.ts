import { describe, expect, it } from 'vitest';
import { HelmChartLayerMediaType, SemverTagError, highestSemverTag } from './semver-tag.ts';

const tags = ['latest', '1.0.0', 'v1.2.0', '1.10.0', '2.0.0', '1.11.0-rc.1', 'main-abc'];

describe('highestSemverTag', () => {
  it.each([
    ['>=1.0.0 <2.0.0', {}, '1.10.0'],
    ['*', {}, '2.0.0'],
    ['1.x', { filter: '^v' }, 'v1.2.0'],
    ['>=3', {}, undefined],
    ['>=1.0.0', { filter: 'rc' }, undefined],
  ])('%s %j → %s', (range, options, expected) =>
    expect(highestSemverTag(range, tags, options)).toBe(expected),
  );

  it("reads Helm chart tags' _ as +", () => {
    expect(
      highestSemverTag('>=1.0.0', ['1.0.0_build.1', '0.9.0'], { layerMediaType: HelmChartLayerMediaType }),
    ).toBe('1.0.0_build.1');
  });

  it.each([
    ['not a range', {}, "semver 'not a range' parse error"],
    ['*', { filter: '(' }, "semverFilter '(' is not a valid regular expression"],
  ])('refuses %s', (range, options, message) => {
    expect(() => highestSemverTag(range, tags, options)).toThrow(SemverTagError);
    expect(() => highestSemverTag(range, tags, options)).toThrow(message);
  });
});
