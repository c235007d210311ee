import { describe, expect, it } from 'vitest';
import { HelmVersionConstraint, compareChartVersions } from './version-constraint.ts';

// Helm's (Masterminds') constraint semantics where they differ from plain node-semver.
describe('HelmVersionConstraint', () => {
  it.each([
    ['*', '1.2.3', true],
    ['*', '2.0.0-rc.1', false],
    ['>=1.0.0, <2.0.0', '1.9.0', true],
    ['>=1.0.0, <2.0.0', '2.0.0', false],
    ['>= 1.0.0 < 2.0.0', '1.0.0', true],
    ['~1.2', '1.2.9', true],
    ['~1.2', '1.3.0', false],
    ['^1.2.0', '1.9.0', true],
    ['1.2.x || 2.x', '2.4.0', true],
    ['1.2.x || 2.x', '1.3.0', false],
    ['>=1.0.0-0', '1.1.0-beta.1', true],
    ['>0.0.0-0', '3.0.0-alpha', true],
    ['>=1.0.0', '1.1.0-beta.1', false],
    ['1.x', 'v1.4.0', true],
    ['1.x', '1.4', true],
  ])('%s matches %s: %s', (constraint, version, expected) => {
    expect(HelmVersionConstraint.parse(constraint).check(version)).toBe(expected);
  });

  it('refuses a malformed constraint by name', () => {
    expect(() => HelmVersionConstraint.parse('>=> 1')).toThrow("invalid version constraint '>=> 1'");
  });

  it('orders versions by precedence, build metadata ignored', () => {
    expect(['1.0.0', '1.10.0', '1.2.0', '1.2.0-rc.1'].sort(compareChartVersions)).toEqual([
      '1.0.0',
      '1.2.0-rc.1',
      '1.2.0',
      '1.10.0',
    ]);
    expect(compareChartVersions('1.0.0+abc', '1.0.0+def')).toBe(0);
  });
});
