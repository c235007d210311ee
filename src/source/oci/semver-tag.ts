import semver from 'semver';

/** Helm's chart layer: its OCI tags write a version's `+` as `_` (a tag may not hold `+`). */
export const HelmChartLayerMediaType = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';

/** The semver range or the tag filter is not valid; the message says which. */
export class SemverTagError extends Error {
  override readonly name = 'SemverTagError';
}

/**
 * The tag with the highest version in `range` among `tags`, as Flux's OCIRepository picks it: tags that do
 * not match `filter` (a regular expression, when given) or are not versions (`v` prefix allowed) are ignored;
 * for Helm chart layers `_` in a tag stands for `+`. Undefined when no tag is in range.
 */
export function highestSemverTag(
  range: string,
  tags: Iterable<string>,
  options: { filter?: string; layerMediaType?: string } = {},
): string | undefined {
  if (semver.validRange(range) === null)
    throw new SemverTagError(`semver '${range}' parse error: invalid range`);
  let filter: RegExp | undefined;
  if (options.filter) {
    try {
      filter = new RegExp(options.filter);
    } catch (error) {
      throw new SemverTagError(
        `semverFilter '${options.filter}' is not a valid regular expression: ${String(error)}`,
      );
    }
  }
  const helm = options.layerMediaType === HelmChartLayerMediaType;
  let best: { tag: string; version: string } | undefined;
  for (const tag of tags) {
    if (filter && !filter.test(tag)) continue;
    const version = semver.valid(helm ? tag.replaceAll('_', '+') : tag);
    if (version === null || !semver.satisfies(version, range)) continue;
    if (!best || semver.gt(version, best.version)) best = { tag, version };
  }
  return best?.tag;
}
