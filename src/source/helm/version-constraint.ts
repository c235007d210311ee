import semver from 'semver';

/**
 * Helm's version constraints (Masterminds/semver) on top of node-semver. The differences that matter:
 * Masterminds accepts a leading `v` and partial versions (`1.2`) as versions, separates AND-ed comparisons
 * with commas or spaces, and lets a constraint without a pre-release match only releases (as node-semver).
 */
export class HelmVersionConstraint {
  private constructor(private readonly range: semver.Range) {}

  /** Parses a constraint (`*`, `~1.2`, `>=1.0.0, <2.0.0`, `1.2.x || 2.x`); throws on a malformed one. */
  static parse(constraint: string): HelmVersionConstraint {
    const normalized = constraint
      .split('||')
      .map((part) => part.replace(/,/g, ' ').trim())
      .join(' || ');
    try {
      return new HelmVersionConstraint(new semver.Range(normalized, { loose: true }));
    } catch {
      throw new TypeError(`invalid version constraint '${constraint}'`);
    }
  }

  /** A chart version as Masterminds reads it (coerced from `v1.2` or `1.2`), or undefined when it is not one. */
  static parseVersion(version: string): semver.SemVer | undefined {
    const strict = semver.parse(version, { loose: true });
    if (strict) return strict;
    if (!/^v?\d+(\.\d+)?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(version)) return undefined;
    return semver.coerce(version, { includePrerelease: true }) ?? undefined;
  }

  check(version: string): boolean {
    const parsed = HelmVersionConstraint.parseVersion(version);
    return parsed !== undefined && this.range.test(parsed);
  }
}

/** Orders two chart versions by semver precedence (build metadata ignored); unparsable versions sort lowest. */
export function compareChartVersions(a: string, b: string): number {
  const va = HelmVersionConstraint.parseVersion(a);
  const vb = HelmVersionConstraint.parseVersion(b);
  if (!va || !vb) return va ? 1 : vb ? -1 : 0;
  return semver.compare(va, vb);
}
